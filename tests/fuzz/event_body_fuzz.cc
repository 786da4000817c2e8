// libFuzzer target: DecodeEventBody (the plaintext a recipient gets after opening an envelope).
#include "schema/codec.h"
#include "tests/fuzz/fuzz_roundtrip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  (void)fuzz::CheckRoundTrip<schema::EventBody>(data, size, schema::DecodeEventBody,
                                                schema::EncodeEventBody);
  return 0;
}
