// JSON forms of the sealed event bodies (schema/events.h).
#include <string>
#include <type_traits>
#include <utility>

#include "adapters/sdk/json_convert.h"

namespace relais::sdk::internal {

namespace {

constexpr const char* kBodyTypeNames[] = {"empty",       "referral",  "note",    "accepted",
                                          "handed_over", "picked_up", "consent", "broker_notice"};
static_assert(std::size(kBodyTypeNames) == std::variant_size_v<schema::EventBody>);

// --- output ---

Json ToJson(const schema::Identifier& id) {
  return Json{{"system", id.system}, {"value", id.value}};
}

Json ToJson(const schema::Person& p) {
  Json identifiers = Json::array();
  for (const auto& id : p.identifiers) identifiers.push_back(ToJson(id));
  return Json{{"family_name", p.family_name},
              {"given_names", p.given_names},
              {"used_name", p.used_name},
              {"birth_date", p.birth_date},
              {"sex", p.sex},
              {"ins", p.ins},
              {"identifiers", identifiers},
              {"phone", p.phone},
              {"languages", p.languages}};
}

Json ToJson(const schema::Contact& c) {
  return Json{{"name", c.name},
              {"role", c.role},
              {"service", c.service},
              {"phone", c.phone},
              {"email", c.email}};
}

Json ToJson(const schema::Needs& n) {
  return Json{
      {"housing_situation", n.housing_situation}, {"housing_need", n.housing_need},
      {"health_continuity", n.health_continuity}, {"reduced_mobility", n.reduced_mobility},
      {"mobility_notes", n.mobility_notes},       {"animals", n.animals},
      {"animal_notes", n.animal_notes},           {"children", n.children},
      {"children_notes", n.children_notes},       {"income_and_rights", n.income_and_rights},
      {"addiction_care", n.addiction_care},       {"id_papers_missing", n.id_papers_missing}};
}

void AddDetails(const schema::ReferralBody& r, Json& out) {
  if (const auto* h = std::get_if<schema::HospitalDetails>(&r.details)) {
    out["hospital"] =
        Json{{"facility", h->facility}, {"ward", h->ward}, {"visit_number", h->visit_number}};
  } else if (const auto* p = std::get_if<schema::PrisonDetails>(&r.details)) {
    out["prison"] = Json{{"establishment", p->establishment}, {"date_firm", p->date_firm}};
  } else if (const auto* a = std::get_if<schema::AseDetails>(&r.details)) {
    out["ase"] = Json{{"contrat_jeune_majeur_end", a->contrat_jeune_majeur_end},
                      {"department", a->department}};
  } else if (const auto* t = std::get_if<schema::TreveDetails>(&r.details)) {
    out["treve"] = Json{{"procedure_stage", t->procedure_stage},
                        {"household_adults", t->household_adults},
                        {"household_children", t->household_children}};
  }
}

void AddFields(const std::monostate&, Json&) {}

void AddFields(const schema::ReferralBody& r, Json& out) {
  out["person"] = ToJson(r.person);
  out["exit_date"] = TimeJson(r.exit_date);
  out["exit_place"] = r.exit_place;
  out["situation"] = r.situation;
  out["needs"] = ToJson(r.needs);
  out["referrer"] = ToJson(r.referrer);
  out["consent_summary"] = r.consent_summary;
  out["free_text"] = r.free_text;
  AddDetails(r, out);
}

void AddFields(const schema::NoteBody& b, Json& out) { out["note"] = b.note; }

void AddFields(const schema::AcceptedBody& b, Json& out) {
  out["contact"] = ToJson(b.contact);
  out["note"] = b.note;
}

void AddFields(const schema::HandedOverBody& b, Json& out) {
  out["disposition"] = b.disposition;
  out["discharged_to"] = b.discharged_to;
  out["note"] = b.note;
}

void AddFields(const schema::PickedUpBody& b, Json& out) {
  out["place_name"] = b.place_name;
  out["note"] = b.note;
}

void AddFields(const schema::ConsentBody& b, Json& out) { out["statement"] = b.statement; }

void AddFields(const schema::BrokerNoticeBody& b, Json& out) {
  out["stage"] = b.stage;
  out["accept_by"] = TimeJson(b.accept_by);
  out["pickup_by"] = TimeJson(b.pickup_by);
  out["note"] = b.note;
}

// --- input ---

void Read(const Json& v, const std::string& path, JsonErrors& e, schema::Contact& c) {
  FieldReader r(v, path, e);
  r.Text("name", c.name);
  r.Text("role", c.role);
  r.Text("service", c.service);
  r.Text("phone", c.phone);
  r.Text("email", c.email);
  r.Finish();
}

void Read(const Json& v, const std::string& path, JsonErrors& e, schema::Person& p) {
  FieldReader r(v, path, e);
  r.Text("family_name", p.family_name);
  r.Text("given_names", p.given_names);
  r.Text("used_name", p.used_name);
  r.Date("birth_date", p.birth_date);
  r.Text("sex", p.sex);
  r.Text("ins", p.ins);
  if (const Json* ids = r.Array("identifiers")) {
    std::string ids_path = JoinPath(path, "identifiers");
    p.identifiers.clear();
    for (size_t i = 0; i < ids->size() && e.ok(); ++i) {
      schema::Identifier id;
      FieldReader ir((*ids)[i], IndexPath(ids_path, i), e);
      ir.Require("system");
      ir.Text("system", id.system);
      ir.Text("value", id.value);
      ir.Finish();
      p.identifiers.push_back(std::move(id));
    }
  }
  r.Text("phone", p.phone);
  r.TextList("languages", p.languages);
  r.Finish();
}

void Read(const Json& v, const std::string& path, JsonErrors& e, schema::Needs& n) {
  FieldReader r(v, path, e);
  r.Text("housing_situation", n.housing_situation);
  r.Text("housing_need", n.housing_need);
  r.Text("health_continuity", n.health_continuity);
  r.Flag("reduced_mobility", n.reduced_mobility);
  r.Text("mobility_notes", n.mobility_notes);
  r.Uint8("animals", n.animals);
  r.Text("animal_notes", n.animal_notes);
  r.Uint8("children", n.children);
  r.Text("children_notes", n.children_notes);
  r.Text("income_and_rights", n.income_and_rights);
  r.Flag("addiction_care", n.addiction_care);
  r.Flag("id_papers_missing", n.id_papers_missing);
  r.Finish();
}

void ReadDetails(FieldReader& r, JsonErrors& e, schema::ReferralBody& b) {
  const char* present = nullptr;
  for (const char* key : {"hospital", "prison", "ase", "treve"}) {
    if (!r.Has(key)) continue;
    if (present != nullptr) {
      e.Fail(kBadField, JoinPath(r.path(), key),
             std::string("only one of hospital, prison, ase, treve may be given (") + present +
                 " is too)");
      return;
    }
    present = key;
  }
  if (const Json* h = r.Object("hospital")) {
    schema::HospitalDetails d;
    FieldReader dr(*h, JoinPath(r.path(), "hospital"), e);
    dr.Text("facility", d.facility);
    dr.Text("ward", d.ward);
    dr.Text("visit_number", d.visit_number);
    dr.Finish();
    b.details = d;
  } else if (const Json* p = r.Object("prison")) {
    schema::PrisonDetails d;
    FieldReader dr(*p, JoinPath(r.path(), "prison"), e);
    dr.Text("establishment", d.establishment);
    dr.Flag("date_firm", d.date_firm);
    dr.Finish();
    b.details = d;
  } else if (const Json* a = r.Object("ase")) {
    schema::AseDetails d;
    FieldReader dr(*a, JoinPath(r.path(), "ase"), e);
    dr.Date("contrat_jeune_majeur_end", d.contrat_jeune_majeur_end);
    dr.Text("department", d.department);
    dr.Finish();
    b.details = d;
  } else if (const Json* t = r.Object("treve")) {
    schema::TreveDetails d;
    FieldReader dr(*t, JoinPath(r.path(), "treve"), e);
    dr.Text("procedure_stage", d.procedure_stage);
    dr.Uint8("household_adults", d.household_adults);
    dr.Uint8("household_children", d.household_children);
    dr.Finish();
    b.details = d;
  }
}

void ReadFields(FieldReader&, JsonErrors&, std::monostate&) {}

void ReadFields(FieldReader& r, JsonErrors& e, schema::ReferralBody& b) {
  if (const Json* v = r.Object("person")) Read(*v, JoinPath(r.path(), "person"), e, b.person);
  r.Time("exit_date", b.exit_date);
  r.Text("exit_place", b.exit_place);
  r.Text("situation", b.situation);
  if (const Json* v = r.Object("needs")) Read(*v, JoinPath(r.path(), "needs"), e, b.needs);
  if (const Json* v = r.Object("referrer")) Read(*v, JoinPath(r.path(), "referrer"), e, b.referrer);
  r.Text("consent_summary", b.consent_summary);
  r.Text("free_text", b.free_text);
  ReadDetails(r, e, b);
}

void ReadFields(FieldReader& r, JsonErrors&, schema::NoteBody& b) { r.Text("note", b.note); }

void ReadFields(FieldReader& r, JsonErrors& e, schema::AcceptedBody& b) {
  if (const Json* v = r.Object("contact")) Read(*v, JoinPath(r.path(), "contact"), e, b.contact);
  r.Text("note", b.note);
}

void ReadFields(FieldReader& r, JsonErrors&, schema::HandedOverBody& b) {
  r.Text("disposition", b.disposition);
  r.Text("discharged_to", b.discharged_to);
  r.Text("note", b.note);
}

void ReadFields(FieldReader& r, JsonErrors&, schema::PickedUpBody& b) {
  r.Text("place_name", b.place_name);
  r.Text("note", b.note);
}

void ReadFields(FieldReader& r, JsonErrors&, schema::ConsentBody& b) {
  r.Text("statement", b.statement);
}

void ReadFields(FieldReader& r, JsonErrors&, schema::BrokerNoticeBody& b) {
  r.Text("stage", b.stage);
  r.Time("accept_by", b.accept_by);
  r.Time("pickup_by", b.pickup_by);
  r.Text("note", b.note);
}

// Sets `out` to alternative I and reads it.
template <size_t I>
void ReadAlternative(FieldReader& r, JsonErrors& e, schema::EventBody& out) {
  ReadFields(r, e, out.emplace<I>());
}

template <size_t... I>
void ReadByIndex(size_t index, FieldReader& r, JsonErrors& e, schema::EventBody& out,
                 std::index_sequence<I...>) {
  ((index == I ? ReadAlternative<I>(r, e, out) : void()), ...);
}

}  // namespace

const char* BodyTypeName(size_t index) {
  return index < std::size(kBodyTypeNames) ? kBodyTypeNames[index] : "unknown";
}

Json BodyToJsonValue(const schema::EventBody& body) {
  Json out = Json::object();
  out["type"] = BodyTypeName(body.index());
  std::visit([&out](const auto& alternative) { AddFields(alternative, out); }, body);
  return out;
}

void ReadBodyFields(const Json& value, const std::string& path, size_t index, JsonErrors& errors,
                    schema::EventBody& out) {
  FieldReader r(value, path, errors);
  if (r.Has("type")) {
    std::string name;
    r.Text("type", name);
    if (errors.ok() && name != BodyTypeName(index)) {
      errors.Fail(kBadField, JoinPath(path, "type"),
                  std::string("expected \"") + BodyTypeName(index) + "\" for this event kind");
    }
  }
  ReadByIndex(index, r, errors, out,
              std::make_index_sequence<std::variant_size_v<schema::EventBody>>());
  r.Finish();
}

}  // namespace relais::sdk::internal
