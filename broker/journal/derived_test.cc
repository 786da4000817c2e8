// Derived tables: mutations applied with appends, delivery updates, cursors, and rebuild by
// replay giving the same tables as the live journal.
#include "broker/journal/derived.h"

#include <gtest/gtest.h>

#include "broker/journal/testing/events.h"
#include "broker/journal/testing/fixture.h"

namespace relais::journal {
namespace {

using testing::EventSpec;
using testing::MakeRequest;
using K = schema::EventKind;

class DerivedTest : public testing::JournalFixture {
 protected:
  void SetUp() override { journal_ = Open(); }
  AppendResult Event(EventSpec spec) {
    AppendRequest r = MakeRequest(spec);
    r.mutations = testing::DeriveFromHeader(r.header);
    return AppendOk(*journal_, std::move(r));
  }
  base::Status Apply(DeliveryUpdate u) { return journal_->UpdateAsync(std::move(u)).get(); }
  std::vector<DeliveryRow> DeliveriesOf(const std::string& agency) {
    return *Reader()->Deliveries(agency, 0, 1000);
  }
  std::unique_ptr<Journal> journal_;
};

TEST_F(DerivedTest, AnAppendCreatesPendingDeliveriesAndTheCaseState) {
  AppendResult r = Event({.case_ref = "c-1", .due_at = 5000});
  auto reader = Reader();
  EXPECT_EQ(*reader->Pending("siao-75", 0, 10), (std::vector<uint64_t>{r.seq}));
  EXPECT_EQ(*reader->Pending("asso-abri", 0, 10), (std::vector<uint64_t>{r.seq}));
  EXPECT_TRUE(reader->Pending("someone-else", 0, 10)->empty());
  auto c = reader->Case("c-1");
  ASSERT_TRUE(c.has_value() && c->has_value());
  EXPECT_EQ(**c, (CaseRow{"c-1", K::kReferral, "referral", 5000, r.seq}));
  EXPECT_FALSE(reader->Case("c-unknown")->has_value());
}

TEST_F(DerivedTest, TheCaseFollowsItsLastEvent) {
  Event({.case_ref = "c-1"});
  AppendResult accepted = Event({.kind = K::kAccepted, .case_ref = "c-1", .due_at = 7});
  auto c = *Reader()->Case("c-1");
  EXPECT_EQ(c->last_kind, K::kAccepted);
  EXPECT_EQ(c->state, "accepted");
  EXPECT_EQ(c->updated_seq, accepted.seq);
  EXPECT_EQ(c->due_at, 7);
}

TEST_F(DerivedTest, ConsentsAreGrantedAndWithdrawnAtTheirSeq) {
  AppendResult granted =
      Event({.kind = K::kConsentGranted, .case_ref = "c-1", .consent_id = "consent-1"});
  Event({.case_ref = "c-1"});
  AppendResult withdrawn =
      Event({.kind = K::kConsentWithdrawn, .case_ref = "c-1", .consent_id = "consent-1"});
  auto consents = *Reader()->Consents("c-1");
  ASSERT_EQ(consents.size(), 1u);
  EXPECT_EQ(consents[0], (ConsentRow{"consent-1", "c-1", base::ToBytes("consent-1:terms"), false,
                                     granted.seq, withdrawn.seq}));
}

TEST_F(DerivedTest, WithdrawalStopsPendingDeliveriesOfThatCaseOnly) {
  AppendResult a = Event({.case_ref = "c-1"});
  AppendResult b = Event({.case_ref = "c-2"});
  AppendResult acked = Event({.case_ref = "c-1"});
  ASSERT_TRUE(Apply(AckDelivery{"siao-75", acked.seq}).has_value());
  Event({.kind = K::kConsentWithdrawn, .case_ref = "c-1", .consent_id = "consent-1"});
  auto rows = DeliveriesOf("siao-75");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].seq, a.seq);
  EXPECT_EQ(rows[0].state, DeliveryState::kDead);
  EXPECT_EQ(rows[0].reason, "consent_withdrawn");
  EXPECT_EQ(rows[1].seq, b.seq);
  EXPECT_EQ(rows[1].state, DeliveryState::kPending);
  EXPECT_EQ(rows[2].state, DeliveryState::kAcked);  // already delivered: stays acked
}

