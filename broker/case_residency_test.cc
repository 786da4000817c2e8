// Unit tests of the case engine's bounded residency (suite CaseResidency, label lifecycle): on a
// real journal store, an engine that keeps a few cases in memory and reads the others back from
// the journal decides, applies, fires and counts as one that keeps every case.
#include <gtest/gtest.h>

#include <random>

#include "broker/case_journal_fixture.h"

namespace relais::broker {
namespace {

using namespace case_testing;  // NOLINT(build/namespaces): the fixture's helpers

class CaseResidencyTest : public CaseRecoveryTest {
 protected:
  // An engine rebuilt by a full replay of the journal, then bounded to `max_resident` cases
  // (0: unbounded), as relaisd does when its start-up replay ends.
  std::unique_ptr<CaseEngine> Replayed(size_t max_resident) {
    CaseEngineOptions options;
    options.max_resident_cases = max_resident;
    auto engine = std::make_unique<CaseEngine>(options);
    CaseRecovery recovery(*store_, *engine, registry_, kNow);
    Finish(recovery);
    engine->BoundResidency(store_.get(), store_->HeadSeq(), [this] { return registry_; });
    return engine;
  }

  // Every case, each read back in turn (and evicting others).
  std::map<std::string, CaseView> ReadBackAll(CaseEngine& engine) {
    std::map<std::string, CaseView> out;
    for (const auto& ref : AllCaseRefs()) {
      EXPECT_TRUE(engine.EnsureCase(ref));
      if (const CaseState* c = engine.Case(ref)) out[ref] = View(*c);
    }
    return out;
  }
};

TEST_F(CaseResidencyTest, ABoundedEngineDecidesAsOneWithEveryCase) {
  FillJournal();
  auto full = Replayed(0);
  auto bounded = Replayed(3);
  EXPECT_LE(bounded->Residency().resident, 3u);
  EXPECT_GE(bounded->Residency().evictions, static_cast<uint64_t>(kCases));
  size_t refusals = 0, admissions = 0;
  for (int i = 0; i < kCases; ++i) {
    for (const auto& h : Probes(i)) {
      ASSERT_TRUE(bounded->Ensure(h));
      const std::string expected = Decision(*full, *registry_, h);
      EXPECT_EQ(Decision(*bounded, *registry_, h), expected)
          << schema::EventKindName(h.kind) << " " << h.case_ref;
      (expected == "ok" ? admissions : refusals)++;
    }
  }
  EXPECT_GT(admissions, 20u);
  EXPECT_GT(refusals, 60u);
  // "consent id already used for another case" needs the owner, evicted, read back.
  EXPECT_EQ(Decision(*bounded, *registry_, Grant(CaseRef(0), ConsentId(7))), "ok")
      << "without Ensure the owner is not in memory";
  ASSERT_TRUE(bounded->Ensure(Grant(CaseRef(0), ConsentId(7))));
  EXPECT_EQ(Decision(*bounded, *registry_, Grant(CaseRef(0), ConsentId(7))), "invalid_transition");

  const auto expected = Snapshot(*full);
  EXPECT_GT(expected.size(), static_cast<size_t>(kCases) - 1);
  EXPECT_EQ(ReadBackAll(*bounded), expected);
  EXPECT_LE(bounded->Residency().resident, 3u);
  EXPECT_GT(bounded->Residency().loads, static_cast<uint64_t>(kCases));
  EXPECT_EQ(bounded->EscalationsPending(), full->EscalationsPending());
}

// The start-up replay itself keeps only a few cases in memory: a case evicted half-way is read
// back when the replay reaches its next entry, or when an event needs it while the replay runs.
// Decisions, the final state, the counts and what the recovery collects (emissions to re-emit,
// erasures to finish) are those of a replay that keeps every case.
TEST_F(CaseResidencyTest, TheStartUpReplayRunsWithFewCasesInMemory) {
  FillJournal();
  const uint64_t head = store_->HeadSeq();
  CaseEngine full(CaseEngineOptions{});
  CaseRecovery full_recovery(*store_, full, registry_, kNow);
  Finish(full_recovery);

  CaseEngineOptions options;
  options.max_resident_cases = 3;
  CaseEngine bounded(options);
  bounded.BoundResidency(store_.get(), 0, [this] { return registry_; });
  CaseRecovery recovery(*store_, bounded, registry_, kNow);
  ASSERT_TRUE(recovery.Step(1000, 1'000'000, head / 2));
  EXPECT_LE(bounded.Residency().resident, 3u);
  EXPECT_GT(bounded.Residency().evictions, static_cast<uint64_t>(kCases));
  for (int i = 0; i < kCases; ++i) {
    for (const auto& h : Probes(i)) {
      ASSERT_TRUE(recovery.Prepare(h));
      EXPECT_EQ(Decision(bounded, *registry_, h), Decision(full, *registry_, h))
          << schema::EventKindName(h.kind) << " " << h.case_ref;
    }
  }
  // The loaded cases stay in memory until the replay ends, whatever the bound.
  EXPECT_GE(bounded.Residency().resident, static_cast<size_t>(kCases));
  Finish(recovery);
  bounded.EndReplay(head);
  EXPECT_LE(bounded.Residency().resident, 3u);
  EXPECT_GT(bounded.Residency().loads, 0u);

  EXPECT_EQ(recovery.events(), head);
  EXPECT_EQ(EmissionIds(recovery.emissions()), EmissionIds(full_recovery.emissions()));
  EXPECT_EQ(std::set<std::string>(recovery.erased().begin(), recovery.erased().end()),
            std::set<std::string>(full_recovery.erased().begin(), full_recovery.erased().end()));
  EXPECT_EQ(bounded.NextTimer(), full.NextTimer());
  EXPECT_EQ(bounded.counts().accepted_in_time, full.counts().accepted_in_time);
  EXPECT_EQ(bounded.EscalationsPending(), full.EscalationsPending());
  EXPECT_EQ(ReadBackAll(bounded), Snapshot(full));
}

// An event admitted for a case that is evicted before the event commits: Apply reads the case
// back (up to the last applied seq, so without the event) and then applies the event.
TEST_F(CaseResidencyTest, EventsOfCasesEvictedBeforeTheirCommitApplyOnce) {
  FillJournal();
  auto full = Replayed(0);
  auto bounded = Replayed(2);
  size_t applied = 0;
  for (int i = 0; i < kCases; ++i) {
    const std::string ref = CaseRef(i);
    for (const auto& h : {Event(schema::EventKind::kAccepted, ref, "assoc-b"),
                          Grant(ref, "again-" + std::to_string(i)),
                          Event(schema::EventKind::kClosed, ref, "hospital")}) {
      ASSERT_TRUE(bounded->Ensure(h));
      auto mutations = bounded->Admit(h, *registry_, kNow);
      ASSERT_EQ(Decision(*full, *registry_, h), mutations ? "ok" : mutations.error().code);
      if (!mutations) continue;
      // Two other cases used meanwhile: with two in memory, this one is evicted.
      ASSERT_TRUE(bounded->EnsureCase(CaseRef((i + 1) % kCases)));
      ASSERT_TRUE(bounded->EnsureCase(CaseRef((i + 2) % kCases)));
      ASSERT_EQ(bounded->Case(ref), nullptr);
      const uint64_t seq = JournalEvent(h, std::move(mutations).value());
      ASSERT_NE(seq, 0u);
      Effects want = full->Apply(h, seq, registry_.get(), kNow);
      Effects got = bounded->Apply(h, seq, registry_.get(), kNow);
      EXPECT_EQ(EmissionIds(got.emissions), EmissionIds(want.emissions));
      EXPECT_EQ(got.withhold, want.withhold);
      ++applied;
    }
  }
  EXPECT_GT(applied, static_cast<size_t>(kCases));
  EXPECT_EQ(ReadBackAll(*bounded), Snapshot(*full));
  EXPECT_EQ(bounded->counts().accepted_in_time, full->counts().accepted_in_time);
}

// Deadlines of evicted cases fire, once each, as they do when every case is in memory.
TEST_F(CaseResidencyTest, DeadlinesOfEvictedCasesFire) {
  FillJournal();
  auto full = Replayed(0);
  auto bounded = Replayed(2);
  EXPECT_EQ(bounded->NextTimer(), full->NextTimer());
  // Read back and evicted again and again: each deadline stays queued once.
  ReadBackAll(*bounded);
  const size_t queued = bounded->Residency().dormant_timers;
  EXPECT_GT(queued, static_cast<size_t>(kCases) / 2);
  ReadBackAll(*bounded);
  ReadBackAll(*bounded);
  EXPECT_EQ(bounded->Residency().dormant_timers, queued);
  const base::TimeMs late = kDue + 30 * base::kMsPerDay;  // every deadline passed
  std::vector<Emission> want = full->DueTimers(late, *registry_);
  ASSERT_FALSE(want.empty());
  std::vector<Emission> got;
  for (int tick = 0; tick < 10 && bounded->NextTimer() <= late; ++tick) {
    for (auto& e : bounded->DueTimers(late, *registry_)) got.push_back(std::move(e));
  }
  EXPECT_EQ(EmissionIds(got), EmissionIds(want));
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(bounded->DueTimers(late, *registry_).empty());
  EXPECT_LE(bounded->Residency().resident, 2u);

  // An emission that could not be journaled fires again, although its case was evicted since.
  const Emission& failed = got.front();
  for (int i = 0; i < kCases; ++i) ASSERT_TRUE(bounded->EnsureCase(CaseRef(i)));
  bounded->Unfire(failed);
  auto again = bounded->DueTimers(late, *registry_);
  EXPECT_EQ(EmissionIds(again).count(crypto::FormatUuid(failed.header.event_id)), 1u);

  // Once journaled, the escalations and ruptures count once, however often their cases are read
  // back, and they are not due again.
  for (const Emission& e : want) {
    const uint64_t seq = JournalEvent(e.header, {});
    ASSERT_NE(seq, 0u);
    full->Apply(e.header, seq, registry_.get(), late);
    bounded->Apply(e.header, seq, registry_.get(), late);
  }
  EXPECT_GT(full->counts().escalations, 0u);
  EXPECT_GT(full->counts().ruptures, 0u);
  EXPECT_EQ(ReadBackAll(*bounded), Snapshot(*full));
  EXPECT_EQ(ReadBackAll(*bounded), Snapshot(*full));
  EXPECT_EQ(bounded->counts().escalations, full->counts().escalations);
  EXPECT_EQ(bounded->counts().ruptures, full->counts().ruptures);
  EXPECT_EQ(bounded->EscalationsPending(), full->EscalationsPending());
  EXPECT_GT(full->EscalationsPending(), 0u);
  EXPECT_TRUE(bounded->DueTimers(late, *registry_).empty());
}

// Random sequences of every kind of event over a few cases, with time moving on: an engine that
// keeps two cases in memory decides, applies and fires exactly as one that keeps them all.
TEST_F(CaseResidencyTest, RandomSequencesGiveTheSameDecisionsAndEffects) {
  auto full = Replayed(0);
  auto bounded = Replayed(2);
  std::mt19937 rng(20261126);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::vector<std::string> agencies = {"hospital", "assoc-a", "assoc-b"};
  base::TimeMs now = kNow;
  size_t admitted = 0, refused = 0, fired = 0;
  // Journals `h` and applies it to both engines; their effects must match.
  auto commit = [&](const schema::Header& h, std::vector<journal::DerivedMutation> mutations) {
    const uint64_t seq = JournalEvent(h, std::move(mutations));
    ASSERT_NE(seq, 0u);
    Effects want = full->Apply(h, seq, registry_.get(), now);
    Effects got = bounded->Apply(h, seq, registry_.get(), now);
    EXPECT_EQ(EmissionIds(got.emissions), EmissionIds(want.emissions)) << seq;
    EXPECT_EQ(got.withhold, want.withhold) << seq;
    EXPECT_EQ(got.erase, want.erase) << seq;
    for (const Emission& e : want.emissions) {
      const uint64_t emitted = JournalEvent(e.header, {});
      ASSERT_NE(emitted, 0u);
      full->Apply(e.header, emitted, registry_.get(), now);
      bounded->Apply(e.header, emitted, registry_.get(), now);
    }
  };
  for (int step = 0; step < 2000; ++step) {
    const std::string ref = CaseRef(static_cast<int>(pick(kCases)));
    const std::string who = agencies[pick(agencies.size())];
    schema::Header h;
    switch (pick(9)) {
      case 0:
        h = Grant(ref, "consent-" + std::to_string(pick(40)));
        break;
      case 1:
        h = Event(EventKind::kReferral, ref, "hospital", {"assoc-a", "assoc-b"});
        h.due_at = now + static_cast<base::TimeMs>(1 + pick(60)) * base::kMsPerDay;
        break;
      case 2:
        h = Event(EventKind::kAccepted, ref, who);
        break;
      case 3:
        h = Event(EventKind::kDeclined, ref, who);
        h.decline_reason = schema::DeclineReason::kNoCapacity;
        break;
      case 4:  // rarer: a withdrawal closes its case for good
        h = pick(4) == 0 ? Withdraw(ref, "consent-" + std::to_string(pick(40)), who)
                         : Grant(ref, "consent-" + std::to_string(pick(40)));
        break;
      case 5:
        h = Event(EventKind::kDeadlineChanged, ref, who);
        h.due_at = now + static_cast<base::TimeMs>(1 + pick(60)) * base::kMsPerDay;
        break;
      case 6:
        h = Event(pick(2) ? EventKind::kClosed : EventKind::kPickedUp, ref, who);
        break;
      case 7:
        h = Event(EventKind::kPurgeReceipt, ref, who);
        break;
      default: {
        now += static_cast<base::TimeMs>(pick(20)) * base::kMsPerDay;
        std::vector<Emission> want = full->DueTimers(now, *registry_);
        std::vector<Emission> got = bounded->DueTimers(now, *registry_);
        ASSERT_EQ(EmissionIds(got), EmissionIds(want)) << "step " << step;
        for (const Emission& e : want) commit(e.header, {});
        fired += want.size();
        continue;
      }
    }
    h.emitted_at = now;
    ASSERT_TRUE(bounded->Ensure(h));
    auto want = full->Admit(h, *registry_, now);
    auto got = bounded->Admit(h, *registry_, now);
    ASSERT_EQ(got ? std::string("ok") : got.error().code,
              want ? std::string("ok") : want.error().code)
        << "step " << step << ": " << schema::EventKindName(h.kind) << " " << h.case_ref;
    if (!want) {
      ++refused;
      continue;
    }
    ++admitted;
    commit(h, std::move(want).value());
  }
  EXPECT_GT(admitted, 100u);
  EXPECT_GT(refused, 100u);
  EXPECT_GT(fired, 5u);
  EXPECT_GT(bounded->Residency().loads, 100u);
  EXPECT_EQ(ReadBackAll(*bounded), Snapshot(*full));
  EXPECT_EQ(bounded->counts().escalations, full->counts().escalations);
  EXPECT_EQ(bounded->counts().ruptures, full->counts().ruptures);
  EXPECT_EQ(bounded->counts().accepted_in_time, full->counts().accepted_in_time);
  EXPECT_EQ(bounded->EscalationsPending(), full->EscalationsPending());
}

}  // namespace
}  // namespace relais::broker
