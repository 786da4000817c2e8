// Internal to schema/ (not installed, not included outside this folder): the decode context and
// the field readers shared by the codec_*.cc files, and the encode/decode drivers.
//
// Every reader takes the field's getter as a lambda so that a Cap'n Proto exception thrown while
// following the field's pointer is reported with the path of that field ("wraps[2].agency").
// The path is pushed before the getter runs and popped only on success: after a failure (an
// exception or an early error return) it still names the innermost field, which is what the
// error message shows.
#ifndef RELAIS_SCHEMA_CODEC_INTERNAL_H_
#define RELAIS_SCHEMA_CODEC_INTERNAL_H_

#include <capnp/blob.h>
#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/check.h"
#include "base/status.h"
#include "schema/codec.h"
#include "schema/envelope.capnp.h"

namespace relais::schema::internal {

class DecodeContext {
 public:
  DecodeContext(const char* message_type, const DecodeLimits& limits)
      : message_type_(message_type), limits_(limits) {}

  const DecodeLimits& limits() const { return limits_; }

  void Enter(const char* field) { Push(Step{field, 0}); }
  void EnterIndex(size_t index) { Push(Step{nullptr, index}); }
  void Leave() { --depth_; }

  // kInvalidInput "malformed", "<MessageType>: <path>: <why>".
  base::Error Fail(std::string_view why) const;
  base::Error FailCapnp(const kj::Exception& e) const;

 private:
  struct Step {
    const char* field;  // nullptr for a list index
    size_t index;
  };
  std::string Path() const;
  // The path lives in `inline_` while it is short (every message of ours); deeper paths (a
  // hostile nesting) continue in `deeper_`. No allocation on the usual decode.
  static constexpr size_t kInlineSteps = 16;
  void Push(Step step) {
    if (depth_ < kInlineSteps) {
      inline_[depth_] = step;
    } else {
      deeper_.resize(depth_ - kInlineSteps + 1);
      deeper_.back() = step;
    }
    ++depth_;
  }
  const Step& At(size_t i) const {
    return i < kInlineSteps ? inline_[i] : deeper_[i - kInlineSteps];
  }

