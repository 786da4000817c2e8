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

#include <deque>
#include <functional>
#include <limits>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "broker/event_store.h"
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
  // Cases held in memory once BoundResidency is called (0: every case). The others are read back
  // from the journal when an event, a timer or a receipt concerns them.
  size_t max_resident_cases = 0;
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

  // Residency (case_residency.cc). Until BoundResidency is called every case stays in memory.
  // From then on at most options.max_resident_cases are kept, the least recently used are
  // evicted, and a case is read back from `store` (its entries up to the last seq applied)
  // before it is needed. Apply must then be called in seq order, which the broker does (commits
  // complete in seq order). `applied_seq`: every entry up to it has been applied. `registry`
  // gives the registry to read cases back with (an emitter's territory).
  using RegistrySource = std::function<std::shared_ptr<const RegistryView>()>;
  void BoundResidency(EventStore* store, uint64_t applied_seq, RegistrySource registry);
  // While the start-up replay runs (case_recovery.h) the entries are applied in seq order up to
  // the replay's position, except those of the `pinned` cases (loaded completely, then given
  // their live events), which are never evicted. ReplayPosition: every entry up to `seq` of a
  // case not pinned has been applied. EndReplay: the replay applied every entry up to
  // `replayed_to`; back to Apply in seq order. No-ops unless the residency is bounded.
  void BeginReplay(const std::unordered_set<std::string>* pinned);
  void ReplayPosition(uint64_t seq);
  void EndReplay(uint64_t replayed_to);
  // Makes the state exact for admitting `header`: its case, and for a consent grant the case
  // that already owns the consent id, are in memory. Errors are the store's read errors.
  base::Status Ensure(const schema::Header& header);
  base::Status EnsureCase(const std::string& case_ref);
  struct ResidencyCounts {
    size_t resident = 0;        // cases in memory (with residency bounded)
    size_t dormant_timers = 0;  // deadlines of evicted cases, some superseded
    uint64_t loads = 0;         // cases read back from the store
    uint64_t evictions = 0;
  };
  ResidencyCounts Residency() const;

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
  Effects ApplyOne(const schema::Header& header, uint64_t seq, const RegistryView* registry);
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

  // Residency (case_residency.cc).
  static constexpr size_t kWakePerTick = 1024;
  // Reads case number `case_no` back (entries up to applied_seq_); `case_ref` is set to its ref
  // (empty when the store has no entry). Skips a case that is already in memory.
  base::Status Load(int64_t case_no, std::string& case_ref);
  // Marks `case_ref` used now; evicts the least recently used cases beyond the bound.
  void Touch(const std::string& case_ref);
  // Marks `case_ref` used now (resident, most recently used), without evicting.
  void MarkUsed(const std::string& case_ref);
  void EvictBeyondBound();
  void Evict(const std::string& case_ref);
  // Forgets the case's state and timer (no trace kept).
  void Drop(const std::string& case_ref);
  // Reads back the evicted cases whose deadline is due, at most `max` of them.
  base::Status WakeDormant(base::TimeMs now, size_t max);

  EventStore* store_ = nullptr;  // set by BoundResidency
  RegistrySource registry_;
  uint64_t applied_seq_ = 0;  // entries up to it are applied (cases read back up to it)
  uint64_t max_applied_ = 0;  // the highest seq given to Apply
  const std::unordered_set<std::string>* pinned_ = nullptr;  // while replaying: never evicted
  bool loading_ = false;  // a case is being read back: its events were counted already
  // Resident cases, least recently used first: a use moves a case to the back, an eviction
  // takes the front (pinned cases met there go to the back). The list points at the keys.
  using UseOrder = std::list<const std::string*>;
  UseOrder use_order_;
  std::unordered_map<std::string, UseOrder::iterator> resident_;
  std::vector<bool> evicted_;  // by case number: ever evicted
  // By case number: the deadline queued in dormant_ for it (a queue entry with another time is
  // superseded and skipped).
  static constexpr base::TimeMs kNothingQueued = std::numeric_limits<base::TimeMs>::min();
  // Deques, not vectors: a million entries grow without a doubling copy at the peak.
  std::deque<base::TimeMs> queued_due_;
  // (deadline, case number) of evicted cases; an entry is superseded once its case is read back.
  // 12 bytes: the deadline as two halves of an order-preserving unsigned value, and the number.
  struct Dormant {
    uint32_t due_hi = 0, due_lo = 0, case_no = 0;
    Dormant(base::TimeMs due, uint32_t no) : case_no(no) {
      const uint64_t u = static_cast<uint64_t>(due) ^ (uint64_t{1} << 63);
      due_hi = static_cast<uint32_t>(u >> 32);
      due_lo = static_cast<uint32_t>(u);
    }
    base::TimeMs due() const {
      return static_cast<base::TimeMs>(((uint64_t{due_hi} << 32) | due_lo) ^ (uint64_t{1} << 63));
    }
  };
  struct LaterFirst {
    bool operator()(const Dormant& a, const Dormant& b) const {
      return a.due_hi != b.due_hi ? a.due_hi > b.due_hi : a.due_lo > b.due_lo;
    }
  };
  std::priority_queue<Dormant, std::deque<Dormant>, LaterFirst> dormant_;
  uint64_t loads_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_CASE_ENGINE_H_
