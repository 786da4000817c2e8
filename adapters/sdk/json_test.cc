#include "adapters/sdk/json.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "crypto/random.h"

namespace relais::sdk {
namespace {

constexpr base::TimeMs kT = 1'796'288'400'123;  // 2026-12-03T09:00:00.123Z

schema::Header FullHeader() {
  schema::Header h;
  h.event_id = crypto::NewEventId(kT);
  h.kind = schema::EventKind::kConsentGranted;
  h.case_ref = "c-abcdefghijklmnopqrstuvwxyz";
  h.emitter = "hosp-a";
  h.emitter_key_id = "0123456789abcdef";
  h.actor = "pro-17";
  h.recipients = {"assoc-a", "siao-75"};
  h.consent_ref = "consent-1";
  h.legal_basis = schema::LegalBasis::kLegalObligation;
  h.tier = schema::Tier::kNotice;
  h.purpose = schema::Purpose::kHealthContinuity;
  h.emitted_at = kT;
  h.due_at = kT + 86'400'000;
  h.in_reply_to = crypto::NewEventId(kT - 1000);
  schema::ConsentTerms terms;
  terms.consent_id = "consent-1";
  terms.method = schema::ConsentMethod::kAssisted;
  terms.purposes = {schema::Purpose::kHousing, schema::Purpose::kSocialSupport};
  terms.recipient_agencies = {"assoc-a"};
  terms.recipient_kinds = {"siao", "shelter"};
  terms.tier = schema::Tier::kReferral;
  terms.valid_from = kT;
  terms.valid_until = kT + 1000;
  terms.collected_at = kT - 5000;
  terms.legal_basis = schema::LegalBasis::kConsent;
  h.consent = terms;
  return h;
}

schema::ReferralBody FullReferral() {
  schema::ReferralBody r;
  r.person.family_name = "Martin";
  r.person.given_names = "Léa Anne";
  r.person.used_name = "Durand";
  r.person.birth_date = "1990-04-01";
  r.person.sex = "F";
  r.person.ins = "290049912345678";
  r.person.identifiers = {{"IPP", "123"}, {"INS-NIR", "290049912345678"}};
  r.person.phone = "+33 6 00 00 00 00";
  r.person.languages = {"fr", "ar"};
  r.exit_date = kT;
  r.exit_place = "CHU, porte B";
  r.situation = "sans domicile";
  r.needs.housing_situation = "rue";
  r.needs.housing_need = "LHSS";
  r.needs.health_continuity = "pansements";
  r.needs.reduced_mobility = true;
  r.needs.mobility_notes = "fauteuil";
  r.needs.animals = 2;
  r.needs.animal_notes = "chiens";
  r.needs.children = 255;
  r.needs.children_notes = "n/a";
  r.needs.income_and_rights = "RSA";
  r.needs.addiction_care = true;
  r.needs.id_papers_missing = true;
  r.referrer = {"A. Assistante", "assistante sociale", "service social", "01 00", "a@h.fr"};
  r.consent_summary = "logement";
  r.free_text = "texte \"libre\"\nligne 2";
  return r;
}

TEST(JsonTest, HeaderRoundTripsWithEveryField) {
  schema::Header h = FullHeader();
  std::string text = HeaderToJson(h);
  EXPECT_EQ(text.find('\n'), std::string::npos);
  auto back = HeaderFromJson(text);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, h);
}

TEST(JsonTest, DefaultHeaderRoundTripsAndWritesZeroTimesAsNull) {
  schema::Header h;
  std::string text = HeaderToJson(h);
  EXPECT_NE(text.find("\"due_at\":null"), std::string::npos);
  EXPECT_NE(text.find("\"event_id\":null"), std::string::npos);
  auto back = HeaderFromJson(text);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(*back, h);
}

TEST(JsonTest, HeaderUsesSnakeCaseNamesAndIsoTimes) {
  schema::Header h = FullHeader();
  h.kind = schema::EventKind::kReferral;
  h.referral_kind = schema::ReferralKind::kHospitalDischarge;
  std::string text = HeaderToJson(h);
  EXPECT_NE(text.find("\"referral_kind\":\"hospital_discharge\""), std::string::npos);
  EXPECT_NE(text.find("\"purpose\":\"health_continuity\""), std::string::npos);
  EXPECT_NE(text.find("\"emitted_at\":\"2026-12-03T09:00:00.123Z\""), std::string::npos);
  EXPECT_NE(text.find("\"event_id\":\"" + crypto::FormatUuid(h.event_id) + "\""),
            std::string::npos);
}

std::vector<schema::EventBody> EveryBody() {
  std::vector<schema::EventBody> bodies;
  bodies.emplace_back(std::monostate{});
  schema::ReferralBody r = FullReferral();
  bodies.emplace_back(r);
  r.details = schema::HospitalDetails{"CHU", "cardio", "V123"};
  bodies.emplace_back(r);
  r.details = schema::PrisonDetails{"CP Fresnes", true};
  bodies.emplace_back(r);
  r.details = schema::AseDetails{"2027-01-31", "93"};
  bodies.emplace_back(r);
  r.details = schema::TreveDetails{"concours granted", 2, 3};
  bodies.emplace_back(r);
  bodies.emplace_back(schema::ReferralBody{});
  bodies.emplace_back(schema::NoteBody{"note"});
  bodies.emplace_back(schema::AcceptedBody{{"B", "educ", "CHRS", "02", "b@a.fr"}, "ok"});
  bodies.emplace_back(schema::HandedOverBody{"01", "home", "n"});
  bodies.emplace_back(schema::PickedUpBody{"CHRS Soleil", "arrivée 10h"});
  bodies.emplace_back(schema::ConsentBody{"J'accepte"});
  bodies.emplace_back(schema::BrokerNoticeBody{"escalation", kT, kT + 1, "n"});
  return bodies;
}

TEST(JsonTest, EveryBodyAlternativeRoundTrips) {
  for (const schema::EventBody& body : EveryBody()) {
    std::string text = EventBodyToJson(body);
    auto back = EventBodyFromJson(text);
    ASSERT_TRUE(back) << back.error().ToString();
    EXPECT_EQ(*back, body) << "alternative " << body.index();
  }
}

TEST(JsonTest, BodyIsTaggedWithItsType) {
  EXPECT_NE(EventBodyToJson(schema::PickedUpBody{}).find("\"type\":\"picked_up\""),
            std::string::npos);
  std::string referral = EventBodyToJson(schema::ReferralBody{FullReferral()});
  EXPECT_NE(referral.find("\"type\":\"referral\""), std::string::npos);
  EXPECT_EQ(referral.find("\"hospital\""), std::string::npos);
}

TEST(JsonTest, InvalidUtf8FromAPeerIsReplacedNotThrown) {
  schema::NoteBody note{std::string("caf\xe9", 4)};
  std::string text = EventBodyToJson(note);
  EXPECT_NE(text.find("caf"), std::string::npos);
}

TEST(JsonTest, DeliveryLineHoldsSeqHeaderAndBodyOnOneLine) {
  schema::Header h = FullHeader();
  std::string line = DeliveryToJsonLine(17, kT, 2, h, schema::NoteBody{"a\nb"});
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind("{\"seq\":17,\"received_at\":\"2026-12-03T09:00:00.123Z\",\"attempt\":2,"
                       "\"header\":{",
                       0),
            0u);
  EXPECT_NE(line.find("\"body\":{\"type\":\"note\",\"note\":\"a\\nb\"}"), std::string::npos);
}

