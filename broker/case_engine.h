// The consent gate, the handover lifecycle and the deadline watch (docs/lifecycle.md).
//
// Admit() decides whether an authenticated, signature-checked event may be journaled and returns
// the derived-table mutations to commit with it. Apply() moves the in-memory state once the event
// is durable (live, or during the replay at start-up) and says what the broker must do next:
// events it emits itself (offer_taken, escalation, purge_request), deliveries to withhold, a case
// to erase. DueTimers() produces reminders, escalations and ruptures whose time has come.
//
// Every broker emission has a deterministic event id (a UUIDv8 derived from the case, the kind,
// the stage and the event that armed it), so it is journaled exactly once even if the broker
// crashes between deciding and journaling it: the journal deduplicates by event id.
//
// Threading: the broker's I/O thread only. Time is passed in (ms since the epoch, the broker's
// injectable clock).
#ifndef RELAIS_BROKER_CASE_ENGINE_H_
#define RELAIS_BROKER_CASE_ENGINE_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "broker/journal/derived.h"
#include "broker/registry_store.h"
#include "schema/envelope.h"
#include "schema/events.h"

namespace relais::broker {

// Lead time before the exit date by which a partner must have accepted, and grace after it by
// which the person must have been picked up. Per referral kind; defaults in DefaultPolicy.
struct DeadlinePolicy {
  base::TimeMs accept_lead = 48 * base::kMsPerHour;
  base::TimeMs pickup_grace = 24 * base::kMsPerHour;
};
DeadlinePolicy DefaultPolicy(schema::ReferralKind kind);
// "KIND=ACCEPT_LEAD_HOURS:PICKUP_GRACE_HOURS", e.g. "prison_release=720:168"; hours are
// integers in [0, kMaxPolicyHours] (kInvalidInput "bad_deadline_policy" otherwise).
inline constexpr int64_t kMaxPolicyHours = 10 * 366 * 24;  // ten years
base::Status ParsePolicyOverride(std::string_view text,
                                 std::map<schema::ReferralKind, DeadlinePolicy>& policies);

enum class HandoverState {
  kReferred,
  kAccepted,
  kHandedOver,
  kPickedUp,
  kClosed,
  kCancelled,
  kUnplaced
};
const char* HandoverStateName(HandoverState state);

struct CaseState {
  std::string case_ref;
  std::string emitter;
  std::string territory;
  schema::ReferralKind referral_kind = schema::ReferralKind::kNone;
  base::Bytes referral_event_id;
  base::Bytes arming_event_id;  // the referral, or the latest deadline_changed
  std::vector<std::string> candidates;
  std::set<std::string> declined;
  std::string acceptor;
  HandoverState state = HandoverState::kReferred;
  base::TimeMs referred_at = 0;
  base::TimeMs due_at = 0;
  bool reminder_fired = false;  // for the current arming event
  bool escalation_fired = false;
  bool rupture_fired = false;
  std::set<std::string> informed;       // agencies sent any event of this case with a body
  std::vector<uint64_t> seqs;           // journal entries of this case
  std::set<std::string> purge_pending;  // purge_request sent, no purge_receipt yet
  bool withdrawn = false;
};

struct ConsentState {
  schema::ConsentTerms terms;
  std::string case_ref;
  std::string collector;  // the agency that recorded it
  bool active = true;
};

// An event the broker emits, to be sealed, signed and journaled like any other.
struct Emission {
  schema::Header header;  // event id, kind, case, recipients, due date, in-reply-to set
  schema::BrokerNoticeBody body;
};

struct Effects {
  std::vector<Emission> emissions;
  std::vector<uint64_t> withhold;    // stop delivering these seqs at once
  std::optional<std::string> erase;  // crypto-shred this case's sealed bytes
};

struct CaseEngineOptions {
  std::map<schema::ReferralKind, DeadlinePolicy> policies;  // missing kinds: DefaultPolicy
};

class CaseEngine {
 public:
  explicit CaseEngine(CaseEngineOptions options) : options_(std::move(options)) {}

  // Consent and lifecycle rules for an event from `header.emitter`. Fatal codes: consent_missing,
  // unknown_case, not_emitter, not_candidate, not_acceptor, already_accepted,
  // invalid_transition, unknown_consent, not_collector, malformed_header.
  base::Result<std::vector<journal::DerivedMutation>> Admit(const schema::Header& header,
                                                            const RegistryView& registry,
                                                            base::TimeMs now) const;

