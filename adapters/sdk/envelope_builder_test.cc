#include "adapters/sdk/envelope_builder.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "crypto/random.h"
#include "crypto/registry_sign.h"
#include "crypto/secret.h"
#include "schema/codec.h"

namespace relais::sdk {
namespace {

constexpr base::TimeMs kIssued = 1'790'000'000'000;
constexpr base::TimeMs kNow = kIssued + base::kMsPerDay;

schema::Agency MakeAgency(const crypto::AgencyIdentity& id, schema::AgencyKind kind) {
  schema::Agency a;
  a.id = id.pub.agency_id;
  a.display_name = id.pub.agency_id;
  a.kind = kind;
  a.keys.push_back(schema::AgencyKey{id.pub.key_id, id.pub.sign_public, id.pub.seal_public,
                                     id.pub.curve_public, kIssued, 0});
  return a;
}

class EnvelopeBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    hospital_ = crypto::GenerateIdentity("hosp-a", kIssued);
    assoc_a_ = crypto::GenerateIdentity("assoc-a", kIssued);
    assoc_b_ = crypto::GenerateIdentity("assoc-b", kIssued);
    outsider_ = crypto::GenerateIdentity("assoc-c", kIssued);
    broker_ = crypto::GenerateIdentity("relaisd", kIssued);
    registry_.serial = 1;
    registry_.issued_at = kIssued;
    registry_.expires_at = kIssued + 365 * base::kMsPerDay;
    registry_.agencies.push_back(MakeAgency(hospital_, schema::AgencyKind::kHospital));
    registry_.agencies.back().may_emit = {schema::EventKind::kReferral,
                                          schema::EventKind::kCancelled};
    for (const auto* r : {&assoc_a_, &assoc_b_, &outsider_}) {
      registry_.agencies.push_back(MakeAgency(*r, schema::AgencyKind::kAssociation));
      registry_.agencies.back().may_receive = true;
      registry_.agencies.back().may_emit = {schema::EventKind::kAccepted};
    }
    registry_.agencies.push_back(MakeAgency(broker_, schema::AgencyKind::kBroker));
  }

  schema::Header ReferralHeader() {
    schema::Header h;
    h.kind = schema::EventKind::kReferral;
    h.referral_kind = schema::ReferralKind::kHospitalDischarge;
    h.case_ref = crypto::NewCaseRef();
    h.recipients = {"assoc-a", "assoc-b"};
    h.consent_ref = "consent-1";
    h.purpose = schema::Purpose::kHousing;
    h.due_at = kNow + 3 * base::kMsPerDay;
    return h;
  }

  schema::EventBody Body() {
    schema::ReferralBody r;
    r.person.family_name = "Martin";
    r.needs.animals = 1;
    r.details = schema::HospitalDetails{"CHU", "cardio", "V1"};
    return r;
  }

  schema::Envelope MustBuild() {
    auto e = BuildEnvelope(ReferralHeader(), Body(), registry_, hospital_, clock_);
    RELAIS_CHECK(e.has_value());
    return *std::move(e);
  }

  schema::Agency& AgencyOf(const std::string& id) { return *registry_.Find(id); }

  base::ManualClock clock_{kNow};
  crypto::AgencyIdentity hospital_, assoc_a_, assoc_b_, outsider_, broker_;
  schema::Registry registry_;
};

TEST_F(EnvelopeBuilderTest, EveryRecipientVerifiesAndOpensWhatWasBuilt) {
  schema::Header given = ReferralHeader();
  auto env = BuildEnvelope(given, Body(), registry_, hospital_, clock_);
  ASSERT_TRUE(env) << env.error().ToString();
  EXPECT_EQ(env->wraps.size(), 2u);
  for (const auto* me : {&assoc_a_, &assoc_b_}) {
    auto opened = VerifyAndOpen(*env, registry_, *me);
    ASSERT_TRUE(opened) << opened.error().ToString();
    EXPECT_EQ(opened->body, Body());
    EXPECT_EQ(opened->header.event_id.size(), schema::kEventIdSize);
    EXPECT_EQ(opened->header.emitted_at, kNow);
    EXPECT_EQ(opened->header.emitter, "hosp-a");
    EXPECT_EQ(opened->header.emitter_key_id, hospital_.pub.key_id);
    EXPECT_EQ(opened->header.case_ref, given.case_ref);
    EXPECT_EQ(opened->header.recipients, given.recipients);
  }
}

