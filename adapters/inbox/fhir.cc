#include "adapters/inbox/fhir.h"

#include <variant>

#include "adapters/sdk/json.h"
#include "base/bytes.h"
#include "crypto/random.h"

namespace relais::inbox {

namespace {

using sdk::JsonString;

std::string Field(const char* name, const std::string& json_value) {
  return std::string("\"") + name + "\":" + json_value;
}

std::string Str(const char* name, const std::string& text) { return Field(name, JsonString(text)); }

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    out += (out.empty() ? "" : ",") + p;
  }
  return out;
}

std::string Object(const std::vector<std::string>& fields) { return "{" + Join(fields) + "}"; }

std::string NeedsText(const schema::Needs& n) {
  std::string out;
  auto add = [&](const std::string& label, const std::string& v) {
    if (!v.empty()) out += (out.empty() ? "" : "; ") + label + " : " + v;
  };
  add("Situation de logement", n.housing_situation);
  add("Besoin d'hébergement", n.housing_need);
  add("Continuité des soins", n.health_continuity);
  if (n.reduced_mobility)
    add("Mobilité réduite", n.mobility_notes.empty() ? "oui" : n.mobility_notes);
  if (n.animals > 0) add("Animaux", std::to_string(n.animals) + " " + n.animal_notes);
  if (n.children > 0) add("Enfants", std::to_string(n.children) + " " + n.children_notes);
  add("Ressources et droits", n.income_and_rights);
  if (n.addiction_care) add("Soins en addictologie", "oui");
  if (n.id_papers_missing) add("Papiers d'identité manquants", "oui");
  return out;
}

}  // namespace

const char* FhirTaskStatus(CaseState state) {
  switch (state) {
    case CaseState::kToAnswer:
    case CaseState::kAlertOnly:
      return "requested";
    case CaseState::kAccepted:
      return "accepted";
    case CaseState::kDeclined:
      return "rejected";
    case CaseState::kTakenByOther:
    case CaseState::kCancelled:
      return "cancelled";
    case CaseState::kHandedOver:
      return "in-progress";
    case CaseState::kPickedUp:
    case CaseState::kClosed:
      return "completed";
  }
  return "requested";
}

const char* FhirServiceRequestStatus(CaseState state) {
  switch (state) {
    case CaseState::kCancelled:
      return "revoked";
    case CaseState::kPickedUp:
    case CaseState::kClosed:
      return "completed";
    default:
      return "active";
  }
}

base::Result<std::string> FhirBundle(const CaseView& c, const std::string& agency_id) {
  if (!c.referral) return base::NotFound("no_referral", "case " + c.case_ref + " has no referral");
  const auto* body = std::get_if<schema::ReferralBody>(&c.referral->body);
  schema::ReferralBody empty;
  if (!body) body = &empty;
  const schema::Header& h = c.referral->header;
  std::string request_id = crypto::FormatUuid(h.event_id);
  std::string request_url = "urn:uuid:" + request_id;
  std::string case_identifier =
      Object({Str("system", "urn:relais:case-ref"), Str("value", c.case_ref)});
  std::string name = body->person.given_names + " " + body->person.family_name;
  std::string referrer = body->referrer.name +
                         (body->referrer.service.empty() ? "" : ", " + body->referrer.service) +
                         (body->referrer.phone.empty() ? "" : ", " + body->referrer.phone);

  std::vector<std::string> notes;
  if (!body->situation.empty()) notes.push_back(Object({Str("text", body->situation)}));
  if (std::string needs = NeedsText(body->needs); !needs.empty()) {
    notes.push_back(Object({Str("text", needs)}));
  }
  if (!body->consent_summary.empty()) {
    notes.push_back(Object({Str("text", "Consentement : " + body->consent_summary)}));
  }
  std::string service_request = Object({
      Str("resourceType", "ServiceRequest"),
      Str("id", request_id),
      Field("identifier", "[" + case_identifier + "]"),
      Str("status", FhirServiceRequestStatus(c.state)),
      Str("intent", "order"),
      Field("code", Object({Str("text", ReferralKindLabel(c.referral_kind))})),
      Field("subject", Object({Str("display", name)})),
      c.due_at ? Str("occurrenceDateTime", base::FormatIsoUtc(c.due_at)) : "",
      Str("authoredOn", base::FormatIsoUtc(h.emitted_at)),
      Field("requester", Object({Str("display", referrer)})),
      Field("performer", "[" + Object({Str("display", agency_id)}) + "]"),
      body->exit_place.empty()
          ? ""
          : Field("locationReference", "[" + Object({Str("display", body->exit_place)}) + "]"),
      notes.empty() ? "" : Field("note", "[" + Join(notes) + "]"),
  });
  std::string task = Object({
      Str("resourceType", "Task"),
      Field("identifier", "[" + case_identifier + "]"),
      Str("status", FhirTaskStatus(c.state)),
      Field("businessStatus", Object({Str("text", CaseStateLabel(c.state))})),
      Str("intent", "order"),
      Field("focus", Object({Str("reference", request_url)})),
      Field("for", Object({Str("display", name)})),
      Str("authoredOn", base::FormatIsoUtc(h.emitted_at)),
      Field("requester", Object({Str("display", c.emitter)})),
      Field("owner", Object({Str("display", agency_id)})),
      c.accept_by
          ? Field("restriction",
                  Object({Field("period", Object({Str("end", base::FormatIsoUtc(c.accept_by))}))}))
          : "",
  });
  std::string bundle = Object({
      Str("resourceType", "Bundle"),
      Str("type", "collection"),
      Field("entry", "[" +
                         Object({Str("fullUrl", request_url), Field("resource", service_request)}) +
                         "," + Object({Field("resource", task)}) + "]"),
  });
  return sdk::PrettyJson(bundle);
}

}  // namespace relais::inbox
