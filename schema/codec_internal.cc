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
  for (const Step& step : path_) {
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

base::Bytes FlattenSingleSegment(capnp::MallocMessageBuilder& builder,
                                 capnp::AnyPointer::Reader root) {
  kj::Array<capnp::word> words;
  if (builder.getSegmentsForOutput().size() == 1) {
    words = capnp::messageToFlatArray(builder);
  } else {
    // One word for the root pointer plus everything it reaches.
    uint64_t size = root.targetSize().wordCount + 1;
    RELAIS_CHECK_MSG(size < (1u << 29), "message too large for one segment");
    capnp::MallocMessageBuilder single(static_cast<unsigned>(size),
                                       capnp::AllocationStrategy::FIXED_SIZE);
    single.getRoot<capnp::AnyPointer>().set(root);
    RELAIS_CHECK_MSG(single.getSegmentsForOutput().size() == 1, "copy did not fit one segment");
    words = capnp::messageToFlatArray(single);
  }
  auto bytes = words.asBytes();
  return base::Bytes(bytes.begin(), bytes.end());
}

}  // namespace relais::schema::internal
