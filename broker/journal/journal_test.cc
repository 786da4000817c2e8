// The append path: durability contract, duplicates, group commit, concurrency, locking, closing.
#include "broker/journal/journal.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "broker/journal/reader.h"
#include "broker/journal/testing/events.h"
#include "broker/journal/testing/fixture.h"
#include "crypto/identity.h"
#include "crypto/seal.h"
#include "schema/codec.h"

namespace relais::journal {
namespace {

using testing::EventSpec;
using testing::MakeRequest;

class JournalTest : public testing::JournalFixture {};

TEST_F(JournalTest, AppendsGetConsecutiveSeqsAndAreReadableAfterTheCallback) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  AppendRequest request = MakeRequest({});
  const schema::Envelope sent = request.envelope;
  AppendResult first = AppendOk(*journal, std::move(request));
  AppendResult second = AppendOk(*journal, MakeRequest({}));
  EXPECT_EQ(first.seq, 1u);
  EXPECT_EQ(second.seq, 2u);
  EXPECT_FALSE(first.duplicate);
  EXPECT_EQ(first.received_at, clock_.NowMs());
  EXPECT_EQ(journal->head_seq(), 2u);

  auto reader = Reader();
  auto stored = reader->Get(1);
  ASSERT_TRUE(stored.has_value());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->envelope, sent);
  EXPECT_FALSE((*stored)->erased);
  EXPECT_EQ((*stored)->case_ref, "c-test-case");
  EXPECT_EQ((*stored)->kind, schema::EventKind::kReferral);
}

// An append asked to hand its envelope back returns it, whole, with its result; the others do
// not carry one. The entry stored is the same either way.
TEST_F(JournalTest, AnAppendHandsItsEnvelopeBackWhenAsked) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  AppendRequest request = MakeRequest({});
  ASSERT_FALSE(request.envelope.wraps.empty());
  const schema::Envelope sent = request.envelope;
  request.hand_back = true;
  AppendResult handed = AppendOk(*journal, std::move(request));
  ASSERT_TRUE(handed.envelope.has_value());
  EXPECT_EQ(*handed.envelope, sent);
  AppendResult kept = AppendOk(*journal, MakeRequest({}));
  EXPECT_FALSE(kept.envelope.has_value());
  auto stored = Reader()->Get(handed.seq);
  ASSERT_TRUE(stored.has_value());
  ASSERT_TRUE(stored->has_value());
  EXPECT_EQ((*stored)->envelope, sent);
}

TEST_F(JournalTest, DuplicateEventIdReturnsTheOriginalSeqAndIsNotStoredTwice) {
  auto journal = Open();
  AppendRequest request = MakeRequest({});
  AppendRequest again = request;
  AppendResult original = AppendOk(*journal, std::move(request));
  AppendOk(*journal, MakeRequest({}));
  clock_.Advance(5000);
  AppendResult duplicate = AppendOk(*journal, std::move(again));
  EXPECT_TRUE(duplicate.duplicate);
  EXPECT_EQ(duplicate.seq, original.seq);
  EXPECT_EQ(duplicate.received_at, original.received_at);
  EXPECT_EQ(journal->head_seq(), 2u);
  auto head = Reader()->GetHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->seq, 2u);
}

TEST_F(JournalTest, DuplicateWithinOneBatchIsStoredOnce) {
  JournalOptions options = Options();
  options.max_wait = std::chrono::milliseconds(200);  // both land in the same transaction
  std::vector<BatchStats> batches;
  options.on_batch = [&batches](const BatchStats& s) { batches.push_back(s); };
  auto journal = Open(options);
  AppendRequest request = MakeRequest({});
  auto f1 = journal->AppendAsync(request);
  auto f2 = journal->AppendAsync(request);
  auto r1 = f1.get();
  auto r2 = f2.get();
  ASSERT_TRUE(r1.has_value());
  ASSERT_TRUE(r2.has_value());
  EXPECT_EQ(r1->seq, 1u);
  EXPECT_FALSE(r1->duplicate);
  EXPECT_EQ(r2->seq, 1u);
  EXPECT_TRUE(r2->duplicate);
  ASSERT_TRUE(journal->Close().has_value());
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].appends, 2u);
}

