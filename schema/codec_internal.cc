#include "schema/codec_internal.h"

#include <capnp/any.h>

namespace relais::schema::internal {
namespace {

// Cap'n Proto's descriptions name the structural fault ("out-of-bounds struct pointer"), never the
// message's content; they are still capped so a log line stays a line.
constexpr size_t kMaxCapnpDescription = 160;

}  // namespace

std::string DecodeContext::Path() const {
  std::string path;
  for (size_t i = 0; i < depth_; ++i) {
    const Step& step = At(i);
    if (step.field == nullptr) {
      path += "[" + std::to_string(step.index) + "]";
    } else if (*step.field != '\0') {
      if (!path.empty()) path += ".";
      path += step.field;
    }
  }
  return path;
}

base::Error DecodeContext::Fail(std::string_view why) const {
  std::string message = message_type_;
  message += ": ";
  std::string path = Path();
  if (!path.empty()) message += path + ": ";
  message += why;
  return base::InvalidInput("malformed", std::move(message));
}

base::Error DecodeContext::FailCapnp(const kj::Exception& e) const {
  std::string description(e.getDescription().cStr());
  if (description.size() > kMaxCapnpDescription) {
    description.resize(kMaxCapnpDescription);
    description += "...";
  }
  return Fail("invalid Cap'n Proto encoding (" + description + ")");
}

namespace {

// 8 KiB, Cap'n Proto's own first segment size: most frames fit it.
constexpr size_t kScratchWords = 1024;
thread_local capnp::word scratch_segment[kScratchWords];  // zero-initialised, as required
thread_local bool scratch_in_use = false;

// The flat form of a one-segment message: the segment table (segment count - 1 = 0, then the
// segment's size in words, both 32-bit little-endian), then the segment.
base::Bytes FlatSingle(kj::ArrayPtr<const capnp::word> segment) {
  const size_t words = segment.size();
  base::Bytes out;
  out.reserve(8 + words * sizeof(capnp::word));  // not zero-filled: both parts are copied in
  const uint32_t n = static_cast<uint32_t>(words);
  const uint8_t table[8] = {0,
                            0,
                            0,
                            0,
                            static_cast<uint8_t>(n),
                            static_cast<uint8_t>(n >> 8),
                            static_cast<uint8_t>(n >> 16),
                            static_cast<uint8_t>(n >> 24)};
  out.insert(out.end(), table, table + sizeof table);
  const auto* bytes = reinterpret_cast<const uint8_t*>(segment.begin());
  out.insert(out.end(), bytes, bytes + words * sizeof(capnp::word));
  return out;
}

}  // namespace

kj::ArrayPtr<capnp::word> TakeScratchSegment() {
  if (scratch_in_use) return {};
  scratch_in_use = true;
  return kj::ArrayPtr<capnp::word>(scratch_segment, kScratchWords);
}

void ReturnScratchSegment() { scratch_in_use = false; }

base::Bytes FlattenSingleSegment(capnp::MallocMessageBuilder& builder,
                                 capnp::AnyPointer::Reader root) {
  auto segments = builder.getSegmentsForOutput();
  if (segments.size() == 1) return FlatSingle(segments[0]);
  // One word for the root pointer plus everything it reaches.
  uint64_t size = root.targetSize().wordCount + 1;
  RELAIS_CHECK_MSG(size < (1u << 29), "message too large for one segment");
  capnp::MallocMessageBuilder single(static_cast<unsigned>(size),
                                     capnp::AllocationStrategy::FIXED_SIZE);
  single.getRoot<capnp::AnyPointer>().set(root);
  auto copied = single.getSegmentsForOutput();
  RELAIS_CHECK_MSG(copied.size() == 1, "copy did not fit one segment");
  return FlatSingle(copied[0]);
}

}  // namespace relais::schema::internal
