// Test-only helpers for schema_test: build raw Cap'n Proto messages (including ones the codec
// would never write: unknown enum values, unknown union alternatives) and check decode errors.
#ifndef RELAIS_SCHEMA_CODEC_TEST_UTIL_H_
#define RELAIS_SCHEMA_CODEC_TEST_UTIL_H_

#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace relais::schema::testing {

// Any builder, multi-segment or not, as flat bytes.
inline base::Bytes Flatten(capnp::MessageBuilder& builder) {
  kj::Array<capnp::word> words = capnp::messageToFlatArray(builder);
  auto bytes = words.asBytes();
  return base::Bytes(bytes.begin(), bytes.end());
}

// Any struct builder as an AnyStruct::Builder (raw data and pointer sections).
template <typename StructBuilder>
capnp::AnyStruct::Builder AsAny(StructBuilder builder) {
  return capnp::AnyStruct::Builder(kj::mv(builder));
}

// Copies `valid` (a message of root type Root) into a builder, lets mutate(root builder) change
// it, and returns the result. For values the C++ structs cannot express.
template <typename Root, typename Mutate>
base::Bytes Mutated(const base::Bytes& valid, Mutate&& mutate) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(valid.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), valid.data(), words.size() * sizeof(capnp::word));
  capnp::FlatArrayMessageReader reader(words);
  capnp::MallocMessageBuilder builder;
  builder.setRoot(reader.getRoot<Root>());
  mutate(builder.getRoot<Root>());
  return Flatten(builder);
}

// Writes a raw union discriminant into `owner` (the struct builder holding the union). Union is
// the struct or group type that declares the union (its schema node gives the offset).
template <typename Union, typename OwnerBuilder>
void SetDiscriminant(OwnerBuilder owner, uint16_t value) {
  auto node = capnp::Schema::from<Union>().getProto().getStruct();
  ASSERT_GT(node.getDiscriminantCount(), 0u);
  kj::ArrayPtr<kj::byte> data = AsAny(owner).getDataSection();
  size_t offset = node.getDiscriminantOffset() * 2u;
  ASSERT_LE(offset + 2, data.size());
  data[offset] = static_cast<kj::byte>(value & 0xff);
  data[offset + 1] = static_cast<kj::byte>(value >> 8);
}

// Success when `result` failed with kInvalidInput `code` and a message containing every needle.
template <typename T>
::testing::AssertionResult FailsWith(const base::Result<T>& result, std::string_view code,
                                     std::initializer_list<std::string_view> needles) {
  if (result.has_value()) return ::testing::AssertionFailure() << "decoded successfully";
  const base::Error& e = result.error();
  if (e.kind != base::ErrorKind::kInvalidInput || e.code != code) {
    return ::testing::AssertionFailure() << "unexpected error " << e.ToString();
  }
  for (std::string_view needle : needles) {
    if (e.message.find(needle) == std::string::npos) {
      return ::testing::AssertionFailure()
             << "message \"" << e.message << "\" lacks \"" << needle << "\"";
    }
  }
  return ::testing::AssertionSuccess() << e.message;
}

template <typename T>
::testing::AssertionResult IsMalformed(const base::Result<T>& result,
                                       std::initializer_list<std::string_view> needles = {}) {
  return FailsWith(result, "malformed", needles);
}

}  // namespace relais::schema::testing

#endif  // RELAIS_SCHEMA_CODEC_TEST_UTIL_H_