TEST_F(JournalTest, GroupCommitBatchesConcurrentProducersIntoFewTransactions) {
  JournalOptions options = Options();
  options.max_wait = std::chrono::milliseconds(5);
  options.max_batch = 64;
  std::atomic<size_t> batches{0}, largest{0};
  options.on_batch = [&](const BatchStats& s) {
    ++batches;
    if (s.appends > largest) largest = s.appends;
  };
  auto journal = Open(options);
  constexpr int kThreads = 4, kPerThread = 50;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<uint64_t> seqs;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      std::vector<std::future<base::Result<AppendResult>>> futures;
      for (int i = 0; i < kPerThread; ++i) futures.push_back(journal->AppendAsync(MakeRequest({})));
      for (auto& f : futures) {
        auto r = f.get();
        ASSERT_TRUE(r.has_value());
        std::lock_guard<std::mutex> lock(mu);
        EXPECT_TRUE(seqs.insert(r->seq).second);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(seqs.size(), size_t{kThreads * kPerThread});
  EXPECT_EQ(*seqs.begin(), 1u);
  EXPECT_EQ(*seqs.rbegin(), uint64_t{kThreads * kPerThread});
  EXPECT_LT(batches.load(), size_t{kThreads * kPerThread});
  EXPECT_GT(largest.load(), 1u);
  EXPECT_LE(largest.load(), 64u);
  auto report = Reader()->VerifyChain();
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->fault.has_value());
  EXPECT_EQ(report->rows, uint64_t{kThreads * kPerThread});
}

TEST_F(JournalTest, ReceivedAtNeverGoesBackwards) {
  auto journal = Open();
  AppendResult a = AppendOk(*journal, MakeRequest({}));
  clock_.Advance(-60'000);  // the wall clock stepped back
  AppendResult b = AppendOk(*journal, MakeRequest({}));
  EXPECT_EQ(b.received_at, a.received_at);
  EXPECT_FALSE(Reader()->VerifyChain()->fault.has_value());
}

TEST_F(JournalTest, RefusesAMalformedRequestOnTheCallersThread) {
  auto journal = Open();
  AppendRequest short_sig = MakeRequest({});
  short_sig.envelope.signature.pop_back();
  auto r = journal->AppendAsync(std::move(short_sig)).get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "bad_envelope");
  EXPECT_EQ(r.error().kind, base::ErrorKind::kInvalidInput);

  AppendRequest no_case = MakeRequest({});
  no_case.header.case_ref.clear();
  EXPECT_EQ(journal->AppendAsync(std::move(no_case)).get().error().code, "bad_envelope");
  EXPECT_EQ(journal->head_seq(), 0u);
}

TEST_F(JournalTest, RefusesABodyThatDoesNotMatchItsDigest) {
  auto journal = Open();
  AppendRequest request = MakeRequest({});
  request.envelope.body[3] ^= 0x40;
  auto r = journal->AppendAsync(std::move(request)).get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "digest_mismatch");
  EXPECT_EQ(r.error().message.find('\x40'), std::string::npos);
}

TEST_F(JournalTest, RefusesWrapsThatDoNotMatchTheirDigest) {
  auto journal = Open();
  AppendRequest request = MakeRequest({});
  request.envelope.wraps[0].sealed_key[0] ^= 1;
  EXPECT_EQ(journal->AppendAsync(std::move(request)).get().error().code, "digest_mismatch");
}

TEST_F(JournalTest, RefusesADecodedHeaderThatDiffersFromTheHeaderBytes) {
  auto journal = Open();
  AppendRequest request = MakeRequest({});
  request.header.case_ref = "c-someone-else";
  auto r = journal->AppendAsync(std::move(request)).get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "header_mismatch");
}

