// Unit tests of the start-up recovery while serving (suite CaseRecovery, label lifecycle): on a
// real journal store, admission decisions taken while the replay is half done (each case loaded on
// demand) equal those of a full replay, and the engine ends in the same state.
#include "broker/case_recovery.h"

#include <gtest/gtest.h>

#include "broker/case_journal_fixture.h"

namespace relais::broker {
namespace {

using namespace case_testing;  // NOLINT(build/namespaces): the fixture's helpers

TEST_F(CaseRecoveryTest, DecisionsWhileReplayingEqualThoseOfAFullReplay) {
  FillJournal();
  const uint64_t head = store_->HeadSeq();
  ASSERT_GT(head, 60u);

  CaseEngine full(CaseEngineOptions{});
  CaseRecovery full_recovery(*store_, full, registry_, kNow);
  Finish(full_recovery);

  CaseEngine partial(CaseEngineOptions{});
  CaseRecovery recovery(*store_, partial, registry_, kNow);
  // Half of the journal replayed: every case has entries on both sides of the position.
  ASSERT_TRUE(recovery.Step(1000, 1'000'000, head / 2));
  ASSERT_EQ(recovery.next_seq(), head / 2 + 1);
  ASSERT_FALSE(recovery.done());

  size_t refusals = 0, admissions = 0;
  for (int i = 0; i < kCases; ++i) {
    for (const auto& h : Probes(i)) {
      ASSERT_TRUE(recovery.Prepare(h));
      const std::string expected = Decision(full, *registry_, h);
      EXPECT_EQ(Decision(partial, *registry_, h), expected)
          << schema::EventKindName(h.kind) << " " << h.case_ref;
      (expected == "ok" ? admissions : refusals)++;
    }
  }
  // The probes exercise both outcomes, and the refusals the tests below name.
  EXPECT_GT(admissions, 20u);
  EXPECT_GT(refusals, 60u);
  EXPECT_EQ(Decision(full, *registry_, Grant(CaseRef(0), ConsentId(7))), "invalid_transition");
  EXPECT_EQ(Decision(full, *registry_, Event(EventKind::kAccepted, CaseRef(3), "assoc-b")),
            "already_accepted");
  EXPECT_EQ(Decision(full, *registry_, Grant(CaseRef(0), LateConsentId(7))), "invalid_transition");
  EXPECT_FALSE(recovery.done());

  Finish(recovery);
  EXPECT_EQ(Snapshot(partial), Snapshot(full));
  EXPECT_EQ(partial.counts().escalations, full.counts().escalations);
  EXPECT_EQ(partial.counts().accepted_in_time, full.counts().accepted_in_time);
  EXPECT_EQ(partial.EscalationsPending(), full.EscalationsPending());
  EXPECT_EQ(partial.NextTimer(), full.NextTimer());
  EXPECT_EQ(recovery.events(), full_recovery.events());
  EXPECT_EQ(recovery.events(), head);
  EXPECT_EQ(EmissionIds(recovery.emissions()), EmissionIds(full_recovery.emissions()));
  EXPECT_FALSE(full_recovery.emissions().empty());  // offer_taken, purge requests
  EXPECT_EQ(std::set<std::string>(recovery.erased().begin(), recovery.erased().end()),
            std::set<std::string>(full_recovery.erased().begin(), full_recovery.erased().end()));
  EXPECT_TRUE(recovery.loaded().empty());  // dropped at the end
}

// The same probes without loading the cases first give other answers: the test above would see
// a recovery that forgot to load.
TEST_F(CaseRecoveryTest, WithoutLoadingTheCaseDecisionsDiffer) {
  FillJournal();
  const uint64_t head = store_->HeadSeq();
  CaseEngine full(CaseEngineOptions{});
  CaseRecovery full_recovery(*store_, full, registry_, kNow);
  Finish(full_recovery);
  CaseEngine partial(CaseEngineOptions{});
  CaseRecovery recovery(*store_, partial, registry_, kNow);
  ASSERT_TRUE(recovery.Step(1000, 1'000'000, head / 2));
  size_t differ = 0;
  for (int i = 0; i < kCases; ++i) {
    for (const auto& h : Probes(i)) {
      differ += Decision(partial, *registry_, h) != Decision(full, *registry_, h);
    }
  }
  EXPECT_GT(differ, 10u);
}

// Events admitted and journaled while the replay runs are applied once, after their commit: the
// replay stops at the head seq it started from, and skips the loaded cases.
TEST_F(CaseRecoveryTest, LiveEventsDuringTheReplayAreAppliedOnce) {
  FillJournal();
  const uint64_t head = store_->HeadSeq();
  CaseEngine partial(CaseEngineOptions{});
  CaseRecovery recovery(*store_, partial, registry_, kNow);
  ASSERT_TRUE(recovery.Step(1000, 1'000'000, head / 3));
  // Live: an accept of case 2 (referred, undecided) and a new case.
  schema::Header accept = Event(EventKind::kAccepted, CaseRef(2), "assoc-b");
  ASSERT_TRUE(recovery.Prepare(accept));
  ASSERT_GT(Publish(partial, accept), head);
  schema::Header grant = Grant("new-case", "new-consent");
  ASSERT_TRUE(recovery.Prepare(grant));
  ASSERT_GT(Publish(partial, grant), head);
  Finish(recovery);

  CaseEngine full(CaseEngineOptions{});
  CaseRecovery full_recovery(*store_, full, registry_, kNow);
  Finish(full_recovery);
  EXPECT_EQ(Snapshot(partial), Snapshot(full));
  ASSERT_NE(partial.Case(CaseRef(2)), nullptr);
  EXPECT_EQ(partial.Case(CaseRef(2))->acceptor, "assoc-b");
  EXPECT_EQ(partial.counts().accepted_in_time, full.counts().accepted_in_time);
  EXPECT_EQ(Decision(partial, *registry_, Grant(CaseRef(1), "new-consent")), "invalid_transition");
}

// While the replay runs only loaded cases fire: a half-replayed case may miss a journaled event.
TEST_F(CaseRecoveryTest, OnlyLoadedCasesFireTheirTimersDuringTheReplay) {
  FillJournal();
  CaseEngine partial(CaseEngineOptions{});
  CaseRecovery recovery(*store_, partial, registry_, kNow);
  ASSERT_TRUE(recovery.Step(1000, 1'000'000, store_->HeadSeq() - 5));
  const base::TimeMs late = kDue + 30 * base::kMsPerDay;  // every deadline passed
  ASSERT_LE(partial.NextTimer(), late);                   // half-built cases are armed
  ASSERT_TRUE(recovery.Load(CaseRef(4)));                 // referred, never answered
  auto fired = partial.DueTimersOf(recovery.loaded(), late, *registry_);
  ASSERT_FALSE(fired.empty());
  for (const auto& e : fired) EXPECT_EQ(e.header.case_ref, CaseRef(4));
  EXPECT_TRUE(partial.DueTimersOf(recovery.loaded(), late, *registry_).empty());  // once
}

TEST_F(CaseRecoveryTest, ReplayCaseReadsOneCaseFromASeq) {
  FillJournal();
  std::vector<uint64_t> seqs;
  auto collect = [&](uint64_t seq, const base::Bytes& header) {
    auto h = schema::DecodeHeader(header);
    EXPECT_TRUE(h && h->case_ref == CaseRef(6));
    seqs.push_back(seq);
    return true;
  };
  ASSERT_TRUE(store_->ReplayCase(CaseRef(6), 1, collect));
  ASSERT_EQ(seqs.size(), 3u);  // consent, referral, accept
  EXPECT_TRUE(std::is_sorted(seqs.begin(), seqs.end()));
  const uint64_t second = seqs[1];
  seqs.clear();
  ASSERT_TRUE(store_->ReplayCase(CaseRef(6), second, collect));
  EXPECT_EQ(seqs.size(), 2u);
  seqs.clear();
  ASSERT_TRUE(store_->ReplayCase("no-such-case", 1, collect));
  EXPECT_TRUE(seqs.empty());
  auto owner = store_->ConsentCase(ConsentId(5));
  ASSERT_TRUE(owner);
  EXPECT_EQ(owner->value_or(""), CaseRef(5));
  auto none = store_->ConsentCase("no-such-consent");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
}

}  // namespace
}  // namespace relais::broker
