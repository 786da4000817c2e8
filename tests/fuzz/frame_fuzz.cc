// libFuzzer target: DecodeFrame (every ZeroMQ message the broker and clients receive), then
// DecodeHeader on the header of a published or delivered envelope.
#include <variant>

#include "schema/codec.h"
#include "tests/fuzz/fuzz_roundtrip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  auto frame =
      fuzz::CheckRoundTrip<schema::Frame>(data, size, schema::DecodeFrame, schema::EncodeFrame);
  if (!frame) return 0;
  const schema::Envelope* envelope = nullptr;
  if (auto* publish = std::get_if<schema::Publish>(&*frame)) envelope = &publish->envelope;
  if (auto* deliver = std::get_if<schema::Deliver>(&*frame)) envelope = &deliver->envelope;
  if (envelope != nullptr && !envelope->header.empty()) {
    (void)fuzz::CheckRoundTrip<schema::Header>(envelope->header.data(), envelope->header.size(),
                                               schema::DecodeHeader, schema::EncodeHeader);
  }
  return 0;
}