TEST_F(DerivedTest, TheFirstAcknowledgementTimeIsKeptForTheReceipt) {
  AppendResult r = Event({.case_ref = "c-1"});
  AppendResult other = Event({.case_ref = "c-2"});
  ASSERT_TRUE(Apply(AckDelivery{"siao-75", r.seq, 1'000}).has_value());
  ASSERT_TRUE(Apply(AckDelivery{"siao-75", r.seq, 9'000}).has_value());  // a re-ack
  ASSERT_TRUE(Apply(AdvanceCursor{"asso-abri", r.seq, 2'000}).has_value());
  auto rows = *Reader()->Disclosures("c-1");
  ASSERT_EQ(rows.size(), 2u);  // one entry, two recipients
  EXPECT_EQ(rows[0].seq, r.seq);
  EXPECT_EQ(rows[0].agency, "asso-abri");
  EXPECT_EQ(rows[0].state, DeliveryState::kAcked);
  EXPECT_EQ(rows[0].acked_at, 2'000);
  EXPECT_EQ(rows[1].agency, "siao-75");
  EXPECT_EQ(rows[1].acked_at, 1'000);
  EXPECT_EQ(rows[1].kind, K::kReferral);
  auto c2 = *Reader()->Disclosures("c-2");
  ASSERT_EQ(c2.size(), 2u);
  EXPECT_EQ(c2[0].seq, other.seq);
  EXPECT_EQ(c2[0].state, DeliveryState::kPending);
  EXPECT_EQ(c2[0].acked_at, 0);
  EXPECT_TRUE(Reader()->Disclosures("c-unknown")->empty());
}

TEST_F(DerivedTest, CursorIsTheEndOfTheSettledPrefix) {
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 4; ++i) seqs.push_back(Event({}).seq);
  auto cursor = [&] { return *Reader()->Cursor("siao-75"); };
  EXPECT_EQ(cursor(), 0u);
  ASSERT_TRUE(Apply(AckDelivery{"siao-75", seqs[1]}).has_value());
  EXPECT_EQ(cursor(), 0u);  // seq 1 still pending
  ASSERT_TRUE(Apply(AckDelivery{"siao-75", seqs[0]}).has_value());
  EXPECT_EQ(cursor(), seqs[1]);
  ASSERT_TRUE(Apply(DeadLetter{"siao-75", seqs[2], 10, "receiver_rejects"}).has_value());
  EXPECT_EQ(cursor(), seqs[2]);  // dead letters are settled
  EXPECT_EQ(*Reader()->Pending("siao-75", 0, 10), (std::vector<uint64_t>{seqs[3]}));
  ASSERT_TRUE(Apply(RequeueDelivery{"siao-75", seqs[2]}).has_value());
  EXPECT_EQ(cursor(), seqs[1]);  // a requeue moves it back
  ASSERT_TRUE(Apply(AdvanceCursor{"siao-75", seqs[3]}).has_value());
  EXPECT_EQ(cursor(), seqs[3]);
  EXPECT_TRUE(Reader()->Pending("siao-75", 0, 10)->empty());
  EXPECT_EQ(*Reader()->Cursor("asso-abri"), 0u);
}

// One request acknowledges an ack frame's seqs; a seq with no delivery to the agency is named
// in the error, and the others are acknowledged all the same.
TEST_F(DerivedTest, OneRequestAcknowledgesSeveralSeqs) {
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 4; ++i) seqs.push_back(Event({}).seq);
  AckDelivery ack{"siao-75", seqs[0], 1'000};
  ack.more = {seqs[1], seqs[2]};
  ASSERT_TRUE(Apply(ack).has_value());
  EXPECT_EQ(*Reader()->Cursor("siao-75"), seqs[2]);
  EXPECT_EQ(*Reader()->Pending("siao-75", 0, 10), (std::vector<uint64_t>{seqs[3]}));
  AckDelivery with_unknown{"siao-75", seqs[3], 2'000};
  with_unknown.more = {seqs[3] + 100, seqs[0]};
  auto missing = Apply(with_unknown);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, "no_delivery");
  EXPECT_NE(missing.error().message.find(std::to_string(seqs[3] + 100)), std::string::npos);
  EXPECT_TRUE(Reader()->Pending("siao-75", 0, 10)->empty());  // seqs[3] acknowledged
  auto rows = DeliveriesOf("siao-75");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].acked_at, 1'000);  // the first acknowledgement time is kept
  EXPECT_EQ(rows[3].acked_at, 2'000);
}

TEST_F(DerivedTest, AttemptsAndDeadLettersAreRecorded) {
  AppendResult r = Event({});
  ASSERT_TRUE(Apply(RecordAttempt{"siao-75", r.seq, 2, 12345}).has_value());
  DeliveryRow row = DeliveriesOf("siao-75")[0];
  EXPECT_EQ(row.attempts, 2u);
  EXPECT_EQ(row.next_attempt_at, 12345);
  ASSERT_TRUE(Apply(DeadLetter{"siao-75", r.seq, 3, "timeout"}).has_value());
  auto dead = *Reader()->DeadLetters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0], (DeliveryRow{"siao-75", r.seq, DeliveryState::kDead, 3, 12345, "timeout"}));
  ASSERT_TRUE(Apply(RequeueDelivery{"", r.seq}).has_value());
  EXPECT_TRUE(Reader()->DeadLetters()->empty());
  EXPECT_EQ(DeliveriesOf("siao-75")[0].attempts, 0u);
}

TEST_F(DerivedTest, UpdatesOfUnknownDeliveriesReportNotFound) {
  AppendResult r = Event({});
  auto ack = Apply(AckDelivery{"nobody", r.seq});
  ASSERT_FALSE(ack.has_value());
  EXPECT_EQ(ack.error().code, "no_delivery");
  EXPECT_EQ(Apply(RecordAttempt{"siao-75", 999, 1, 0}).error().code, "no_delivery");
  EXPECT_EQ(Apply(RequeueDelivery{"siao-75", r.seq}).error().code, "no_dead_letter");
  // The failed updates shared their batch with nothing else and changed nothing.
  EXPECT_EQ(DeliveriesOf("siao-75")[0].state, DeliveryState::kPending);
}

class RebuildTest : public DerivedTest {
 protected:
  // A history touching every table: cases, consents, deliveries in all states, cursors.
  void BuildHistory() {
    for (int c = 0; c < 5; ++c) {
      const std::string ref = "c-" + std::to_string(c);
      Event({.kind = K::kConsentGranted, .case_ref = ref, .consent_id = "k-" + ref});
      Event({.case_ref = ref, .due_at = 1000 * c});
      Event({.kind = K::kAccepted, .case_ref = ref, .recipients = {"hopital-nord"}});
    }
    Event({.kind = K::kConsentWithdrawn, .case_ref = "c-3", .consent_id = "k-c-3"});
    for (uint64_t seq = 1; seq <= 6; ++seq) (void)Apply(AckDelivery{"siao-75", seq});
    (void)Apply(DeadLetter{"asso-abri", 5, 10, "timeout"});
    (void)Apply(RecordAttempt{"asso-abri", 8, 4, 99});
    (void)Apply(AdvanceCursor{"hopital-nord", 9});
  }
};

TEST_F(RebuildTest, RebuildByReplayEqualsTheLiveTables) {
  BuildHistory();
  const std::string live = *Reader()->DumpDerived();
  EXPECT_NE(live.find("consent_withdrawn"), std::string::npos);
  EXPECT_NE(live.find("\tacked\t"), std::string::npos);
  ASSERT_TRUE(journal_->Rebuild(testing::DeriveFromEntry).has_value());
  EXPECT_EQ(*Reader()->DumpDerived(), live);
}

TEST_F(RebuildTest, RebuildRepairsDamagedPureTablesAndKeepsAcknowledgements) {
  BuildHistory();
  const std::string live = *Reader()->DumpDerived();
  ASSERT_TRUE(journal_->Close().has_value());
  ExecRaw(
      "DELETE FROM cases WHERE case_ref = 'c-1'; UPDATE consents SET active = 1;"
      "DELETE FROM deliveries WHERE seq = 2 AND agency = 'asso-abri'; DELETE FROM cursors;");
  journal_ = Open();
  EXPECT_NE(*Reader()->DumpDerived(), live);
  ASSERT_TRUE(journal_->Rebuild(testing::DeriveFromEntry).has_value());
  EXPECT_EQ(*Reader()->DumpDerived(), live);
}

TEST_F(RebuildTest, RebuildOfAFreshCopyRederivesPendingDeliveries) {
  BuildHistory();
  const std::string live = *Reader()->DumpDerived();
  ASSERT_TRUE(journal_->Close().has_value());
  ExecRaw("DELETE FROM deliveries; DELETE FROM cursors; DELETE FROM cases; DELETE FROM consents;");
  journal_ = Open();
  ASSERT_TRUE(journal_->Rebuild(testing::DeriveFromEntry).has_value());
  auto reader = Reader();
  // Acknowledgements are not log events: without the old table they are lost, and the
  // deliveries come back pending (or dead where the log stopped them).
  EXPECT_EQ(*reader->Cursor("siao-75"), 0u);
  EXPECT_EQ(reader->Pending("siao-75", 0, 100)->size(), 8u);
  EXPECT_EQ(reader->Case("c-4")->value().state, "accepted");
}

}  // namespace
}  // namespace relais::journal