// Group commit: an acknowledgement waits (ack_wait) for a publish to share its transaction; the
// publish itself does not wait (max_wait 0) and takes the waiting acknowledgement along.
TEST_F(JournalTest, AnAcknowledgementRidesAlongWithTheNextAppend) {
  JournalOptions options = Options();
  options.max_wait = std::chrono::microseconds(0);
  options.ack_wait = std::chrono::seconds(30);
  std::mutex mu;
  std::vector<BatchStats> batches;
  options.on_batch = [&](const BatchStats& s) {
    std::lock_guard<std::mutex> lock(mu);
    batches.push_back(s);
  };
  auto journal = Open(options);
  EXPECT_EQ(AppendMany(*journal, 1)[0].seq, 1u);  // with its deliveries
  auto ack = journal->UpdateAsync(AckDelivery{"siao-75", 1, 7'000});
  EXPECT_EQ(ack.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout)
      << "the acknowledgement was committed alone, without waiting for company";
  EXPECT_EQ(AppendOk(*journal, MakeRequest({})).seq, 2u);
  ASSERT_EQ(ack.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "the append's transaction did not take the waiting acknowledgement";
  EXPECT_TRUE(ack.get().has_value());
  ASSERT_TRUE(journal->Close().has_value());
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].appends, 1u);
  EXPECT_EQ(batches[1].updates, 1u);
  auto rows = *Reader()->Deliveries("siao-75", 0, 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].acked_at, 7'000);
}

// Without a publish to ride along with, an acknowledgement is committed after ack_wait.
TEST_F(JournalTest, AnAcknowledgementAloneIsCommittedAfterItsWait) {
  JournalOptions options = Options();
  options.ack_wait = std::chrono::milliseconds(20);
  auto journal = Open(options);
  EXPECT_EQ(AppendMany(*journal, 1)[0].seq, 1u);
  EXPECT_TRUE(journal->UpdateAsync(AckDelivery{"siao-75", 1, 7'000}).get().has_value());
  auto rows = *Reader()->Deliveries("siao-75", 0, 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].acked_at, 7'000);
}

TEST_F(JournalTest, RefusesAppendsBeyondTheQueueBoundAsRetryLater) {
  JournalOptions options = Options();
  options.max_queued = 2;
  options.max_wait = std::chrono::milliseconds(300);  // the first two wait in the queue
  auto journal = Open(options);
  auto f1 = journal->AppendAsync(MakeRequest({}));
  auto f2 = journal->AppendAsync(MakeRequest({}));
  auto refused = journal->AppendAsync(MakeRequest({})).get();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "journal_overloaded");
  EXPECT_EQ(refused.error().kind, base::ErrorKind::kRetryLater);
  EXPECT_TRUE(f1.get().has_value());
  EXPECT_TRUE(f2.get().has_value());
  EXPECT_EQ(AppendOk(*journal, MakeRequest({})).seq, 3u);  // room again
}

TEST_F(JournalTest, SecondWriterOnTheSamePathIsRefused) {
  auto journal = Open();
  auto second = Journal::Open(Options(), clock_, &broker_.secret_key);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, "journal_locked");
  EXPECT_EQ(second.error().kind, base::ErrorKind::kRetryLater);
}

TEST_F(JournalTest, ReopenContinuesTheChain) {
  {
    auto journal = Open();
    AppendMany(*journal, 5);
  }
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(journal->head_seq(), 5u);
  EXPECT_EQ(AppendOk(*journal, MakeRequest({})).seq, 6u);
  ASSERT_TRUE(journal->Close().has_value());
  auto report = Reader()->VerifyChain();
  EXPECT_EQ(report->rows, 6u);
  EXPECT_FALSE(report->fault.has_value());
}

TEST_F(JournalTest, AFormatOneJournalIsUpgradedInPlaceOnOpen) {
  {
    auto journal = Open();
    AppendMany(*journal, 3);
  }
  // What a journal written before deliveries had acknowledgement times looks like.
  ExecRaw("ALTER TABLE deliveries DROP COLUMN acked_at; PRAGMA user_version=1;");
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(journal->head_seq(), 3u);
  ASSERT_TRUE(journal->UpdateAsync(AckDelivery{"siao-75", 2, 7'000}).get().has_value());
  ASSERT_TRUE(journal->Close().has_value());
  auto rows = *Reader()->Deliveries("siao-75", 0, 10);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[1].acked_at, 7'000);
  EXPECT_EQ(rows[0].acked_at, 0);
  EXPECT_FALSE(Reader()->VerifyChain()->fault.has_value());
}

TEST_F(JournalTest, EntriesFromTheStreamAreMarkedWithTheirStreamSeq) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  AppendOk(*journal, MakeRequest({}));  // published here
  AppendRequest foreign = MakeRequest({});
  foreign.mutations.push_back(FromStream{41});
  AppendOk(*journal, std::move(foreign));
  AppendOk(*journal, MakeRequest({}));
  ASSERT_TRUE(journal->Close().has_value());
  auto reader = Reader();
  auto origins = reader->StreamOrigins(1, 3);
  ASSERT_TRUE(origins.has_value());
  EXPECT_EQ(*origins, (std::map<uint64_t, uint64_t>{{2, 41}}));
  EXPECT_EQ(*reader->LastStreamOrigin(), 41u);
  EXPECT_TRUE(reader->StreamOrigins(3, 3)->empty());
}

// Another instance's event read after its case key was destroyed comes without its sealed bytes:
// it is stored as an erased entry (the chain still verifies). The same envelope published here,
// or from the stream with a body that does not match, is refused.
TEST_F(JournalTest, AStreamEventWithoutItsShreddedSealedBytesIsStoredErased) {
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  AppendRequest shredded = MakeRequest({});
  shredded.envelope.body.clear();
  shredded.envelope.wraps.clear();
  AppendRequest local = shredded;
  auto refused = journal->AppendAsync(std::move(local)).get();
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "digest_mismatch");
  AppendRequest tampered = MakeRequest({});
  tampered.envelope.body[0] ^= 1;
  tampered.mutations.push_back(FromStream{8});
  auto bad = journal->AppendAsync(std::move(tampered)).get();
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, "digest_mismatch");
  shredded.mutations.push_back(FromStream{9});
  EXPECT_EQ(AppendOk(*journal, std::move(shredded)).seq, 1u);
  ASSERT_TRUE(journal->Close().has_value());
  auto stored = Reader()->Get(1);
  ASSERT_TRUE(stored.has_value()) << stored.error().ToString();
  ASSERT_TRUE(stored->has_value());
  EXPECT_TRUE((*stored)->erased);
  EXPECT_FALSE(Reader()->VerifyChain()->fault.has_value());
}

// A journal that trusts its caller's checks (the broker's) still checks events from the stream.
TEST_F(JournalTest, AStreamEventWithAWrongDigestIsRefusedEvenWithoutChecks) {
  JournalOptions options = Options();
  options.check_appends = false;
  auto journal = Open(options);
  ASSERT_NE(journal, nullptr);
  AppendRequest tampered = MakeRequest({});
  tampered.envelope.body[0] ^= 1;
  AppendRequest local = tampered;
  tampered.mutations.push_back(FromStream{8});
  auto bad = journal->AppendAsync(std::move(tampered)).get();
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, "digest_mismatch");
  AppendRequest wraps = MakeRequest({});
  wraps.envelope.wraps.front().sealed_key[0] ^= 1;
  wraps.mutations.push_back(FromStream{9});
  EXPECT_EQ(journal->AppendAsync(std::move(wraps)).get().error().code, "digest_mismatch");
  // The same bytes from the caller are taken as checked: stored as they are.
  EXPECT_EQ(AppendOk(*journal, std::move(local)).seq, 1u);
}

TEST_F(JournalTest, AFormatThreeJournalGainsTheStreamOriginTable) {
  {
    auto journal = Open();
    AppendMany(*journal, 2);
  }
  ExecRaw("DROP TABLE stream_origin; PRAGMA user_version=3;");
  auto journal = Open();
  ASSERT_NE(journal, nullptr);
  AppendRequest foreign = MakeRequest({});
  foreign.mutations.push_back(FromStream{7});
  AppendOk(*journal, std::move(foreign));
  ASSERT_TRUE(journal->Close().has_value());
  EXPECT_EQ(*Reader()->LastStreamOrigin(), 7u);
  EXPECT_FALSE(Reader()->VerifyChain()->fault.has_value());
}

TEST_F(JournalTest, AppendAfterCloseFailsWithJournalClosed) {
  auto journal = Open();
  ASSERT_TRUE(journal->Close().has_value());
  auto r = journal->AppendAsync(MakeRequest({})).get();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, "journal_closed");
  EXPECT_EQ(journal->health().error().code, "journal_closed");
}

