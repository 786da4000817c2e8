// FHIR R4 export of one case, for partners whose own system speaks FHIR: a Bundle (type
// "collection") holding a ServiceRequest (the referral: what is asked, for whom, by whom, when)
// and a Task (this agency's handling of it, status mapped from the lifecycle). JSON text; the
// mapping is in docs/adapters/inbox.md §FHIR export. The output holds personal data.
#ifndef RELAIS_ADAPTERS_INBOX_FHIR_H_
#define RELAIS_ADAPTERS_INBOX_FHIR_H_

#include <string>

#include "adapters/inbox/case_view.h"
#include "base/status.h"

namespace relais::inbox {

// FHIR Task.status for the case state: to_answer → requested, accepted → accepted,
// declined → rejected, taken_by_other/cancelled → cancelled, handed_over → in-progress,
// picked_up/closed → completed, alert_only → requested.
const char* FhirTaskStatus(CaseState state);
// ServiceRequest.status: cancelled → revoked, picked_up/closed → completed, else active.
const char* FhirServiceRequestStatus(CaseState state);

// kNotFound "no_referral" when the case has no referral stored (coordinator alerts only).
base::Result<std::string> FhirBundle(const CaseView& c, const std::string& agency_id);

}  // namespace relais::inbox

#endif  // RELAIS_ADAPTERS_INBOX_FHIR_H_
