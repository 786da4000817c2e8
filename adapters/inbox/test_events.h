// Test helpers for the inbox unit tests: stored events built in memory.
#ifndef RELAIS_ADAPTERS_INBOX_TEST_EVENTS_H_
#define RELAIS_ADAPTERS_INBOX_TEST_EVENTS_H_

#include <string>

#include "adapters/inbox/store.h"
#include "crypto/random.h"

namespace relais::inbox::testing {

inline constexpr base::TimeMs kT0 = 1'790'000'000'000;  // 2026-09-21

inline StoredEvent MakeEvent(schema::EventKind kind, const std::string& case_ref, uint64_t seq,
                             base::TimeMs at, Direction direction = Direction::kIn) {
  StoredEvent e;
  e.seq = seq;
  e.direction = direction;
  e.received_at = at;
  e.header.event_id = crypto::NewEventId(at);
  e.header.kind = kind;
  e.header.case_ref = case_ref;
  e.header.emitter = direction == Direction::kOut ? "assoc-a" : "hospital";
  e.header.emitter_key_id = "k1";
  e.header.emitted_at = at;
  return e;
}

inline StoredEvent MakeReferral(const std::string& case_ref, uint64_t seq, base::TimeMs due) {
  StoredEvent e = MakeEvent(schema::EventKind::kReferral, case_ref, seq, kT0);
  e.header.referral_kind = schema::ReferralKind::kHospitalDischarge;
  e.header.recipients = {"assoc-a"};
  e.header.due_at = due;
  schema::ReferralBody body;
  body.person.family_name = "Durand";
  body.person.given_names = "Karim";
  body.exit_date = due;
  body.exit_place = "Hôpital <Nord>";
  body.situation = "Texte-secret-du-corps";
  body.needs.housing_need = "hébergement";
  body.referrer.name = "C. Assistante";
  body.consent_summary = "Accepte le partage.";
  e.body = body;
  return e;
}

}  // namespace relais::inbox::testing

#endif  // RELAIS_ADAPTERS_INBOX_TEST_EVENTS_H_