TEST_F(JournalTest, CloseFinishesQueuedAppends) {
  JournalOptions options = Options();
  options.max_wait = std::chrono::milliseconds(50);
  auto journal = Open(options);
  std::vector<std::future<base::Result<AppendResult>>> futures;
  for (int i = 0; i < 20; ++i) futures.push_back(journal->AppendAsync(MakeRequest({})));
  ASSERT_TRUE(journal->Close().has_value());
  for (auto& f : futures) EXPECT_TRUE(f.get().has_value());
  EXPECT_EQ(Reader()->GetHead()->seq, 20u);
}

TEST_F(JournalTest, ARealSealedEnvelopeComesBackVerifiableAndOpenable) {
  crypto::AgencyIdentity emitter = crypto::GenerateIdentity("hopital-nord", clock_.NowMs());
  crypto::AgencyIdentity siao = crypto::GenerateIdentity("siao-75", clock_.NowMs());
  AppendRequest request = MakeRequest({.recipients = {"siao-75"}});
  request.header.emitter_key_id = emitter.pub.key_id;
  const schema::EventBody body = schema::NoteBody{"rendez-vous mardi"};
  auto sealed = crypto::SealEnvelope(request.header, body,
                                     {{"siao-75", siao.pub.key_id, siao.pub.seal_public}},
                                     emitter.sign_secret);
  ASSERT_TRUE(sealed.has_value()) << sealed.error().ToString();
  request.envelope = *sealed;
  auto journal = Open();
  AppendResult r = AppendOk(*journal, std::move(request));
  auto stored = Reader()->Get(r.seq);
  ASSERT_TRUE(stored.has_value() && stored->has_value());
  EXPECT_EQ((*stored)->envelope, *sealed);
  EXPECT_TRUE(crypto::VerifyEnvelope((*stored)->envelope, emitter.pub.sign_public).has_value());
  auto opened = crypto::OpenEnvelope((*stored)->envelope, siao);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, body);
}

}  // namespace
}  // namespace relais::journal