// --- the publish input document ---

constexpr const char* kReferralDoc = R"({
  "kind": "referral",
  "referral_kind": "hospital_discharge",
  "recipients": ["assoc-a", "assoc-b"],
  "consent_ref": "consent-42",
  "legal_basis": "consent",
  "tier": "referral",
  "purpose": "housing",
  "due_at": "2026-12-03T10:00:00+01:00",
  "actor": "as-0042",
  "body": {
    "person": {"family_name": "Martin", "given_names": "Léa", "birth_date": "1990-04-01"},
    "exit_place": "CHU",
    "needs": {"housing_need": "LHSS", "animals": 1, "reduced_mobility": true},
    "referrer": {"name": "A. Assistante", "phone": "01 00 00 00 00"},
    "hospital": {"facility": "CHU", "ward": "cardiologie"}
  }
})";

TEST(PublishInputTest, ParsesAReferralAndDrawsACaseRef) {
  auto in = ParsePublishInput(kReferralDoc);
  ASSERT_TRUE(in) << in.error().ToString();
  const schema::Header& h = in->header;
  EXPECT_EQ(h.kind, schema::EventKind::kReferral);
  EXPECT_EQ(h.referral_kind, schema::ReferralKind::kHospitalDischarge);
  EXPECT_TRUE(in->case_ref_generated);
  EXPECT_EQ(h.case_ref.rfind("c-", 0), 0u);
  EXPECT_EQ(h.recipients, (std::vector<std::string>{"assoc-a", "assoc-b"}));
  EXPECT_EQ(h.purpose, schema::Purpose::kHousing);
  EXPECT_EQ(h.due_at, 1'796'288'400'000);
  EXPECT_TRUE(h.event_id.empty());
  EXPECT_TRUE(h.emitter.empty());
  const auto& r = std::get<schema::ReferralBody>(in->body);
  EXPECT_EQ(r.person.family_name, "Martin");
  EXPECT_EQ(r.needs.animals, 1);
  EXPECT_TRUE(r.needs.reduced_mobility);
  EXPECT_EQ(r.exit_date, h.due_at) << "exit_date defaults to due_at";
  EXPECT_EQ(std::get<schema::HospitalDetails>(r.details).ward, "cardiologie");
}

