#include "adapters/importer/events.h"

namespace relais::importer {

namespace {

constexpr base::TimeMs kConsentAfterExit = 365 * base::kMsPerDay;

schema::Header Base(const EventDefaults& d, schema::EventKind kind, const std::string& case_ref,
                    const std::vector<std::string>& recipients, bool notice, base::Bytes event_id) {
  schema::Header h;
  h.event_id = std::move(event_id);
  h.kind = kind;
  h.case_ref = case_ref;
  h.actor = d.actor;
  h.recipients = recipients;
  h.tier = notice ? schema::Tier::kNotice : schema::Tier::kReferral;
  h.legal_basis = notice ? schema::LegalBasis::kNoticeAllowed : schema::LegalBasis::kConsent;
  h.purpose = schema::Purpose::kHousing;
  return h;
}

}  // namespace

std::string ConsentIdFor(const std::string& case_ref, int64_t version) {
  return "consent-" + case_ref + "-" + std::to_string(version);
}

OutgoingEvent ConsentEvent(const EventDefaults& d, const ImportRow& row,
                           const std::string& case_ref, int64_t version,
                           const std::vector<std::string>& recipients, base::Bytes event_id) {
  schema::Header h = Base(d, schema::EventKind::kConsentGranted, case_ref, {}, /*notice=*/true,
                          std::move(event_id));
  h.legal_basis = schema::LegalBasis::kConsent;
  schema::ConsentTerms t;
  t.consent_id = ConsentIdFor(case_ref, version);
  t.method = row.consent->method;
  t.purposes = {row.purpose};
  t.recipient_agencies = recipients;
  t.tier = schema::Tier::kReferral;
  t.collected_at = row.consent->collected_at;
  t.valid_from = row.consent->collected_at;
  t.valid_until = row.due_at + kConsentAfterExit;
  h.consent_ref = t.consent_id;
  h.consent = std::move(t);
  return {std::move(h), schema::ConsentBody{}};
}

OutgoingEvent ReferralEvent(const EventDefaults& d, const ImportRow& row,
                            const std::string& case_ref, const std::vector<std::string>& recipients,
                            bool notice, base::Bytes event_id) {
  schema::Header h =
      Base(d, schema::EventKind::kReferral, case_ref, recipients, notice, std::move(event_id));
  h.referral_kind = d.referral_kind;
  h.purpose = row.purpose;
  h.due_at = row.due_at;
  if (!notice) h.consent_ref = ConsentIdFor(case_ref, 1);
  return {std::move(h), notice ? row.notice_body : row.body};
}

OutgoingEvent DeadlineChangedEvent(const EventDefaults& d, const std::string& case_ref,
                                   const std::vector<std::string>& recipients, bool notice,
                                   base::TimeMs due_at, base::Bytes event_id) {
  schema::Header h = Base(d, schema::EventKind::kDeadlineChanged, case_ref, recipients, notice,
                          std::move(event_id));
  h.due_at = due_at;
  return {std::move(h), schema::EventBody{}};
}

OutgoingEvent CancelledEvent(const EventDefaults& d, const std::string& case_ref,
                             const std::vector<std::string>& recipients, bool notice,
                             base::Bytes event_id) {
  return {Base(d, schema::EventKind::kCancelled, case_ref, recipients, notice, std::move(event_id)),
          schema::EventBody{}};
}

}  // namespace relais::importer