  // A journaled event (live or replayed). `registry` may be null during replay (no emissions are
  // needed then: they are journaled events too). Broker-emitted events mark their timers fired.
  Effects Apply(const schema::Header& header, uint64_t seq, const RegistryView* registry,
                base::TimeMs now);

  // Reminders, escalations and ruptures due at `now`, each produced once (marked fired).
  std::vector<Emission> DueTimers(base::TimeMs now, const RegistryView& registry);
  // The same restricted to the cases in `case_refs` (while the start-up replay runs, only the
  // cases loaded completely may fire: the others may miss a later journaled event).
  std::vector<Emission> DueTimersOf(const std::unordered_set<std::string>& case_refs,
                                    base::TimeMs now, const RegistryView& registry);
  // An emission failed to journal: let its timer fire again.
  void Unfire(const Emission& emission);
  // The next time DueTimers may have something (INT64_MAX when nothing is armed).
  base::TimeMs NextTimer() const;

  const CaseState* Case(const std::string& case_ref) const;
  // Whether `agency` may read the case's disclosure receipt: it referred the case or recorded a
  // consent of it (the professional the person deals with).
  bool MayReadReceipt(const std::string& case_ref, const std::string& agency) const;
  DeadlinePolicy Policy(schema::ReferralKind kind) const;
  // The deterministic id of a broker emission.
  static base::Bytes EmissionId(const std::string& case_ref, schema::EventKind kind,
                                const base::Bytes& in_reply_to, const std::string& stage);
  // Headline counts (sorties sèches prevented vs happened).
  struct Counts {
    uint64_t escalations = 0;
    uint64_t ruptures = 0;
    uint64_t accepted_in_time = 0;
  };
  const Counts& counts() const { return counts_; }
  // Cases whose escalation was journaled and that nobody has accepted yet (still referred, not
  // withdrawn): the SIAO coordinators' work list, exported as relais_escalations_pending.
  size_t EscalationsPending() const { return escalated_open_.size(); }

 private:
  Effects ApplyEvent(const schema::Header& header, uint64_t seq, const RegistryView* registry);
  // The earliest time a timer of `c` may fire (INT64_MAX: none), and its place in timers_.
  base::TimeMs NextDue(const CaseState& c) const;
  void Rearm(const std::string& case_ref);
  void FireDue(CaseState& c, base::TimeMs now, const RegistryView& registry,
               std::vector<Emission>& out);
  base::Status CheckConsent(const schema::Header& header, const RegistryView& registry,
                            base::TimeMs now) const;
  bool Covers(const ConsentState& consent, const std::string& case_ref,
              const schema::Agency& agency, schema::Purpose purpose, schema::Tier tier,
              base::TimeMs now) const;
  base::Status CheckTransition(const schema::Header& header, const CaseState* c) const;
  Emission MakeEmission(const CaseState& c, schema::EventKind kind, const std::string& stage,
                        std::vector<std::string> recipients, const base::Bytes& in_reply_to) const;
  std::vector<std::string> Escalees(const CaseState& c, const RegistryView& registry) const;
  void ApplyBrokerEvent(const schema::Header& header, CaseState& c);

  // Consents of `case_ref` (the only ones that can cover its events).
  std::vector<const ConsentState*> ConsentsOf(const std::string& case_ref) const;

  CaseEngineOptions options_;
  // Hashed, not ordered: nothing walks the cases in order, and start-up replays every event of
  // the journal through these lookups (a million-case std::map was most of the replay's time).
  std::unordered_map<std::string, CaseState> cases_;
  // Armed cases by their next timer, so a tick costs the cases due, not every open case.
  std::set<std::pair<base::TimeMs, std::string>> timers_;
  std::unordered_map<std::string, base::TimeMs> timer_of_;
  // Entries of cases that have no referral yet (a consent recorded first): their seqs and
  // recipients join the case at its referral, so a withdrawal withholds and purges them too.
  struct EarlyEntries {
    std::vector<uint64_t> seqs;
    std::set<std::string> informed;
  };
  std::unordered_map<std::string, EarlyEntries> early_;
  std::map<std::string, ConsentState> consents_;  // by consent id
  // case ref -> ids of the consents recorded for it, so that a consent check costs the case's
  // consents, not every consent ever recorded.
  std::unordered_map<std::string, std::vector<std::string>> consents_of_case_;
  Counts counts_;
  std::set<std::string> escalated_open_;  // case refs, see EscalationsPending()
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_CASE_ENGINE_H_