TEST(PublishInputTest, KeepsAGivenCaseRefAndEventId) {
  std::string id = crypto::FormatUuid(crypto::NewEventId(kT));
  auto in = ParsePublishInput(R"({"kind":"accepted","case_ref":"c-x","recipients":["hosp-a"],
      "event_id":")" + id + R"(","in_reply_to":")" +
                              id + R"(","body":{"contact":{"name":"B"},"note":"ok"}})");
  ASSERT_TRUE(in) << in.error().ToString();
  EXPECT_FALSE(in->case_ref_generated);
  EXPECT_EQ(in->header.case_ref, "c-x");
  EXPECT_EQ(crypto::FormatUuid(in->header.event_id), id);
  EXPECT_EQ(std::get<schema::AcceptedBody>(in->body).contact.name, "B");
}

TEST(PublishInputTest, DeclinedNeedsAReasonAndGetsANoteBody) {
  std::string id = crypto::FormatUuid(crypto::NewEventId(kT));
  auto in = ParsePublishInput(R"({"kind":"declined","case_ref":"c-x","recipients":["hosp-a"],
      "in_reply_to":")" + id + R"(","decline_reason":"no_capacity"})");
  ASSERT_TRUE(in) << in.error().ToString();
  EXPECT_EQ(in->header.decline_reason, schema::DeclineReason::kNoCapacity);
  EXPECT_TRUE(std::holds_alternative<schema::NoteBody>(in->body));
}

TEST(PublishInputTest, ConsentGrantedCarriesTermsAndDefaultsConsentRef) {
  auto in = ParsePublishInput(R"({"kind":"consent_granted","consent":{
      "consent_id":"consent-9","method":"oral","purposes":["housing"],
      "recipient_kinds":["association"],"valid_from":"2026-11-01","valid_until":"2027-11-01"},
      "body":{"statement":"d'accord"}})");
  ASSERT_TRUE(in) << in.error().ToString();
  ASSERT_TRUE(in->header.consent.has_value());
  EXPECT_EQ(in->header.consent->method, schema::ConsentMethod::kOral);
  EXPECT_EQ(in->header.consent->recipient_kinds, std::vector<std::string>{"association"});
  EXPECT_EQ(in->header.consent_ref, "consent-9");
  EXPECT_TRUE(in->header.recipients.empty());
  EXPECT_EQ(std::get<schema::ConsentBody>(in->body).statement, "d'accord");
}

// Every JSON block of docs/adapters/json-referral.md is a valid input document.
TEST(PublishInputTest, EveryExampleInTheGuideParses) {
  std::ifstream in(std::string(RELAIS_SOURCE_DIR) + "/docs/adapters/json-referral.md");
  ASSERT_TRUE(in) << "docs/adapters/json-referral.md is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  int examples = 0;
  for (size_t at = doc.find("```json\n"); at != std::string::npos;
       at = doc.find("```json\n", at + 1)) {
    size_t start = at + 8;
    size_t end = doc.find("```", start);
    ASSERT_NE(end, std::string::npos);
    auto parsed = ParsePublishInput(doc.substr(start, end - start));
    EXPECT_TRUE(parsed) << "example " << examples + 1 << ": " << parsed.error().ToString();
    ++examples;
  }
  EXPECT_GE(examples, 4);
}

struct BadInput {
  const char* name;
  std::string doc;
  const char* code;
  const char* message_prefix;
  const char* secret;  // must not appear in the message
};

std::string WithBody(const std::string& body) {
  return R"({"kind":"referral","referral_kind":"prison_release","recipients":["assoc-a"],
            "body":)" +
         body + "}";
}

