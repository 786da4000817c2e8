// Unit tests of the writer's compact case number index (suite CaseNumberIndex, label journal).
#include "broker/journal/case_number_index.h"

#include <gtest/gtest.h>

#include <map>
#include <random>

#include "crypto/random.h"

namespace relais::journal::internal {
namespace {

TEST(CaseNumberIndex, FindsWhatWasInsertedAndNothingElse) {
  CaseNumberIndex index;
  std::map<std::string, int64_t> expected;
  for (int64_t no = 1; no <= 20'000; ++no) {
    std::string ref = crypto::NewCaseRef();
    index.Insert(ref, no);
    expected[ref] = no;
  }
  EXPECT_EQ(index.size(), expected.size());
  for (const auto& [ref, no] : expected) EXPECT_EQ(index.Find(ref).value_or(0), no);
  for (int i = 0; i < 1000; ++i) EXPECT_FALSE(index.Find(crypto::NewCaseRef()).has_value());
  EXPECT_FALSE(index.Find("").has_value());
  // 16 bytes a slot, each shard between 7/16 and 7/8 full.
  EXPECT_GE(index.bytes(), 20'000u * 16u * 8 / 7);
  EXPECT_LE(index.bytes(), 20'000u * 16u * 16 / 7 + 64 * 64 * 16);
}

// A rollback erases the cases a failed transaction saw first, anywhere in the probe chains:
// the others stay findable (the backward shift keeps every chain unbroken).
TEST(CaseNumberIndex, ErasedCasesAreGoneAndTheOthersStay) {
  CaseNumberIndex index;
  std::vector<std::string> refs;
  for (int i = 0; i < 6000; ++i) refs.push_back("case-" + std::to_string(i));
  for (size_t i = 0; i < refs.size(); ++i) index.Insert(refs[i], static_cast<int64_t>(i) + 1);
  std::mt19937 rng(7);
  std::vector<size_t> order(refs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<bool> erased(refs.size(), false);
  for (size_t k = 0; k < refs.size() / 2; ++k) {
    index.Erase(refs[order[k]]);
    erased[order[k]] = true;
    if (k % 500 == 0) {  // every chain still intact half-way
      for (size_t i = 0; i < refs.size(); ++i) {
        ASSERT_EQ(index.Find(refs[i]).has_value(), !erased[i]) << refs[i] << " after " << k;
      }
    }
  }
  EXPECT_EQ(index.size(), refs.size() / 2);
  for (size_t i = 0; i < refs.size(); ++i) {
    EXPECT_EQ(index.Find(refs[i]).value_or(0), erased[i] ? 0 : static_cast<int64_t>(i) + 1);
  }
  index.Erase("never-inserted");  // no effect
  EXPECT_EQ(index.size(), refs.size() / 2);
  // Inserted again after the rollback, with the numbers the retried transaction gives.
  for (size_t i = 0; i < refs.size(); ++i) {
    if (erased[i]) index.Insert(refs[i], static_cast<int64_t>(i) + 100'001);
  }
  for (size_t i = 0; i < refs.size(); ++i) {
    EXPECT_EQ(index.Find(refs[i]).value_or(0), static_cast<int64_t>(i) + (erased[i] ? 100'001 : 1));
  }
}

TEST(CaseNumberIndex, NumbersBeyondThirtyTwoBitsAreKept) {
  CaseNumberIndex index;
  const int64_t big = (int64_t{1} << 32) + 5;
  index.Insert("case-big", big);
  index.Insert("case-small", 3);
  EXPECT_EQ(index.Find("case-big").value_or(0), big);
  EXPECT_EQ(index.Find("case-small").value_or(0), 3);
  EXPECT_EQ(index.size(), 2u);
  index.Erase("case-big");
  EXPECT_FALSE(index.Find("case-big").has_value());
  EXPECT_EQ(index.size(), 1u);
}

}  // namespace
}  // namespace relais::journal::internal
