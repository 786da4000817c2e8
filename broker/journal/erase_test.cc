// Erasure of one case: sealed bytes gone from the database and the WAL, metadata and chain kept.
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <latch>
#include <sstream>
#include <thread>

#include "broker/journal/journal.h"
#include "broker/journal/reader.h"
#include "broker/journal/testing/events.h"
#include "broker/journal/testing/fixture.h"

namespace relais::journal {
namespace {

using testing::EventSpec;
using testing::MakeRequest;

std::string FileBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class EraseTest : public testing::JournalFixture, public ::testing::WithParamInterface<size_t> {
 protected:
  void SetUp() override {
    journal_ = Open();
    for (int i = 0; i < 3; ++i) {
      for (const char* c : {"c-erase", "c-keep"}) {
        EventSpec spec{.case_ref = c,
                       .body_size = GetParam(),
                       .body_marker = std::string("BODY-OF-") + c + "-"};
        AppendRequest r = MakeRequest(spec);
        wrap_markers_[c] = r.envelope.wraps[0].sealed_key;
        AppendOk(*journal_, std::move(r));
      }
    }
  }
  // Whether `needle` occurs in the database file or its WAL.
  bool OnDisk(const std::string& needle) {
    std::string all = FileBytes(db_path());
    std::filesystem::path wal = db_path().string() + "-wal";
    if (std::filesystem::exists(wal)) all += FileBytes(wal);
    return all.find(needle) != std::string::npos;
  }
  std::unique_ptr<Journal> journal_;
  std::map<std::string, base::Bytes> wrap_markers_;
};

TEST_P(EraseTest, SealedBytesOfTheCaseAreGoneAndTheChainStillVerifies) {
  ASSERT_TRUE(OnDisk("BODY-OF-c-erase-BODY-OF-c-erase-"));
  ASSERT_TRUE(journal_->Erase("c-erase").has_value());
  auto reader = Reader();
  int erased = 0, kept = 0;
  ASSERT_TRUE(reader
                  ->ForEachFrom(1,
                                [&](const StoredEntry& e) {
                                  if (e.case_ref == "c-erase") {
                                    EXPECT_TRUE(e.erased);
                                    EXPECT_TRUE(e.envelope.body.empty());
                                    EXPECT_TRUE(e.envelope.wraps.empty());
                                    EXPECT_EQ(e.envelope.body_digest.size(), 32u);
                                    EXPECT_EQ(e.envelope.signature.size(), 64u);
                                    ++erased;
                                  } else {
                                    EXPECT_FALSE(e.erased);
                                    EXPECT_EQ(e.envelope.body.size(), GetParam());
                                    ++kept;
                                  }
                                  return true;
                                })
                  .has_value());
  EXPECT_EQ(erased, 3);
  EXPECT_EQ(kept, 3);
  auto report = reader->VerifyChain();
  EXPECT_FALSE(report->fault.has_value());
  EXPECT_EQ(report->rows, 6u);

  EXPECT_FALSE(OnDisk("BODY-OF-c-erase-BODY-OF-c-erase-"));
  EXPECT_FALSE(OnDisk(base::ToString(wrap_markers_["c-erase"])));
  EXPECT_TRUE(OnDisk("BODY-OF-c-keep-BODY-OF-c-keep-"));  // the scan does see live bodies
  EXPECT_EQ(std::filesystem::file_size(db_path().string() + "-wal"), 0u);

  // Appending continues on the same chain, and a reopen verifies.
  AppendOk(*journal_, MakeRequest({}));
  ASSERT_TRUE(journal_->Close().has_value());
  EXPECT_NE(Open(), nullptr);
}

TEST_P(EraseTest, AsyncErasureIsOrderedBeforeLaterAppends) {
  std::promise<base::Status> erased;
  journal_->EraseAsync("c-erase", [&](base::Status st) { erased.set_value(st); });
  // Submitted after the erasure: when its append is durable, the erasure is done.
  AppendResult later = AppendOk(*journal_, MakeRequest({.case_ref = "c-keep"}));
  EXPECT_GT(later.seq, 6u);
  auto f = erased.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  ASSERT_TRUE(f.get().has_value());
  EXPECT_FALSE(OnDisk("BODY-OF-c-erase-BODY-OF-c-erase-"));
  EXPECT_TRUE(OnDisk("BODY-OF-c-keep-BODY-OF-c-keep-"));
}

INSTANTIATE_TEST_SUITE_P(InlineAndOverflowBodies, EraseTest, ::testing::Values(700, 20'000));

class EraseEdgeTest : public testing::JournalFixture {};

TEST_F(EraseEdgeTest, UnknownCaseIsNotFoundAndRepeatingIsHarmless) {
  auto journal = Open();
  AppendOk(*journal, MakeRequest({.case_ref = "c-1"}));
  auto unknown = journal->Erase("c-nope");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, "unknown_case");
  EXPECT_TRUE(journal->Erase("c-1").has_value());
  EXPECT_TRUE(journal->Erase("c-1").has_value());
  EXPECT_FALSE(Reader()->VerifyChain()->fault.has_value());
}

TEST_F(EraseEdgeTest, AReaderHoldingAnOldSnapshotMakesItRetryLater) {
  JournalOptions options = Options();
  options.busy_timeout_ms = 50;
  auto journal = Open(options);
  for (int i = 0; i < 3; ++i) AppendOk(*journal, MakeRequest({.case_ref = "c-1"}));
  std::latch reading(1), erased(1);
  std::thread reader_thread([&] {
    auto reader = Reader();
    (void)reader->ForEachFrom(1, [&](const StoredEntry&) {
      reading.count_down();
      erased.wait();  // hold the snapshot until the first Erase returned
      return false;
    });
  });
  reading.wait();
  auto first = journal->Erase("c-1");
  erased.count_down();
  reader_thread.join();
  ASSERT_FALSE(first.has_value());
  EXPECT_EQ(first.error().code, "journal_busy");
  EXPECT_EQ(first.error().kind, base::ErrorKind::kRetryLater);
  EXPECT_TRUE(journal->Erase("c-1").has_value());
  EXPECT_EQ(std::filesystem::file_size(db_path().string() + "-wal"), 0u);
}

}  // namespace
}  // namespace relais::journal