TEST_F(EnvelopeBuilderTest, KeepsAGivenEventIdSoARetryIsIdempotent) {
  schema::Header h = ReferralHeader();
  h.event_id = crypto::NewEventId(kNow - 5);
  auto env = BuildEnvelope(h, Body(), registry_, hospital_, clock_);
  ASSERT_TRUE(env) << env.error().ToString();
  EXPECT_EQ(schema::DecodeHeader(env->header)->event_id, h.event_id);
}

TEST_F(EnvelopeBuilderTest, AnAgencyNotAmongTheRecipientsCannotOpen) {
  auto opened = VerifyAndOpen(MustBuild(), registry_, outsider_);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "not_a_recipient");
  EXPECT_EQ(opened.error().kind, base::ErrorKind::kNotAuthorised);
}

TEST_F(EnvelopeBuilderTest, RefusesWhatTheBrokerWouldRefuse) {
  struct Case {
    const char* name;
    std::function<void(schema::Header&, schema::Registry&)> change;
    const char* code;
  };
  std::vector<Case> cases = {
      {"unknown recipient",
       [](schema::Header& h, schema::Registry&) { h.recipients.push_back("nobody"); },
       "unknown_recipient"},
      {"revoked recipient",
       [](schema::Header&, schema::Registry& r) { r.Find("assoc-b")->revoked = true; },
       "recipient_cannot_receive"},
      {"recipient may not receive",
       [](schema::Header&, schema::Registry& r) { r.Find("assoc-b")->may_receive = false; },
       "recipient_cannot_receive"},
      {"recipient key expired",
       [](schema::Header&, schema::Registry& r) { r.Find("assoc-b")->keys[0].valid_until = kNow; },
       "recipient_cannot_receive"},
      {"kind not allowed",
       [](schema::Header&, schema::Registry& r) { r.Find("hosp-a")->may_emit.clear(); },
       "kind_not_allowed"},
      {"emitter revoked",
       [](schema::Header&, schema::Registry& r) { r.Find("hosp-a")->revoked = true; },
       "agency_revoked"},
      {"emitter unknown",
       [](schema::Header&, schema::Registry& r) { r.agencies.erase(r.agencies.begin()); },
       "unknown_emitter"},
      {"emitter key not listed",
       [](schema::Header&, schema::Registry& r) { r.Find("hosp-a")->keys[0].key_id = "ffff"; },
       "unknown_key"},
      {"other emitter", [](schema::Header& h, schema::Registry&) { h.emitter = "assoc-a"; },
       "emitter_mismatch"},
      {"no case ref", [](schema::Header& h, schema::Registry&) { h.case_ref.clear(); },
       "malformed_header"},
  };
  for (const Case& c : cases) {
    schema::Header h = ReferralHeader();
    schema::Registry r = registry_;
    c.change(h, r);
    auto env = BuildEnvelope(h, Body(), r, hospital_, clock_);
    ASSERT_FALSE(env) << c.name;
    EXPECT_EQ(env.error().code, c.code) << c.name << ": " << env.error().message;
    EXPECT_EQ(env.error().message.find("Martin"), std::string::npos);
  }
}

TEST_F(EnvelopeBuilderTest, BodyMustMatchTheKind) {
  auto env = BuildEnvelope(ReferralHeader(), schema::NoteBody{"x"}, registry_, hospital_, clock_);
  ASSERT_FALSE(env);
  EXPECT_EQ(env.error().code, "body_mismatch");
  schema::Header cancel = ReferralHeader();
  cancel.kind = schema::EventKind::kCancelled;
  cancel.referral_kind = schema::ReferralKind::kNone;
  EXPECT_TRUE(BuildEnvelope(cancel, std::monostate{}, registry_, hospital_, clock_));
  EXPECT_EQ(BuildEnvelope(cancel, Body(), registry_, hospital_, clock_).error().code,
            "body_mismatch");
}

TEST_F(EnvelopeBuilderTest, SealsForTheMostRecentValidKeyOfARecipient) {
  crypto::AgencyIdentity rotated = crypto::GenerateIdentity("assoc-a", kNow);
  schema::Agency& a = AgencyOf("assoc-a");
  a.keys.push_back(schema::AgencyKey{rotated.pub.key_id, rotated.pub.sign_public,
                                     rotated.pub.seal_public, rotated.pub.curve_public, kNow - 1000,
                                     0});
  schema::Envelope env = MustBuild();
  auto opened = VerifyAndOpen(env, registry_, rotated);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_FALSE(VerifyAndOpen(env, registry_, assoc_a_));  // the old key got no wrap
}

