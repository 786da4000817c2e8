#include "adapters/sdk/json.h"

#include <utility>

#include "adapters/sdk/json_convert.h"

namespace relais::sdk {

using internal::FieldReader;
using internal::Json;
using internal::JsonErrors;

namespace internal {

Json ConsentTermsToJson(const schema::ConsentTerms& t) {
  Json purposes = Json::array();
  for (schema::Purpose p : t.purposes) purposes.push_back(schema::PurposeName(p));
  return Json{{"consent_id", t.consent_id},
              {"method", schema::ConsentMethodName(t.method)},
              {"purposes", purposes},
              {"recipient_agencies", t.recipient_agencies},
              {"recipient_kinds", t.recipient_kinds},
              {"tier", schema::TierName(t.tier)},
              {"valid_from", TimeJson(t.valid_from)},
              {"valid_until", TimeJson(t.valid_until)},
              {"collected_at", TimeJson(t.collected_at)},
              {"legal_basis", schema::LegalBasisName(t.legal_basis)}};
}

void ReadConsentTerms(const Json& value, const std::string& path, JsonErrors& errors,
                      schema::ConsentTerms& out) {
  FieldReader r(value, path, errors);
  r.Text("consent_id", out.consent_id);
  r.Enum("method", out.method, kConsentMethodNames);
  r.EnumList("purposes", out.purposes, kPurposeNames);
  r.TextList("recipient_agencies", out.recipient_agencies);
  std::vector<schema::AgencyKind> kinds;
  r.EnumList("recipient_kinds", kinds,
             EnumNames<schema::AgencyKind>{schema::kAgencyKindCount, &schema::AgencyKindName});
  if (r.Has("recipient_kinds")) {
    out.recipient_kinds.clear();
    for (schema::AgencyKind k : kinds) out.recipient_kinds.push_back(schema::AgencyKindName(k));
  }
  r.Enum("tier", out.tier, kTierNames);
  r.Time("valid_from", out.valid_from);
  r.Time("valid_until", out.valid_until);
  r.Time("collected_at", out.collected_at);
  r.Enum("legal_basis", out.legal_basis, kLegalBasisNames);
  r.Finish();
}

Json HeaderToJsonValue(const schema::Header& h) {
  Json out = Json::object();
  out["version"] = h.version;
  out["event_id"] = UuidJson(h.event_id);
  out["kind"] = schema::EventKindName(h.kind);
  out["referral_kind"] = schema::ReferralKindName(h.referral_kind);
  out["case_ref"] = h.case_ref;
  out["emitter"] = h.emitter;
  out["emitter_key_id"] = h.emitter_key_id;
  out["actor"] = h.actor;
  out["recipients"] = h.recipients;
  out["consent_ref"] = h.consent_ref;
  out["legal_basis"] = schema::LegalBasisName(h.legal_basis);
  out["tier"] = schema::TierName(h.tier);
  out["purpose"] = schema::PurposeName(h.purpose);
  out["emitted_at"] = TimeJson(h.emitted_at);
  out["due_at"] = TimeJson(h.due_at);
  out["in_reply_to"] = UuidJson(h.in_reply_to);
  out["decline_reason"] = schema::DeclineReasonName(h.decline_reason);
  out["consent"] = h.consent ? ConsentTermsToJson(*h.consent) : Json(nullptr);
  return out;
}

}  // namespace internal

std::string HeaderToJson(const schema::Header& header) {
  return internal::DumpJson(internal::HeaderToJsonValue(header));
}

base::Result<schema::Header> HeaderFromJson(std::string_view text) {
  RELAIS_ASSIGN_OR_RETURN(Json doc, internal::ParseJsonText(text));
  JsonErrors errors;
  schema::Header h;
  FieldReader r(doc, "", errors);
  r.Uint16("version", h.version);
  r.Uuid("event_id", h.event_id);
  r.Enum("kind", h.kind, internal::kEventKindNames);
  r.Enum("referral_kind", h.referral_kind, internal::kReferralKindNames);
  r.Text("case_ref", h.case_ref);
  r.Text("emitter", h.emitter);
  r.Text("emitter_key_id", h.emitter_key_id);
  r.Text("actor", h.actor);
  r.TextList("recipients", h.recipients);
  r.Text("consent_ref", h.consent_ref);
  r.Enum("legal_basis", h.legal_basis, internal::kLegalBasisNames);
  r.Enum("tier", h.tier, internal::kTierNames);
  r.Enum("purpose", h.purpose, internal::kPurposeNames);
  r.Time("emitted_at", h.emitted_at);
  r.Time("due_at", h.due_at);
  r.Uuid("in_reply_to", h.in_reply_to);
  r.Enum("decline_reason", h.decline_reason, internal::kDeclineReasonNames);
  if (const Json* c = r.Object("consent")) {
    internal::ReadConsentTerms(*c, "consent", errors, h.consent.emplace());
  }
  r.Finish();
  if (!errors.ok()) return errors.TakeError();
  return h;
}

std::string EventBodyToJson(const schema::EventBody& body) {
  return internal::DumpJson(internal::BodyToJsonValue(body));
}

base::Result<schema::EventBody> EventBodyFromJson(std::string_view text) {
  RELAIS_ASSIGN_OR_RETURN(Json doc, internal::ParseJsonText(text));
  JsonErrors errors;
  std::string type;
  {
    FieldReader r(doc, "", errors);
    r.Require("type");
    r.Text("type", type);
  }
  if (!errors.ok()) return errors.TakeError();
  size_t index = std::variant_size_v<schema::EventBody>;
  for (size_t i = 0; i < std::variant_size_v<schema::EventBody>; ++i) {
    if (type == internal::BodyTypeName(i)) index = i;
  }
  if (index == std::variant_size_v<schema::EventBody>) {
    return base::InvalidInput(internal::kBadField,
                              "type: expected one of: empty, referral, note, accepted, "
                              "handed_over, picked_up, consent, broker_notice");
  }
  schema::EventBody body;
  internal::ReadBodyFields(doc, "", index, errors, body);
  if (!errors.ok()) return errors.TakeError();
  return body;
}

std::string DeliveryToJsonLine(uint64_t seq, base::TimeMs received_at, uint32_t attempt,
                               const schema::Header& header, const schema::EventBody& body) {
  Json out = Json::object();
  out["seq"] = seq;
  out["received_at"] = internal::TimeJson(received_at);
  out["attempt"] = attempt;
  out["header"] = internal::HeaderToJsonValue(header);
  out["body"] = internal::BodyToJsonValue(body);
  return internal::DumpJson(out);
}

size_t BodyIndexForKind(schema::EventKind kind) {
  using K = schema::EventKind;
  switch (kind) {
    case K::kUnknown:
      return 0;
    case K::kReferral:
      return 1;
    case K::kAccepted:
      return 3;
    case K::kHandedOver:
      return 4;
    case K::kPickedUp:
      return 5;
    case K::kConsentGranted:
    case K::kConsentWithdrawn:
      return 6;
    case K::kReminder:
    case K::kEscalation:
    case K::kRupture:
    case K::kOfferTaken:
      return 7;
    case K::kDeadlineChanged:
    case K::kCancelled:
    case K::kDeclined:
    case K::kClosed:
    case K::kPurgeRequest:
    case K::kPurgeReceipt:
      return 2;
  }
  return 0;
}

std::string JsonString(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

base::Result<std::string> PrettyJson(std::string_view text) {
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return base::InvalidInput("bad_json", "not a JSON document");
  return value.dump(2, ' ', false, Json::error_handler_t::replace);
}

}  // namespace relais::sdk
