#include "crypto/random.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace relais::crypto {
namespace {

constexpr base::TimeMs kNow = 1775001600250;  // 2026-04-01T00:00:00.250Z

uint64_t TimestampOf(const base::Bytes& id) {
  uint64_t ms = 0;
  for (int i = 0; i < 6; ++i) ms = ms << 8 | id[i];
  return ms;
}

TEST(EventIdTest, HasUuidV7Layout) {
  for (int i = 0; i < 200; ++i) {
    base::Bytes id = NewEventId(kNow + i);
    ASSERT_EQ(id.size(), 16u);
    EXPECT_EQ(TimestampOf(id), static_cast<uint64_t>(kNow + i));  // 48-bit big-endian ms
    EXPECT_EQ(id[6] >> 4, 0x7);                                   // version 7
    EXPECT_EQ(id[8] >> 6, 0b10);                                  // variant 10
  }
}

TEST(EventIdTest, SortsByTimeAndIsDistinctWithinOneMillisecond) {
  std::set<base::Bytes> seen;
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(seen.insert(NewEventId(kNow)).second);
  EXPECT_LT(NewEventId(kNow), NewEventId(kNow + 1));
}

TEST(EventIdTest, FormatsAndParsesCanonicalText) {
  base::Bytes id = NewEventId(kNow);
  std::string text = FormatUuid(id);
  ASSERT_EQ(text.size(), 36u);
  EXPECT_EQ(text.substr(0, 8), "019d4657");  // 2026-04-01T00:00:00.250Z = 0x019d465700fa ms
  EXPECT_EQ(text[14], '7');
  for (size_t dash : {8u, 13u, 18u, 23u}) EXPECT_EQ(text[dash], '-');
  auto back = ParseUuid(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, id);
}

TEST(EventIdTest, RejectsMalformedText) {
  for (const char* bad :
       {"", "019d46a2-0000-7000-8000-00000000000", "019d46a2000070008000000000000000",
        "019d46a2-0000-7000-8000-00000000000g", "019d46a2-00007-000-8000-000000000000"}) {
    auto r = ParseUuid(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "bad_uuid") << bad;
  }
}

TEST(CaseRefTest, IsCDashAnd26Base32Characters) {
  for (int i = 0; i < 100; ++i) {
    std::string ref = NewCaseRef();
    ASSERT_EQ(ref.size(), 28u) << ref;
    EXPECT_EQ(ref.substr(0, 2), "c-");
    for (char c : ref.substr(2)) {
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7')) << ref;
    }
  }
}

TEST(CaseRefTest, IsDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) EXPECT_TRUE(seen.insert(NewCaseRef()).second);
}

TEST(RandomBytesTest, HasTheRequestedSizeAndVaries) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(24).size(), 24u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

}  // namespace
}  // namespace relais::crypto