  const char* message_type_;
  const DecodeLimits& limits_;
  std::array<Step, kInlineSteps> inline_;
  std::vector<Step> deeper_;
  size_t depth_ = 0;
};

enum class SizeRule {
  kAny,           // any length
  kExact,         // exactly `size` bytes
  kEmptyOrExact,  // empty (absent) or exactly `size` bytes
};

template <typename Get>
base::Status ReadText(DecodeContext& c, const char* field, Get&& get, std::string& out) {
  c.Enter(field);
  capnp::Text::Reader text = get();
  if (text.size() > c.limits().max_text_bytes) {
    return c.Fail("text of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                  std::to_string(c.limits().max_text_bytes));
  }
  out.assign(text.cStr(), text.size());
  c.Leave();
  return base::Ok();
}

template <typename Get>
base::Status ReadData(DecodeContext& c, const char* field, Get&& get, base::Bytes& out,
                      SizeRule rule = SizeRule::kAny, size_t size = 0) {
  c.Enter(field);
  capnp::Data::Reader data = get();
  bool ok = rule == SizeRule::kAny || data.size() == size ||
            (rule == SizeRule::kEmptyOrExact && data.size() == 0);
  if (!ok) {
    return c.Fail("must be " + std::string(rule == SizeRule::kEmptyOrExact ? "empty or " : "") +
                  std::to_string(size) + " bytes, got " + std::to_string(data.size()));
  }
  out.assign(data.begin(), data.end());
  c.Leave();
  return base::Ok();
}

// `raw` is a Cap'n Proto enum value (read from the data section: cannot throw). Values at or
// beyond `count` come from a newer schema and are refused.
template <typename CapnpEnum, typename CppEnum>
base::Status ReadEnum(DecodeContext& c, const char* field, CapnpEnum raw, int count, CppEnum& out) {
  auto value = static_cast<uint16_t>(raw);
  if (value >= count) {
    c.Enter(field);
    return c.Fail("unknown enum value " + std::to_string(value) + " (newer schema?)");
  }
  out = static_cast<CppEnum>(value);
  return base::Ok();
}

template <typename Get, typename ReadFn>
base::Status ReadStruct(DecodeContext& c, const char* field, Get&& get, ReadFn&& read) {
  c.Enter(field);
  auto reader = get();
  RELAIS_RETURN_IF_ERROR(read(reader));
  c.Leave();
  return base::Ok();
}

// Calls read_element(list, i) for each element after checking the count against max_elements,
// and on_count(count) once the count has passed that check.
template <typename Get, typename OnCount, typename ReadFn>
base::Status ReadCountedList(DecodeContext& c, const char* field, Get&& get, uint32_t max_elements,
                             OnCount&& on_count, ReadFn&& read_element) {
  c.Enter(field);
  auto list = get();
  if (list.size() > max_elements) {
    return c.Fail(std::to_string(list.size()) + " elements exceed the limit of " +
                  std::to_string(max_elements));
  }
  on_count(list.size());
  for (unsigned i = 0; i < list.size(); ++i) {
    c.EnterIndex(i);
    RELAIS_RETURN_IF_ERROR(read_element(list, i));
    c.Leave();
  }
  c.Leave();
  return base::Ok();
}

template <typename Get, typename ReadFn>
base::Status ReadList(DecodeContext& c, const char* field, Get&& get, uint32_t max_elements,
                      ReadFn&& read_element) {
  return ReadCountedList(
      c, field, get, max_elements, [](size_t) {}, read_element);
}

// The same into `out` (cleared first, then sized once for the checked count): calls
// read_element(list, i, element) on a new element at the back of `out`.
template <typename Get, typename T, typename ReadFn>
base::Status ReadListInto(DecodeContext& c, const char* field, Get&& get, uint32_t max_elements,
                          std::vector<T>& out, ReadFn&& read_element) {
  out.clear();
  return ReadCountedList(
      c, field, get, max_elements, [&](size_t count) { out.reserve(count); },
      [&](auto list, unsigned i) { return read_element(list, i, out.emplace_back()); });
}

template <typename Get>
base::Status ReadTextList(DecodeContext& c, const char* field, Get&& get, uint32_t max_elements,
                          std::vector<std::string>& out) {
  return ReadListInto(c, field, get, max_elements, out,
                      [&](auto list, unsigned i, std::string& element) {
                        return ReadText(
                            c, "", [&] { return list[i]; }, element);
                      });
}

template <typename CppEnum, typename Get>
base::Status ReadEnumList(DecodeContext& c, const char* field, Get&& get, int count,
                          std::vector<CppEnum>& out) {
  return ReadListInto(c, field, get, c.limits().max_list_elements, out,
                      [&](auto list, unsigned i, CppEnum& element) {
                        return ReadEnum(c, "", list[i], count, element);
                      });
}

// Added to the input's size in words to cap the traversal limit: insurance against accounting
// differences between Cap'n Proto versions, far too small to amplify anything.
constexpr uint64_t kTraversalSlackWords = 64;

// The one place untrusted bytes become a Cap'n Proto reader. Checks the size limits, reads the
// input in place when it is word-aligned (heap buffers are) or else from a word-aligned copy,
// rejects trailing bytes, and runs read_root(context, root, out) with every exception caught. The
// reader and any copy die before this returns; the reader only reads.
template <typename Root, typename T, typename ReadRoot>
base::Result<T> DecodeMessage(const char* message_type, base::ByteView bytes,
                              const DecodeLimits& limits, ReadRoot&& read_root) {
  DecodeContext c(message_type, limits);
  if (bytes.empty()) return c.Fail("empty input");
  if (bytes.size() > limits.max_bytes) {
    return c.Fail("message of " + std::to_string(bytes.size()) + " bytes exceeds the limit of " +
                  std::to_string(limits.max_bytes));
  }
  if (bytes.size() % sizeof(capnp::word) != 0) {
    return c.Fail("length " + std::to_string(bytes.size()) +
                  " is not a multiple of 8 bytes (truncated?)");
  }
  try {
    kj::Array<capnp::word> copy;
    kj::ArrayPtr<const capnp::word> words;
    if (reinterpret_cast<uintptr_t>(bytes.data()) % alignof(capnp::word) == 0) {
      words = kj::ArrayPtr<const capnp::word>(reinterpret_cast<const capnp::word*>(bytes.data()),
                                              bytes.size() / sizeof(capnp::word));
    } else {
      copy = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
      std::memcpy(copy.begin(), bytes.data(), bytes.size());
      words = copy.asPtr();
    }
    capnp::ReaderOptions options;
    // Never visit (much) more words than were sent. An honest encoder's single-segment message
    // costs exactly its own size (Cap'n Proto charges the root pointer twice and the segment
    // table not at all), so this only stops amplification: aliased pointers, lists of empty
    // structs that cost nothing on the wire but a full C++ struct each once decoded.
    options.traversalLimitInWords =
        std::min<uint64_t>(limits.traversal_limit_words, words.size() + kTraversalSlackWords);
    options.nestingLimit = limits.nesting_limit;
    capnp::FlatArrayMessageReader reader(words, options);
    if (reader.getEnd() != words.end()) {
      size_t used = (reader.getEnd() - words.begin()) * sizeof(capnp::word);
      return c.Fail(std::to_string(bytes.size() - used) + " trailing bytes after the message");
    }
    T out{};
    RELAIS_RETURN_IF_ERROR(read_root(c, reader.getRoot<Root>(), out));
    return out;
  } catch (const kj::Exception& e) {
    return c.FailCapnp(e);
  } catch (const std::exception& e) {
    return c.Fail(std::string("decoder failure: ") + e.what());
  } catch (...) {
    return c.Fail("decoder failure");
  }
}

// Serialises `builder` as one flat single-segment message. MallocMessageBuilder grows by adding
// segments; when it did, the root is copied into a builder whose first segment fits it exactly.
base::Bytes FlattenSingleSegment(capnp::MallocMessageBuilder& builder,
                                 capnp::AnyPointer::Reader root);

// The calling thread's zeroed first segment for the next message it builds, or an empty pointer
// when one is being built already (a fill that encodes another message): the builder allocates.
// A builder given it writes zeros over what it used when it is destroyed (Cap'n Proto's rule).
kj::ArrayPtr<capnp::word> TakeScratchSegment();
void ReturnScratchSegment();
class ScratchBuilder {
 public:
  ScratchBuilder() : scratch_(TakeScratchSegment()) {
    if (scratch_.size() > 0) {
      builder_.emplace(scratch_);
    } else {
      builder_.emplace();
    }
  }
  ~ScratchBuilder() {
    builder_.reset();  // zeroes the scratch before it is handed out again
    if (scratch_.size() > 0) ReturnScratchSegment();
  }
  ScratchBuilder(const ScratchBuilder&) = delete;
  ScratchBuilder& operator=(const ScratchBuilder&) = delete;
  capnp::MallocMessageBuilder& get() { return *builder_; }

 private:
  kj::ArrayPtr<capnp::word> scratch_;
  std::optional<capnp::MallocMessageBuilder> builder_;
};

// Builds a message with fill(root builder) and flattens it. Cap'n Proto only throws here for
// values it cannot represent at all (2^29 elements): a broken caller invariant, so it aborts.
template <typename Root, typename Fill>
base::Bytes EncodeMessage(Fill&& fill) {
  try {
    ScratchBuilder scratch;
    capnp::MallocMessageBuilder& builder = scratch.get();
    fill(builder.initRoot<Root>());
    return FlattenSingleSegment(builder, builder.getRoot<capnp::AnyPointer>().asReader());
  } catch (const kj::Exception& e) {
    base::CheckFailed(__FILE__, __LINE__, "encodable value", e.getDescription().cStr());
  }
}

inline capnp::Text::Reader AsText(const std::string& s) {
  return capnp::Text::Reader(s.c_str(), s.size());
}
inline capnp::Data::Reader AsData(const base::Bytes& b) {
  return capnp::Data::Reader(b.data(), b.size());
}

// Setters that leave empty fields null (smaller messages; a null Text/Data reads as empty).
template <typename Set>
void SetText(const std::string& s, Set&& set) {
  if (!s.empty()) set(AsText(s));
}
template <typename Set>
void SetData(const base::Bytes& b, Set&& set) {
  if (!b.empty()) set(AsData(b));
}

template <typename Init>
void SetTextList(const std::vector<std::string>& values, Init&& init) {
  if (values.empty()) return;
  auto list = init(static_cast<unsigned>(values.size()));
  for (unsigned i = 0; i < values.size(); ++i) list.set(i, AsText(values[i]));
}

template <typename CapnpEnum, typename CppEnum, typename Init>
void SetEnumList(const std::vector<CppEnum>& values, Init&& init) {
  if (values.empty()) return;
  auto list = init(static_cast<unsigned>(values.size()));
  for (unsigned i = 0; i < values.size(); ++i) list.set(i, static_cast<CapnpEnum>(values[i]));
}

// Shared by codec_envelope.cc and codec_wire.cc (Publish and Deliver carry an Envelope).
void FillEnvelope(wire::Envelope::Builder b, const Envelope& envelope);
base::Status ReadEnvelope(DecodeContext& c, wire::Envelope::Reader r, Envelope& out);

}  // namespace relais::schema::internal

#endif  // RELAIS_SCHEMA_CODEC_INTERNAL_H_
