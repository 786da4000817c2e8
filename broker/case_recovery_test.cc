// Unit tests of the start-up recovery while serving (suite CaseRecovery, label lifecycle): on a
// real journal store, admission decisions taken while the replay is half done (each case loaded on
// demand) equal those of a full replay, and the engine ends in the same state.
#include "broker/case_recovery.h"

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>

#include "broker/journal/testing/fixture.h"
#include "broker/journal_event_store.h"
#include "crypto/random.h"
#include "schema/codec.h"

namespace relais::broker {
namespace {

using schema::EventKind;

constexpr base::TimeMs kNow = 1'764'000'000'000;
constexpr base::TimeMs kDue = kNow + 10 * base::kMsPerDay;
constexpr int kCases = 24;

std::shared_ptr<const RegistryView> MakeRegistry() {
  auto view = std::make_shared<RegistryView>();
  auto agency = [](const std::string& id, schema::AgencyKind kind) {
    schema::Agency a;
    a.id = id;
    a.kind = kind;
    a.territory = "75";
    a.may_receive = true;
    return a;
  };
  view->registry.agencies = {agency("hospital", schema::AgencyKind::kHospital),
                             agency("assoc-a", schema::AgencyKind::kAssociation),
                             agency("assoc-b", schema::AgencyKind::kAssociation),
                             agency("siao", schema::AgencyKind::kSiao)};
  for (const auto& a : view->registry.agencies) view->by_id[a.id] = &a;
  return view;
}

std::string CaseRef(int i) { return "case-" + std::to_string(i); }
std::string ConsentId(int i) { return "consent-" + std::to_string(i); }
std::string LateConsentId(int i) { return "late-consent-" + std::to_string(i); }

schema::Header Event(EventKind kind, const std::string& case_ref, const std::string& emitter,
                     std::vector<std::string> recipients = {}) {
  schema::Header h;
  h.event_id = crypto::NewEventId(kNow);
  h.kind = kind;
  h.case_ref = case_ref;
  h.emitter = emitter;
  h.emitter_key_id = "a1b2c3d4e5f60718";
  h.recipients = std::move(recipients);
  h.purpose = schema::Purpose::kHousing;
  h.emitted_at = kNow;
  h.due_at = kind == EventKind::kReferral ? kDue : 0;
  if (kind == EventKind::kReferral) h.referral_kind = schema::ReferralKind::kPrisonRelease;
  if (kind == EventKind::kDeclined) h.decline_reason = schema::DeclineReason::kNoCapacity;
  return h;
}

schema::Header Grant(const std::string& case_ref, const std::string& consent_id) {
  schema::Header h = Event(EventKind::kConsentGranted, case_ref, "hospital", {"siao"});
  schema::ConsentTerms t;
  t.consent_id = consent_id;
  t.purposes = {schema::Purpose::kHousing};
  t.recipient_agencies = {"assoc-a", "assoc-b", "siao"};
  t.valid_from = kNow;
  t.collected_at = kNow;
  h.consent = t;
  return h;
}

schema::Header Withdraw(const std::string& case_ref, const std::string& consent_id,
                        const std::string& emitter = "hospital") {
  schema::Header h = Event(EventKind::kConsentWithdrawn, case_ref, emitter, {"siao"});
  h.consent_ref = consent_id;
  return h;
}

// Admission decisions, as "ok" or the refusal code.
std::string Decision(const CaseEngine& engine, const RegistryView& registry,
                     const schema::Header& h) {
  auto r = engine.Admit(h, registry, kNow);
  return r ? std::string("ok") : r.error().code;
}

class CaseRecoveryTest : public journal::testing::JournalFixture {
 protected:
  void SetUp() override {
    registry_ = MakeRegistry();
    auto journal = Open();  // before the reader: it needs the file
    store_ = std::make_unique<JournalEventStore>(std::move(journal), Reader(), clock_);
  }

  // Admits `h` with `engine`'s rules, journals it with the engine's mutations, applies it.
  // Returns the seq, or 0 when refused.
  uint64_t Publish(CaseEngine& engine, const schema::Header& h) {
    auto mutations = engine.Admit(h, *registry_, kNow);
    if (!mutations) return 0;
    journal::testing::EventSpec spec;
    spec.recipients = h.recipients;
    journal::AppendRequest r = journal::testing::MakeRequest(spec);
    r.envelope.header = schema::EncodeHeader(h);
    std::promise<base::Result<Appended>> done;
    store_->Append(r.envelope, h, std::move(mutations).value(),
                   [&done](base::Result<Appended> a) { done.set_value(std::move(a)); });
    auto appended = done.get_future().get();
    EXPECT_TRUE(appended) << appended.error().ToString();
    if (!appended) return 0;
    engine.Apply(h, appended->seq, registry_.get(), kNow);
    return appended->seq;
  }

