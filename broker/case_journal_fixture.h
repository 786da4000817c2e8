// Test helpers shared by the case engine's tests on a real journal store (case_recovery_test.cc,
// case_residency_test.cc): a small registry, headers of every kind, a journal filled with cases
// spread over it, and a comparable view of the engine's cases.
#ifndef RELAIS_BROKER_CASE_JOURNAL_FIXTURE_H_
#define RELAIS_BROKER_CASE_JOURNAL_FIXTURE_H_

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>

#include "broker/case_engine.h"
#include "broker/case_recovery.h"
#include "broker/journal/testing/fixture.h"
#include "broker/journal_event_store.h"
#include "crypto/random.h"
#include "schema/codec.h"

namespace relais::broker::case_testing {

using schema::EventKind;

constexpr base::TimeMs kNow = 1'764'000'000'000;
constexpr base::TimeMs kDue = kNow + 10 * base::kMsPerDay;
constexpr int kCases = 24;

inline std::shared_ptr<const RegistryView> MakeRegistry() {
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

inline std::string CaseRef(int i) { return "case-" + std::to_string(i); }
inline std::string ConsentId(int i) { return "consent-" + std::to_string(i); }
inline std::string LateConsentId(int i) { return "late-consent-" + std::to_string(i); }

inline schema::Header Event(EventKind kind, const std::string& case_ref, const std::string& emitter,
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

inline schema::Header Grant(const std::string& case_ref, const std::string& consent_id) {
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

inline schema::Header Withdraw(const std::string& case_ref, const std::string& consent_id,
                               const std::string& emitter = "hospital") {
  schema::Header h = Event(EventKind::kConsentWithdrawn, case_ref, emitter, {"siao"});
  h.consent_ref = consent_id;
  return h;
}

// Admission decisions, as "ok" or the refusal code.
inline std::string Decision(const CaseEngine& engine, const RegistryView& registry,
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
    EXPECT_TRUE(engine.Ensure(h));  // a no-op unless the engine's residency is bounded
    auto mutations = engine.Admit(h, *registry_, kNow);
    if (!mutations) return 0;
    const uint64_t seq = JournalEvent(h, std::move(mutations).value());
    if (seq != 0) engine.Apply(h, seq, registry_.get(), kNow);
    return seq;
  }

  // Journals `h` with `mutations`; returns its seq (0 on failure).
  uint64_t JournalEvent(const schema::Header& h, std::vector<journal::DerivedMutation> mutations) {
    journal::testing::EventSpec spec;
    spec.recipients = h.recipients;
    journal::AppendRequest r = journal::testing::MakeRequest(spec);
    r.envelope.header = schema::EncodeHeader(h);
    std::promise<base::Result<Appended>> done;
    store_->Append(r.envelope, h, std::move(mutations),
                   [&done](base::Result<Appended> a) { done.set_value(std::move(a)); });
    auto appended = done.get_future().get();
    EXPECT_TRUE(appended) << appended.error().ToString();
    return appended ? appended->seq : 0;
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

inline void PrintTo(const CaseView& v, std::ostream* os) {
  *os << v.state << " seqs=" << v.seqs.size() << " informed=" << v.informed.size()
      << " declined=" << v.declined.size() << " purge_pending=" << v.purge_pending.size()
      << " acceptor=" << v.acceptor << " withdrawn=" << v.withdrawn << " fired=" << v.reminder
      << v.escalation << v.rupture;
}

inline CaseView View(const CaseState& c) {
  return CaseView{HandoverStateName(c.state),
                  c.seqs,
                  c.informed,
                  c.declined,
                  c.purge_pending,
                  c.acceptor,
                  c.withdrawn,
                  c.reminder_fired,
                  c.escalation_fired,
                  c.rupture_fired};
}

inline std::vector<std::string> AllCaseRefs() {
  std::vector<std::string> out;
  for (int i = 0; i < kCases; ++i) out.push_back(CaseRef(i));
  for (int i = 0; i < 3; ++i) out.push_back("early-" + std::to_string(i));
  return out;
}

inline std::map<std::string, CaseView> Snapshot(const CaseEngine& e) {
  std::map<std::string, CaseView> out;
  for (const auto& ref : AllCaseRefs()) {
    if (const CaseState* c = e.Case(ref)) out[ref] = View(*c);
  }
  return out;
}

inline std::set<std::string> EmissionIds(const std::vector<Emission>& emissions) {
  std::set<std::string> out;
  for (const auto& e : emissions) out.insert(crypto::FormatUuid(e.header.event_id));
  return out;
}

}  // namespace relais::broker::case_testing

#endif  // RELAIS_BROKER_CASE_JOURNAL_FIXTURE_H_
