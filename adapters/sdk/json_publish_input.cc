// The publish input document of `relais publish --from FILE.json`
// (docs/adapters/json-referral.md).
#include <set>
#include <utility>

#include "adapters/sdk/json.h"
#include "adapters/sdk/json_convert.h"
#include "crypto/random.h"

namespace relais::sdk {

using internal::FieldReader;
using internal::Json;
using internal::JsonErrors;
using internal::kBadField;
using schema::EventKind;

namespace {

bool IsBrokerOnly(EventKind k) {
  return k == EventKind::kReminder || k == EventKind::kEscalation || k == EventKind::kRupture ||
         k == EventKind::kOfferTaken;
}

// The kind decides which other top-level fields are allowed or required.
void ReadKindSpecificFields(FieldReader& r, JsonErrors& errors, PublishInput& in) {
  schema::Header& h = in.header;
  if (h.kind == EventKind::kReferral) {
    r.Require("referral_kind");
    r.Enum("referral_kind", h.referral_kind, internal::kReferralKindNames);
    if (errors.ok() && h.referral_kind == schema::ReferralKind::kNone) {
      errors.Fail(kBadField, "referral_kind", "a referral needs a kind other than none");
    }
  } else {
    r.Forbid("referral_kind", "only allowed when kind is referral");
  }
  if (h.kind == EventKind::kDeclined) {
    r.Require("decline_reason");
    r.Enum("decline_reason", h.decline_reason, internal::kDeclineReasonNames);
  } else {
    r.Forbid("decline_reason", "only allowed when kind is declined");
  }
  if (h.kind == EventKind::kConsentGranted) {
    r.Require("consent");
    if (const Json* c = r.Object("consent")) {
      internal::ReadConsentTerms(*c, "consent", errors, h.consent.emplace());
    }
  } else {
    r.Forbid("consent", "only allowed when kind is consent_granted");
  }
  if (h.kind == EventKind::kAccepted || h.kind == EventKind::kDeclined) {
    r.Require("in_reply_to");
  }
  r.Uuid("in_reply_to", h.in_reply_to);
  bool opens_case = h.kind == EventKind::kReferral || h.kind == EventKind::kConsentGranted;
  if (!opens_case) r.Require("case_ref");
  r.Text("case_ref", h.case_ref);
  if (errors.ok() && r.Has("case_ref") && h.case_ref.empty()) {
    errors.Fail(kBadField, "case_ref", "must not be empty");
  }
}

// Consent and purge receipts go to the broker only; every other kind names its recipients.
bool NeedsRecipients(EventKind k) {
  return k != EventKind::kConsentGranted && k != EventKind::kConsentWithdrawn &&
         k != EventKind::kPurgeReceipt;
}

void ReadRecipients(FieldReader& r, JsonErrors& errors, schema::Header& h) {
  if (NeedsRecipients(h.kind)) r.Require("recipients");
  r.TextList("recipients", h.recipients);
  if (!errors.ok()) return;
  if (h.recipients.empty() && NeedsRecipients(h.kind)) {
    errors.Fail(kBadField, "recipients", "expected at least one recipient agency id");
    return;
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < h.recipients.size(); ++i) {
    std::string path = internal::IndexPath("recipients", i);
    if (!schema::IsValidAgencyId(h.recipients[i])) {
      errors.Fail(kBadField, path, "expected an agency id (1-64 of a-z 0-9 . _ -)");
      return;
    }
    if (!seen.insert(h.recipients[i]).second) {
      errors.Fail(kBadField, path, "duplicate recipient");
      return;
    }
  }
}

}  // namespace

base::Result<PublishInput> ParsePublishInput(std::string_view text) {
  RELAIS_ASSIGN_OR_RETURN(Json doc, internal::ParseJsonText(text));
  JsonErrors errors;
  PublishInput in;
  schema::Header& h = in.header;
  FieldReader r(doc, "", errors);
  r.Require("kind");
  r.Enum("kind", h.kind, internal::kEventKindNames);
  if (errors.ok() && h.kind == EventKind::kUnknown) {
    errors.Fail(kBadField, "kind", "unknown is not an event kind one can publish");
  }
  if (errors.ok() && IsBrokerOnly(h.kind)) {
    errors.Fail(kBadField, "kind",
                "reminder, escalation, rupture and offer_taken are emitted by the broker only");
  }
  if (!errors.ok()) return errors.TakeError();

  r.Uuid("event_id", h.event_id);
  ReadKindSpecificFields(r, errors, in);
  ReadRecipients(r, errors, h);
  r.Text("actor", h.actor);
  r.Text("consent_ref", h.consent_ref);
  r.Enum("legal_basis", h.legal_basis, internal::kLegalBasisNames);
  r.Enum("tier", h.tier, internal::kTierNames);
  r.Enum("purpose", h.purpose, internal::kPurposeNames);
  r.Time("due_at", h.due_at);

  size_t body_index = BodyIndexForKind(h.kind);
  if (h.kind == EventKind::kReferral) r.Require("body");
  if (const Json* body = r.Object("body")) {
    internal::ReadBodyFields(*body, "body", body_index, errors, in.body);
  } else if (errors.ok()) {
    internal::ReadBodyFields(Json::object(), "body", body_index, errors, in.body);
  }
  r.Finish();
  if (!errors.ok()) return errors.TakeError();

  // Conveniences documented in docs/adapters/json-referral.md.
  if (auto* referral = std::get_if<schema::ReferralBody>(&in.body)) {
    if (referral->exit_date == 0) referral->exit_date = h.due_at;
  }
  if (h.consent && h.consent_ref.empty()) h.consent_ref = h.consent->consent_id;
  if (h.case_ref.empty()) {
    h.case_ref = crypto::NewCaseRef();
    in.case_ref_generated = true;
  }
  return in;
}

}  // namespace relais::sdk
