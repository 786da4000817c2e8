// What the inbox shows about each case, derived from the events stored for it: the referral, this
// agency's answers, the broker's notices (offer taken, reminders, escalations, ruptures), and the
// resulting state and deadlines. Pure functions, no I/O.
#ifndef RELAIS_ADAPTERS_INBOX_CASE_VIEW_H_
#define RELAIS_ADAPTERS_INBOX_CASE_VIEW_H_

#include <optional>
#include <string>
#include <vector>

#include "adapters/inbox/store.h"
#include "base/clock.h"
#include "schema/envelope.h"
#include "schema/events.h"

namespace relais::inbox {

// The case as this agency sees it (not the broker's full lifecycle state).
enum class CaseState {
  kToAnswer,      // referred to us, we have not answered, nobody else took it
  kAccepted,      // we accepted
  kDeclined,      // we declined
  kTakenByOther,  // offer_taken: another partner accepted
  kPickedUp,      // we confirmed the pickup
  kHandedOver,    // the emitter says the person left to us
  kCancelled,     // the emitter withdrew the referral
  kClosed,        // the case is closed
  kAlertOnly,     // coordinator view: escalations/ruptures about a case not referred to us
};

struct CaseView {
  std::string case_ref;
  CaseState state = CaseState::kToAnswer;
  std::optional<StoredEvent> referral;  // the referral event (kind referral), if we got it
  schema::ReferralKind referral_kind = schema::ReferralKind::kNone;
  std::string emitter;
  base::TimeMs due_at = 0;     // exit date (latest deadline_changed wins)
  base::TimeMs accept_by = 0;  // from the broker's notices, else computed like the broker does
  base::TimeMs pickup_by = 0;
  uint64_t escalations = 0;
  uint64_t ruptures = 0;
  std::string last_stage;   // the latest escalation/rupture stage ("not_accepted", "unplaced")
  uint64_t answer_seq = 0;  // the broker's seq of our latest answer (accepted/declined/picked_up)
  std::vector<StoredEvent> events;
};

// Groups `events` by case and derives each case, sorted by exit date (then case ref).
std::vector<CaseView> BuildCases(const std::vector<StoredEvent>& events);

// The broker's default lead and grace per referral kind (docs/lifecycle.md §3).
base::TimeMs DefaultAcceptBy(schema::ReferralKind kind, base::TimeMs due_at);
base::TimeMs DefaultPickupBy(schema::ReferralKind kind, base::TimeMs due_at);

// What the user may do now: accept/decline while kToAnswer; pickup while kAccepted/kHandedOver.
bool CanAnswer(const CaseView& c);
bool CanPickUp(const CaseView& c);

// French labels for the page and the CLI.
const char* CaseStateLabel(CaseState state);
const char* CaseStateName(CaseState state);  // snake_case, for --json
const char* ReferralKindLabel(schema::ReferralKind kind);
const char* DeclineReasonLabel(schema::DeclineReason reason);
const char* EventKindLabel(schema::EventKind kind);

// "2 j 4 h", "5 h 12 min", "dépassé de 3 h" for the time from `now` to `deadline`.
std::string CountdownText(base::TimeMs deadline, base::TimeMs now);

}  // namespace relais::inbox

#endif  // RELAIS_ADAPTERS_INBOX_CASE_VIEW_H_