std::vector<BadInput> BadInputs() {
  return {
      {"syntax", "{\n  \"kind\": \"referral\",\n  \"recipients\": [\"assoc-a\"\n}", "bad_json",
       "JSON syntax error at line 4, column 1", "assoc-a"},
      {"unterminated_string", WithBody(R"({"person": {"family_name": "Dupont})"), "bad_json",
       "JSON syntax error at line", "Dupont"},
      {"duplicate_key", WithBody(R"({"exit_place": "Lyon", "exit_place": "Paris"})"), "bad_json",
       "duplicate field \"exit_place\"", "Paris"},
      {"not_an_object", "[1, 2]", "bad_field", "the document: expected an object", "1, 2"},
      {"unknown_top_field",
       R"({"kind":"cancelled","case_ref":"c-1","recipients":["a"],"recipeints":["Dupont"]})",
       "unknown_field", "recipeints: unknown field", "Dupont"},
      {"unknown_nested_field", WithBody(R"({"person": {"famly_name": "Dupont"}})"), "unknown_field",
       "body.person.famly_name: unknown field", "Dupont"},
      {"unknown_in_array",
       WithBody(R"({"person": {"identifiers": [{"system":"IPP","valeur":"77"}]}})"),
       "unknown_field", "body.person.identifiers[0].valeur: unknown field", "77"},
      {"animals_string", WithBody(R"({"needs": {"animals": "2"}})"), "bad_field",
       "body.needs.animals: expected an integer 0-255", "\"2\""},
      {"animals_too_many", WithBody(R"({"needs": {"animals": 300}})"), "bad_field",
       "body.needs.animals: expected an integer 0-255", "300"},
      {"animals_negative", WithBody(R"({"needs": {"animals": -1}})"), "bad_field",
       "body.needs.animals: expected an integer 0-255", "-1"},
      {"animals_fraction", WithBody(R"({"needs": {"animals": 1.5}})"), "bad_field",
       "body.needs.animals: expected an integer 0-255", "1.5"},
      {"flag_string", WithBody(R"({"needs": {"reduced_mobility": "oui"}})"), "bad_field",
       "body.needs.reduced_mobility: expected true or false", "oui"},
      {"bad_due_at",
       R"({"kind":"referral","referral_kind":"ase_exit","recipients":["a"],"body":{},"due_at":"2026-13-45"})",
       "bad_field", "due_at: expected an ISO 8601 date-time", "2026-13-45"},
      {"bad_birth_date", WithBody(R"({"person": {"birth_date": "01/04/1990"}})"), "bad_field",
       "body.person.birth_date: expected a date YYYY-MM-DD", "1990"},
      {"bad_enum",
       R"({"kind":"referral","referral_kind":"ase_exit","recipients":["a"],"body":{},"legal_basis":"consentt"})",
       "bad_field",
       "legal_basis: expected one of: consent, notice_allowed, legal_obligation, vital_interest",
       "consentt"},
      {"bad_kind", R"({"kind":"refferal"})", "bad_field", "kind: expected one of:", "refferal"},
      {"broker_kind", R"({"kind":"escalation","case_ref":"c","recipients":["a"]})", "bad_field",
       "kind: reminder, escalation, rupture and offer_taken are emitted by the broker only",
       "\"c\""},
      {"missing_kind", R"({"recipients":["a"]})", "missing_field", "kind: required", "\"a\""},
      {"missing_recipients", R"({"kind":"cancelled","case_ref":"c-1"})", "missing_field",
       "recipients: required", "c-1"},
      {"missing_referral_kind", R"({"kind":"referral","recipients":["a"],"body":{}})",
       "missing_field", "referral_kind: required", "\"a\""},
      {"missing_body", R"({"kind":"referral","referral_kind":"other","recipients":["a"]})",
       "missing_field", "body: required", "\"a\""},
      {"referral_kind_on_cancel",
       R"({"kind":"cancelled","referral_kind":"other","case_ref":"c","recipients":["a"]})",
       "bad_field", "referral_kind: only allowed when kind is referral", "\"c\""},
      {"missing_in_reply_to", R"({"kind":"accepted","case_ref":"c","recipients":["a"]})",
       "missing_field", "in_reply_to: required", "\"c\""},
      {"bad_uuid", R"({"kind":"accepted","case_ref":"c","recipients":["a"],"in_reply_to":"1234"})",
       "bad_field", "in_reply_to: expected a UUID", "1234"},
      {"recipient_not_string", R"({"kind":"cancelled","case_ref":"c","recipients":["a", 7]})",
       "bad_field", "recipients[1]: expected a string", "7"},
      {"recipient_bad_id",
       R"({"kind":"cancelled","case_ref":"c","recipients":["a", "Jean Dupont"]})", "bad_field",
       "recipients[1]: expected an agency id", "Dupont"},
      {"recipient_twice", R"({"kind":"cancelled","case_ref":"c","recipients":["a", "a"]})",
       "bad_field", "recipients[1]: duplicate recipient", "xyz"},
      {"two_details", WithBody(R"({"hospital": {}, "prison": {}})"), "bad_field",
       "body.prison: only one of hospital, prison, ase, treve may be given", "xyz"},
      {"wrong_body_type", WithBody(R"({"type": "note"})"), "bad_field",
       "body.type: expected \"referral\" for this event kind", "xyz"},
      {"field_of_other_body",
       R"({"kind":"cancelled","case_ref":"c","recipients":["a"],"body":{"statement":"Dupont"}})",
       "unknown_field", "body.statement: unknown field", "Dupont"},
      {"consent_on_referral", WithBody("{}").insert(1, R"("consent":{},)"), "bad_field",
       "consent: only allowed when kind is consent_granted", "xyz"},
      {"bad_recipient_kind",
       R"({"kind":"consent_granted","consent":{"recipient_kinds":["associations"]}})", "bad_field",
       "consent.recipient_kinds[0]: expected one of: hospital,", "associations"},
      {"body_not_object", WithBody(R"("Dupont")"), "bad_field", "body: expected an object",
       "Dupont"},
  };
}

