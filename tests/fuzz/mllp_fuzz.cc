// libFuzzer target: the hospital adapter's MLLP framer (adapters/hospital/mllp.h). The first byte
// picks where the stream is cut in two reads; the frames decoded must not depend on the cut, hold
// no framing byte, and each re-framed payload must decode to itself.
#include <cstdlib>
#include <string>
#include <vector>

#include "adapters/hospital/mllp.h"

namespace {

std::vector<std::string> Decode(std::string_view stream, size_t cut, size_t max) {
  relais::hospital::MllpDecoder d(max);
  std::vector<relais::base::Result<std::string>> out;
  d.Feed(stream.substr(0, cut), out);
  d.Feed(stream.substr(cut), out);
  std::vector<std::string> flat;
  for (auto& r : out) flat.push_back(r ? "F" + *r : "E" + r.error().code);
  return flat;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t max = 16 + data[0] * 4;
  std::string_view stream(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t cut = stream.empty() ? 0 : data[0] % (stream.size() + 1);
  auto whole = Decode(stream, stream.size(), max);
  if (Decode(stream, cut, max) != whole) std::abort();
  for (const auto& f : whole) {
    if (f[0] != 'F') continue;
    std::string payload = f.substr(1);
    if (payload.find('\x0b') != std::string::npos || payload.find('\x1c') != std::string::npos)
      std::abort();
    if (payload.size() > max) std::abort();
    auto again = Decode(relais::hospital::MllpFrame(payload), 0, max);
    if (again.size() != 1 || again[0] != f) std::abort();
  }
  return 0;
}
