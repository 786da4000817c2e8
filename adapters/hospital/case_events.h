// Building the sealed, signed events the hospital emits about a case (consent_granted, referral,
// deadline_changed, cancelled, handed_over, closed) and turning them into outbox entries.
// Identity from the ADT message (PID-5, PID-7, PID-8, PID-3 with the INS only when PID-32 is VALI)
// goes only into the sealed referral body; headers carry the random case ref.
//
// Thread-safety: pure functions (crypto::Init() first).
#ifndef RELAIS_ADAPTERS_HOSPITAL_CASE_EVENTS_H_
#define RELAIS_ADAPTERS_HOSPITAL_CASE_EVENTS_H_

#include <string>

#include "adapters/hospital/adt.h"
#include "adapters/hospital/store.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/identity.h"
#include "schema/envelope.h"
#include "schema/events.h"
#include "schema/registry.h"

namespace relais::hospital {

// Who emits, with what keys, registry and clock. Not owned.
struct Emitter {
  const schema::Registry* registry = nullptr;
  const crypto::AgencyIdentity* identity = nullptr;
  const base::Clock* clock = nullptr;
  schema::Contact referrer;  // the hospital social service, put in referral bodies
};

// The consent recorded for `record` (its consent_* fields), as a consent_granted event.
base::Result<OutboxEntry> ConsentEvent(const CaseRecord& record, const Emitter& emitter);

// A referral (hospital_discharge, referral tier, the case's consent) due at `due_at`.
base::Result<OutboxEntry> ReferralEvent(const CaseRecord& record, const AdtMessage& adt,
                                        base::TimeMs due_at, const Emitter& emitter);

// deadline_changed (to the case's recipients), cancelled (to its recipients; `note` sealed),
// handed_over (to the acceptor, with PV1-36/PV1-37), closed (to the recipients).
base::Result<OutboxEntry> DeadlineChangedEvent(const CaseRecord& record, base::TimeMs due_at,
                                               const Emitter& emitter);
base::Result<OutboxEntry> CancelledEvent(const CaseRecord& record, const std::string& note,
                                         const Emitter& emitter);
base::Result<OutboxEntry> HandedOverEvent(const CaseRecord& record, const AdtMessage& adt,
                                          const Emitter& emitter);
base::Result<OutboxEntry> ClosedEvent(const CaseRecord& record, const Emitter& emitter);

}  // namespace relais::hospital

#endif  // RELAIS_ADAPTERS_HOSPITAL_CASE_EVENTS_H_