TEST(PublishInputTest, EveryErrorNamesThePathAndNeverTheValue) {
  for (const BadInput& bad : BadInputs()) {
    auto in = ParsePublishInput(bad.doc);
    ASSERT_FALSE(in) << bad.name;
    EXPECT_EQ(in.error().kind, base::ErrorKind::kInvalidInput) << bad.name;
    EXPECT_EQ(in.error().code, bad.code) << bad.name << ": " << in.error().message;
    EXPECT_EQ(in.error().message.rfind(bad.message_prefix, 0), 0u)
        << bad.name << ": " << in.error().message;
    EXPECT_EQ(in.error().message.find(bad.secret), std::string::npos)
        << bad.name << " echoes the input: " << in.error().message;
  }
}

TEST(JsonTest, HeaderAndBodyReadersAreStrictToo) {
  auto h = HeaderFromJson(R"({"kind":"referral","emiter":"x"})");
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message,
            "emiter: unknown field (check its spelling against the documentation)");
  auto b = EventBodyFromJson(R"({"type":"referal"})");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, "bad_field");
  auto missing = EventBodyFromJson(R"({"note":"x"})");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "missing_field");
  auto t = EventBodyFromJson(R"({"type":"broker_notice","accept_by":12})");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message.rfind("accept_by: expected an ISO 8601 date-time", 0), 0u);
}

TEST(JsonTest, NullMeansAbsent) {
  auto in = ParsePublishInput(
      R"({"kind":"cancelled","case_ref":"c","recipients":["a"],"actor":null,"body":null})");
  ASSERT_TRUE(in) << in.error().ToString();
  EXPECT_TRUE(in->header.actor.empty());
}

TEST(JsonTest, BodyIndexFollowsTheKind) {
  EXPECT_EQ(BodyIndexForKind(schema::EventKind::kReferral), 1u);
  EXPECT_EQ(BodyIndexForKind(schema::EventKind::kDeclined), 2u);
  EXPECT_EQ(BodyIndexForKind(schema::EventKind::kAccepted), 3u);
  EXPECT_EQ(BodyIndexForKind(schema::EventKind::kHandedOver), 4u);
  EXPECT_EQ(BodyIndexForKind(schema::EventKind::kPickedUp), 5u);
  EXPECT_EQ(BodyIndexForKind(schema::EventKind::kConsentWithdrawn), 6u);
  EXPECT_EQ(BodyIndexForKind(schema::EventKind::kRupture), 7u);
  EXPECT_EQ(BodyIndexForKind(schema::EventKind::kUnknown), 0u);
}

TEST(JsonTest, JsonStringEscapesQuotesControlsAndInvalidUtf8) {
  EXPECT_EQ(JsonString("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(JsonString("été"), "\"été\"");
  EXPECT_EQ(JsonString(std::string("\x01", 1)), "\"\\u0001\"");
  EXPECT_EQ(JsonString("\xff"), "\"\xef\xbf\xbd\"");
}

TEST(JsonTest, PrettyJsonIndentsAndRejectsNonJson) {
  auto pretty = PrettyJson("{\"a\":[1,2]}");
  ASSERT_TRUE(pretty);
  EXPECT_EQ(*pretty, "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
  auto bad = PrettyJson("{\"secret\":");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "bad_json");
  EXPECT_EQ(bad.error().message.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace relais::sdk
