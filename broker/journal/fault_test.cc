// I/O failures: disk full is transient, an fsync error stops the writer (fail-stop).
#include <gtest/gtest.h>

#include "broker/journal/journal.h"
#include "broker/journal/reader.h"
#include "broker/journal/testing/events.h"
#include "broker/journal/testing/fault_vfs.h"
#include "broker/journal/testing/fixture.h"

namespace relais::journal {
namespace {

using testing::MakeRequest;

class FaultTest : public testing::JournalFixture {
 protected:
  void SetUp() override { testing::RegisterFaultVfs(); }
  void TearDown() override {
    testing::SetFailWritesWithFull(false);
    testing::SetFailSyncs(false);
  }
  JournalOptions FaultOptions() {
    JournalOptions o = Options();
    o.vfs = testing::kFaultVfsName;
    o.max_wait = std::chrono::milliseconds(30);
    return o;
  }
};

TEST_F(FaultTest, DiskFullFailsTheBatchAsRetryLaterAndAppendsResumeAfterwards) {
  auto journal = Open(FaultOptions());
  AppendOk(*journal, MakeRequest({}));
  testing::SetFailWritesWithFull(true);
  // `a` opens a new case inside the failing batch: its case number must be rolled back too.
  AppendRequest a = MakeRequest({.case_ref = "c-opened-while-full"}), b = MakeRequest({});
  auto fa = journal->AppendAsync(a);
  auto fb = journal->AppendAsync(b);
  for (auto* f : {&fa, &fb}) {
    auto r = f->get();
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "disk_full");
    EXPECT_EQ(r.error().kind, base::ErrorKind::kRetryLater);
  }
  EXPECT_TRUE(journal->health().has_value());
  EXPECT_EQ(journal->head_seq(), 1u);

  testing::SetFailWritesWithFull(false);
  EXPECT_EQ(AppendOk(*journal, std::move(a)).seq, 2u);  // retried with the same event id
  EXPECT_EQ(AppendOk(*journal, std::move(b)).seq, 3u);
  AppendOk(*journal, MakeRequest({.case_ref = "c-opened-after"}));
  ASSERT_TRUE(journal->Close().has_value());
  auto reader = Reader();
  auto report = reader->VerifyChain();  // also checks case_keys against every row
  EXPECT_FALSE(report->fault.has_value());
  EXPECT_EQ(report->rows, 4u);
  std::vector<uint64_t> seqs;
  ASSERT_TRUE(reader
                  ->ByCase("c-opened-while-full",
                           [&](const StoredEntry& e) {
                             seqs.push_back(e.seq);
                             return true;
                           })
                  .has_value());
  EXPECT_EQ(seqs, (std::vector<uint64_t>{2}));
}

TEST_F(FaultTest, FsyncErrorFailsEveryPendingAndLaterCallWithFailStop) {
  auto journal = Open(FaultOptions());
  AppendOk(*journal, MakeRequest({}));
  testing::SetFailSyncs(true);
  auto fa = journal->AppendAsync(MakeRequest({}));
  auto fb = journal->AppendAsync(MakeRequest({}));
  auto fu = journal->UpdateAsync(AckDelivery{"siao-75", 1});
  for (auto* f : {&fa, &fb}) {
    auto r = f->get();
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "journal_failed");
    EXPECT_EQ(r.error().kind, base::ErrorKind::kFailStop);
  }
  EXPECT_EQ(fu.get().error().kind, base::ErrorKind::kFailStop);
  EXPECT_EQ(journal->health().error().code, "journal_failed");
  testing::SetFailSyncs(false);  // never retried, even once the disk works again
  auto later = journal->AppendAsync(MakeRequest({})).get();
  ASSERT_FALSE(later.has_value());
  EXPECT_EQ(later.error().kind, base::ErrorKind::kFailStop);
  EXPECT_EQ(journal->Erase("c-test-case").error().kind, base::ErrorKind::kFailStop);
  auto closed = journal->Close();
  ASSERT_FALSE(closed.has_value());
  EXPECT_EQ(closed.error().code, "journal_failed");
}

TEST_F(FaultTest, AfterAFailStopTheJournalReopensVerifiedWithEachEventAtMostOnce) {
  AppendRequest in_flight = MakeRequest({});
  {
    auto journal = Open(FaultOptions());
    AppendOk(*journal, MakeRequest({}));
    testing::SetFailSyncs(true);
    EXPECT_FALSE(journal->AppendAsync(in_flight).get().has_value());
    (void)journal->Close();
    testing::SetFailSyncs(false);
  }
  auto journal = Open(FaultOptions());
  ASSERT_NE(journal, nullptr);
  // The outcome of the failed commit is unknown (its frames may have reached the WAL): the
  // publisher re-sends with the same event id and the journal answers either way.
  AppendResult again = AppendOk(*journal, in_flight);
  EXPECT_EQ(again.seq, 2u);
  ASSERT_TRUE(journal->Close().has_value());
  auto report = Reader()->VerifyChain();
  EXPECT_FALSE(report->fault.has_value());
  EXPECT_EQ(report->rows, 2u);
}

}  // namespace
}  // namespace relais::journal
