// The read API: iteration from a seq, by case, by time; lookups; copies; reading while writing.
#include "broker/journal/reader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "broker/journal/testing/events.h"
#include "broker/journal/testing/fixture.h"

namespace relais::journal {
namespace {

using testing::MakeRequest;

class ReaderTest : public testing::JournalFixture {
 protected:
  void SetUp() override {
    journal_ = Open();
    for (int i = 0; i < 9; ++i) {
      AppendRequest r = MakeRequest({.case_ref = "c-" + std::to_string(i % 3)});
      event_ids_.push_back(r.header.event_id);
      AppendOk(*journal_, std::move(r));
      clock_.Advance(1000);
    }
  }
  std::vector<uint64_t> Seqs(const std::function<base::Status(const EntryVisitor&)>& read) {
    std::vector<uint64_t> seqs;
    EXPECT_TRUE(read([&](const StoredEntry& e) {
                  seqs.push_back(e.seq);
                  return true;
                }).has_value());
    return seqs;
  }
  std::unique_ptr<Journal> journal_;
  std::vector<base::Bytes> event_ids_;
  const base::TimeMs start_ = 1'764'000'000'000;
};

TEST_F(ReaderTest, ForEachFromStartsAtTheSeqAndStopsWhenAsked) {
  auto reader = Reader();
  EXPECT_EQ(Seqs([&](auto& v) { return reader->ForEachFrom(7, v); }),
            (std::vector<uint64_t>{7, 8, 9}));
  std::vector<uint64_t> seen;
  ASSERT_TRUE(reader
                  ->ForEachFrom(1,
                                [&](const StoredEntry& e) {
                                  seen.push_back(e.seq);
                                  return seen.size() < 2;
                                })
                  .has_value());
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(Seqs([&](auto& v) { return reader->ForEachFrom(10, v); }).empty());
}

TEST_F(ReaderTest, ByCaseReturnsThatCaseInSeqOrder) {
  auto reader = Reader();
  EXPECT_EQ(Seqs([&](auto& v) { return reader->ByCase("c-1", v); }),
            (std::vector<uint64_t>{2, 5, 8}));
  EXPECT_TRUE(Seqs([&](auto& v) { return reader->ByCase("c-none", v); }).empty());
}

TEST_F(ReaderTest, ByTimeIsHalfOpen) {
  auto reader = Reader();
  EXPECT_EQ(Seqs([&](auto& v) { return reader->ByTime(start_ + 2000, start_ + 5000, v); }),
            (std::vector<uint64_t>{3, 4, 5}));
}

TEST_F(ReaderTest, MetadataScopeLeavesSealedBytesOut) {
  auto reader = Reader();
  auto meta = reader->Get(4, ReadScope::kMetadata);
  auto full = reader->Get(4, ReadScope::kWithSealed);
  ASSERT_TRUE(meta->has_value() && full->has_value());
  EXPECT_TRUE((*meta)->envelope.body.empty());
  EXPECT_TRUE((*meta)->envelope.wraps.empty());
  EXPECT_FALSE((*meta)->erased);
  EXPECT_EQ((*full)->envelope.body.size(), 700u);
  EXPECT_EQ((*meta)->entry_hash, (*full)->entry_hash);
  EXPECT_EQ((*meta)->event_id, event_ids_[3]);
  EXPECT_FALSE(reader->Get(99)->has_value());
}

TEST_F(ReaderTest, FindEventReturnsItsSeq) {
  auto found = Reader()->FindEvent(event_ids_[5]);
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->seq, 6u);
  EXPECT_FALSE(Reader()->FindEvent(base::Bytes(16, 0))->has_value());
}

TEST_F(ReaderTest, ACopyIsSelfContainedAndVerifies) {
  auto copy_path = dir_.path() / "audit-copy.db";
  ASSERT_TRUE(Reader()->CopyTo(copy_path).has_value());
  journal_.reset();
  std::filesystem::remove(db_path());
  auto copy = JournalReader::Open(ReaderOptions{copy_path, ""});
  ASSERT_TRUE(copy.has_value());
  auto report = (*copy)->VerifyChain();
  EXPECT_FALSE(report->fault.has_value());
  EXPECT_EQ(report->rows, 9u);
}

TEST_F(ReaderTest, OpeningSomethingElseFails) {
  EXPECT_EQ(JournalReader::Open(ReaderOptions{dir_.path() / "nope.db", ""}).error().code,
            "journal_not_found");
  std::ofstream(dir_.path() / "text.db") << "not a database at all, just text";
  EXPECT_EQ(JournalReader::Open(ReaderOptions{dir_.path() / "text.db", ""}).error().kind,
            base::ErrorKind::kCorruption);
}

TEST_F(ReaderTest, ReadsConsistentSnapshotsWhileTheWriterAppends) {
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    while (!stop) AppendOk(*journal_, MakeRequest({}));
  });
  auto reader = Reader();
  for (int i = 0; i < 20; ++i) {
    auto report = reader->VerifyChain();
    ASSERT_TRUE(report.has_value());
    EXPECT_FALSE(report->fault.has_value());
    EXPECT_GE(report->rows, 9u);
  }
  stop = true;
  writer.join();
}

}  // namespace
}  // namespace relais::journal
