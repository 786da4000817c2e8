#include "adapters/hospital/case_events.h"

#include "adapters/sdk/envelope_builder.h"
#include "crypto/random.h"
#include "schema/codec.h"

namespace relais::hospital {

namespace {

schema::Purpose FirstPurpose(const CaseRecord& c) {
  for (const auto& name : c.purposes) {
    if (auto p = schema::ParsePurpose(name)) return *p;
  }
  return schema::Purpose::kHousing;
}

schema::Header Base(schema::EventKind kind, const CaseRecord& c,
                    std::vector<std::string> recipients) {
  schema::Header h;
  h.kind = kind;
  h.case_ref = c.case_ref;
  h.actor = c.actor;
  h.recipients = std::move(recipients);
  h.consent_ref = c.consent_id;
  h.legal_basis = schema::LegalBasis::kConsent;
  h.tier = schema::Tier::kReferral;
  h.purpose = FirstPurpose(c);
  return h;
}

base::Result<OutboxEntry> Seal(schema::Header h, const schema::EventBody& body, const Emitter& e) {
  h.event_id = crypto::NewEventId(e.clock->NowMs());
  RELAIS_ASSIGN_OR_RETURN(auto env,
                          sdk::BuildEnvelope(h, body, *e.registry, *e.identity, *e.clock));
  OutboxEntry out;
  out.case_ref = h.case_ref;
  out.event_id = h.event_id;
  out.kind = schema::EventKindName(h.kind);
  out.envelope = schema::EncodeEnvelope(env);
  out.queued_at = e.clock->NowMs();
  return out;
}

}  // namespace

base::Result<OutboxEntry> ConsentEvent(const CaseRecord& c, const Emitter& e) {
  schema::Header h = Base(schema::EventKind::kConsentGranted, c, {});
  h.tier = schema::Tier::kNotice;
  schema::ConsentTerms t;
  t.consent_id = c.consent_id;
  t.method = schema::ParseConsentMethod(c.consent_method).value_or(schema::ConsentMethod::kWritten);
  for (const auto& name : c.purposes) {
    if (auto p = schema::ParsePurpose(name)) t.purposes.push_back(*p);
  }
  t.recipient_agencies = c.recipients;
  t.tier = schema::Tier::kReferral;
  t.collected_at = c.consent_collected_at;
  t.valid_from = c.consent_collected_at;
  t.valid_until = c.consent_valid_until;
  h.consent = t;
  return Seal(std::move(h), schema::EventBody(schema::ConsentBody{}), e);
}

base::Result<OutboxEntry> ReferralEvent(const CaseRecord& c, const AdtMessage& adt,
                                        base::TimeMs due_at, const Emitter& e) {
  schema::Header h = Base(schema::EventKind::kReferral, c, c.recipients);
  h.referral_kind = schema::ReferralKind::kHospitalDischarge;
  h.due_at = due_at;
  schema::ReferralBody body;
  body.person = adt.person;
  body.exit_date = due_at;
  body.exit_place = adt.ward;
  body.referrer = e.referrer;
  body.details = schema::HospitalDetails{adt.facility_name, adt.ward, adt.visit_number};
  return Seal(std::move(h), schema::EventBody(std::move(body)), e);
}

base::Result<OutboxEntry> DeadlineChangedEvent(const CaseRecord& c, base::TimeMs due_at,
                                               const Emitter& e) {
  schema::Header h = Base(schema::EventKind::kDeadlineChanged, c, c.recipients);
  h.due_at = due_at;
  return Seal(std::move(h), schema::EventBody(), e);
}

base::Result<OutboxEntry> CancelledEvent(const CaseRecord& c, const std::string& note,
                                         const Emitter& e) {
  schema::Header h = Base(schema::EventKind::kCancelled, c, c.recipients);
  return Seal(std::move(h), schema::EventBody(schema::NoteBody{note}), e);
}

base::Result<OutboxEntry> HandedOverEvent(const CaseRecord& c, const AdtMessage& adt,
                                          const Emitter& e) {
  std::vector<std::string> to =
      c.acceptor.empty() ? c.recipients : std::vector<std::string>{c.acceptor};
  schema::Header h = Base(schema::EventKind::kHandedOver, c, std::move(to));
  schema::HandedOverBody body{adt.disposition, adt.discharged_to, ""};
  return Seal(std::move(h), schema::EventBody(std::move(body)), e);
}

base::Result<OutboxEntry> ClosedEvent(const CaseRecord& c, const Emitter& e) {
  schema::Header h = Base(schema::EventKind::kClosed, c, c.recipients);
  return Seal(std::move(h), schema::EventBody(), e);
}

}  // namespace relais::hospital