TEST_F(EnvelopeBuilderTest, TamperedEnvelopeDoesNotVerify) {
  schema::Envelope env = MustBuild();
  env.signature[3] ^= 1;
  auto bad_sig = VerifyAndOpen(env, registry_, assoc_a_);
  ASSERT_FALSE(bad_sig);
  EXPECT_EQ(bad_sig.error().code, "bad_signature");
  EXPECT_EQ(bad_sig.error().kind, base::ErrorKind::kUnauthenticated);

  env = MustBuild();
  env.body.back() ^= 1;
  auto bad_body = VerifyAndOpen(env, registry_, assoc_a_);
  ASSERT_FALSE(bad_body);
  EXPECT_EQ(bad_body.error().code, "digest_mismatch");
}

TEST_F(EnvelopeBuilderTest, EmitterUnknownToTheReceiversRegistryIsRefused) {
  schema::Envelope env = MustBuild();
  schema::Registry without = registry_;
  without.agencies.erase(without.agencies.begin());
  EXPECT_EQ(VerifyAndOpen(env, without, assoc_a_).error().code, "unknown_emitter");
  schema::Registry rekeyed = registry_;
  rekeyed.Find("hosp-a")->keys[0].key_id = "0000000000000000";
  EXPECT_EQ(VerifyAndOpen(env, rekeyed, assoc_a_).error().code, "unknown_key");
}

TEST_F(EnvelopeBuilderTest, RevokedEmitterOpensOnlyForEventsJournaledBeforeTheRevocation) {
  schema::Envelope env = MustBuild();
  schema::Registry revoked = registry_;
  revoked.Find("hosp-a")->revoked = true;
  revoked.Find("hosp-a")->revoked_at = kNow + 1000;
  auto refused = VerifyAndOpen(env, revoked, assoc_a_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "agency_revoked");
  EXPECT_TRUE(VerifyAndOpen(env, revoked, assoc_a_, /*received_at=*/kNow + 10));
  EXPECT_FALSE(VerifyAndOpen(env, revoked, assoc_a_, /*received_at=*/kNow + 2000));
}

TEST_F(EnvelopeBuilderTest, UndecodableHeaderIsMalformed) {
  schema::Envelope env = MustBuild();
  env.header.resize(5);
  auto r = VerifyAndOpen(env, registry_, assoc_a_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "malformed");
}

TEST_F(EnvelopeBuilderTest, BrokerCurveKeyComesFromTheBrokerAgency) {
  auto key = BrokerCurveKey(registry_, kNow);
  ASSERT_TRUE(key) << key.error().ToString();
  EXPECT_EQ(*key, broker_.pub.curve_public);

  schema::Registry two = registry_;
  crypto::AgencyIdentity second = crypto::GenerateIdentity("relaisd-2", kIssued);
  two.agencies.push_back(MakeAgency(second, schema::AgencyKind::kBroker));
  EXPECT_EQ(BrokerCurveKey(two, kNow).error().code, "ambiguous_broker");
  EXPECT_EQ(*BrokerCurveKey(two, kNow, "relaisd-2"), second.pub.curve_public);

  schema::Registry none = registry_;
  none.agencies.pop_back();
  EXPECT_EQ(BrokerCurveKey(none, kNow).error().code, "no_broker_in_registry");
}

class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::path(::testing::TempDir()) / "relais-sdk-XXXXXX");
    RELAIS_CHECK(mkdtemp(templ.data()) != nullptr);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

TEST_F(EnvelopeBuilderTest, LoadRegistryVerifiesTheAuthoritySignature) {
  TempDir dir;
  crypto::AgencyIdentity authority = crypto::GenerateIdentity("pacte-75", kIssued);
  crypto::AgencyIdentity impostor = crypto::GenerateIdentity("pacte-93", kIssued);
  ASSERT_TRUE(crypto::SaveIdentity(authority, dir.path()));
  ASSERT_TRUE(crypto::SaveIdentity(impostor, dir.path()));
  registry_.authority_key_id = authority.pub.key_id;
  auto signed_registry =
      crypto::SignRegistry(registry_, authority.sign_secret, authority.pub.key_id);
  ASSERT_TRUE(signed_registry) << signed_registry.error().ToString();
  std::filesystem::path file = dir.path() / "registry.bin";
  {
    base::Bytes bytes = schema::EncodeSignedRegistry(*signed_registry);
    std::ofstream out(file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  auto loaded = LoadRegistry(file, dir.path() / "pacte-75.pub", kNow);
  ASSERT_TRUE(loaded) << loaded.error().ToString();
  EXPECT_EQ(*loaded, registry_);

  auto wrong = LoadRegistry(file, dir.path() / "pacte-93.pub", kNow);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, "registry_bad_signature");

  auto missing = LoadRegistry(dir.path() / "nope.bin", dir.path() / "pacte-75.pub", kNow);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "no_registry");
}

}  // namespace
}  // namespace relais::sdk
