// libFuzzer target: DecodeEnvelope, then DecodeHeader on the header bytes it carries.
#include "schema/codec.h"
#include "tests/fuzz/fuzz_roundtrip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  auto envelope = fuzz::CheckRoundTrip<schema::Envelope>(data, size, schema::DecodeEnvelope,
                                                         schema::EncodeEnvelope);
  if (envelope && !envelope->header.empty()) {
    (void)fuzz::CheckRoundTrip<schema::Header>(envelope->header.data(), envelope->header.size(),
                                               schema::DecodeHeader, schema::EncodeHeader);
  }
  return 0;
}