  // Cases spread over the whole journal: every case's consent, then every referral, then the
  // answers, then some withdrawals; plus cases with a consent and no referral yet.
  void FillJournal() {
    CaseEngine live(CaseEngineOptions{});
    for (int i = 0; i < kCases; ++i) ASSERT_NE(Publish(live, Grant(CaseRef(i), ConsentId(i))), 0u);
    for (int i = 0; i < 3; ++i) {
      ASSERT_NE(
          Publish(live, Grant("early-" + std::to_string(i), "early-consent-" + std::to_string(i))),
          0u);
    }
    for (int i = 0; i < kCases; ++i) {
      ASSERT_NE(Publish(live, Event(EventKind::kReferral, CaseRef(i), "hospital",
                                    {"assoc-a", "assoc-b"})),
                0u);
    }
    for (int i = 0; i < kCases; i += 3) {
      ASSERT_NE(Publish(live, Event(EventKind::kAccepted, CaseRef(i), "assoc-a")), 0u);
    }
    for (int i = 1; i < kCases; i += 3) {
      ASSERT_NE(Publish(live, Event(EventKind::kDeclined, CaseRef(i), "assoc-b")), 0u);
    }
    for (int i = 0; i < kCases; i += 5) {
      ASSERT_NE(Publish(live, Withdraw(CaseRef(i), ConsentId(i))), 0u);
    }
    ASSERT_NE(Publish(live, Withdraw("early-2", "early-consent-2")), 0u);
    // Second consents of the odd cases, late in the journal (after the replay's position).
    for (int i = 1; i < kCases; i += 2) {
      ASSERT_NE(Publish(live, Grant(CaseRef(i), LateConsentId(i))), 0u);
    }
  }

  // What the probes of case i ask: every kind of decision Admit makes for an existing case.
  std::vector<schema::Header> Probes(int i) {
    const std::string ref = CaseRef(i);
    std::vector<schema::Header> p = {
        Grant(ref, ConsentId((i + 7) % kCases)),      // an id of another case, not loaded yet
        Grant(ref, LateConsentId((i + 7) % kCases)),  // granted after the replay's position
        Grant(ref, "fresh-" + std::to_string(i)),
        Event(EventKind::kAccepted, ref, "assoc-a"),
        Event(EventKind::kAccepted, ref, "assoc-b"),
        Event(EventKind::kDeclined, ref, "assoc-b"),
        Event(EventKind::kReferral, ref, "hospital", {"assoc-a"}),
        Event(EventKind::kClosed, ref, "hospital"),
        Event(EventKind::kPickedUp, ref, "assoc-a"),
        Withdraw(ref, ConsentId(i)),
        Withdraw(ref, ConsentId(i), "assoc-a"),
        Withdraw(ref, ConsentId((i + 1) % kCases)),
    };
    if (i < 3) {
      const std::string early = "early-" + std::to_string(i);
      p.push_back(Event(EventKind::kReferral, early, "hospital", {"assoc-a"}));
      p.push_back(Event(EventKind::kReferral, early, "hospital", {"assoc-a", "prison"}));
    }
    return p;
  }

  // Drives a recovery to its end.
  void Finish(CaseRecovery& r) {
    while (!r.done()) ASSERT_TRUE(r.Step(5, 1'000'000));
  }

  std::shared_ptr<const RegistryView> registry_;
  std::unique_ptr<JournalEventStore> store_;
};

struct CaseView {
  std::string state;
  std::vector<uint64_t> seqs;
  std::set<std::string> informed, declined, purge_pending;
  std::string acceptor;
  bool withdrawn = false, reminder = false, escalation = false, rupture = false;
  bool operator==(const CaseView&) const = default;
};

std::map<std::string, CaseView> Snapshot(const CaseEngine& e) {
  std::map<std::string, CaseView> out;
  for (int i = 0; i < kCases + 3; ++i) {
    std::string ref = i < kCases ? CaseRef(i) : "early-" + std::to_string(i - kCases);
    const CaseState* c = e.Case(ref);
    if (c == nullptr) continue;
    out[ref] = CaseView{HandoverStateName(c->state),
                        c->seqs,
                        c->informed,
                        c->declined,
                        c->purge_pending,
                        c->acceptor,
                        c->withdrawn,
                        c->reminder_fired,
                        c->escalation_fired,
                        c->rupture_fired};
  }
  return out;
}

std::set<std::string> EmissionIds(const std::vector<Emission>& emissions) {
  std::set<std::string> out;
  for (const auto& e : emissions) out.insert(crypto::FormatUuid(e.header.event_id));
  return out;
}

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
