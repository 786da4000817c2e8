// The events a list importer publishes for one case, as headers and bodies ready for the
// publishing pipeline (docs/adapters/*.md, docs/lifecycle.md).
#ifndef RELAIS_ADAPTERS_IMPORTER_EVENTS_H_
#define RELAIS_ADAPTERS_IMPORTER_EVENTS_H_

#include <string>
#include <vector>

#include "adapters/importer/publisher.h"
#include "adapters/importer/row.h"

namespace relais::importer {

// What every event of a run shares.
struct EventDefaults {
  schema::ReferralKind referral_kind = schema::ReferralKind::kNone;
  std::string actor;  // pseudonymous id of the professional running the import
};

// consent_granted recording the row's consent for `recipients`: referral tier, the row's purpose,
// valid from its collection date to one year after the exit date. Its consent id is derived
// from the case ref and version.
OutgoingEvent ConsentEvent(const EventDefaults& d, const ImportRow& row,
                           const std::string& case_ref, int64_t version,
                           const std::vector<std::string>& recipients, base::Bytes event_id);

// The referral: referral tier (legal basis consent) or, when `notice`, notice tier with legal
// basis notice_allowed and the notice body.
OutgoingEvent ReferralEvent(const EventDefaults& d, const ImportRow& row,
                            const std::string& case_ref, const std::vector<std::string>& recipients,
                            bool notice, base::Bytes event_id);

// deadline_changed to `due_at` and cancelled, to the referral's recipients, with an empty body.
OutgoingEvent DeadlineChangedEvent(const EventDefaults& d, const std::string& case_ref,
                                   const std::vector<std::string>& recipients, bool notice,
                                   base::TimeMs due_at, base::Bytes event_id);
OutgoingEvent CancelledEvent(const EventDefaults& d, const std::string& case_ref,
                             const std::vector<std::string>& recipients, bool notice,
                             base::Bytes event_id);

// "c-abc" + version -> "consent-c-abc-1".
std::string ConsentIdFor(const std::string& case_ref, int64_t version);

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_EVENTS_H_
