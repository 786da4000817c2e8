// libFuzzer target: DecodeHeader (the clear, signed header every broker decodes first).
#include "schema/codec.h"
#include "tests/fuzz/fuzz_roundtrip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  auto header =
      fuzz::CheckRoundTrip<schema::Header>(data, size, schema::DecodeHeader, schema::EncodeHeader);
  if (header) {
    base::Status s = schema::ValidateHeader(*header);
    if (!s && s.error().code != "malformed_header") fuzz::Die("ValidateHeader error code");
  }
  return 0;
}
