#include "crypto/registry_sign.h"

#include <gtest/gtest.h>

#include "crypto/identity.h"
#include "crypto/sign.h"
#include "crypto/test_util.h"
#include "schema/codec.h"

namespace relais::crypto {
namespace {

constexpr base::TimeMs kIssued = 1775001600000;  // 2026-04-01T00:00:00Z
constexpr base::TimeMs kExpires = kIssued + 30 * base::kMsPerDay;

schema::Agency MakeAgency(const AgencyIdentity& id, schema::AgencyKind kind) {
  schema::Agency a;
  a.id = id.pub.agency_id;
  a.display_name = "Agency " + id.pub.agency_id;
  a.kind = kind;
  a.territory = "75";
  a.keys.push_back(schema::AgencyKey{id.pub.key_id, id.pub.sign_public, id.pub.seal_public,
                                     id.pub.curve_public, kIssued,
                                     kIssued + 365 * base::kMsPerDay});
  return a;
}

class RegistrySignTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Init();
    authority_ = IdentityFromSeed("pacte-75", testing::Seed(0x10), kIssued);
    other_authority_ = IdentityFromSeed("pacte-93", testing::Seed(0x20), kIssued);
    registry_.serial = 7;
    registry_.issued_at = kIssued;
    registry_.expires_at = kExpires;
    registry_.authority_key_id = authority_.pub.key_id;
    AgencyIdentity hospital = IdentityFromSeed("hopital-nord", testing::Seed(0x30), kIssued);
    AgencyIdentity asso = IdentityFromSeed("asso-a", testing::Seed(0x40), kIssued);
    registry_.agencies.push_back(MakeAgency(hospital, schema::AgencyKind::kHospital));
    registry_.agencies.push_back(MakeAgency(asso, schema::AgencyKind::kAssociation));
    registry_.agencies[0].may_emit = {schema::EventKind::kReferral};
    registry_.agencies[1].may_receive = true;
  }

  schema::SignedRegistry SignedOk() {
    auto s = SignRegistry(registry_, authority_.sign_secret, authority_.pub.key_id);
    RELAIS_CHECK(s.has_value());
    return *std::move(s);
  }

  base::Error VerifyError(const schema::SignedRegistry& s, base::TimeMs now = kIssued + 1) {
    auto r = VerifySignedRegistry(s, authority_.pub.sign_public, now);
    RELAIS_CHECK(!r.has_value());
    return r.error();
  }

  AgencyIdentity authority_;
  AgencyIdentity other_authority_;
  schema::Registry registry_;
};

TEST_F(RegistrySignTest, SignsAndVerifies) {
  schema::SignedRegistry s = SignedOk();
  EXPECT_EQ(s.authority_key_id, authority_.pub.key_id);
  EXPECT_EQ(s.registry, schema::EncodeRegistry(registry_));
  EXPECT_EQ(s.signature.size(), kSignatureSize);
  EXPECT_TRUE(Verify(authority_.pub.sign_public, RegistrySigningMessage(s.registry), s.signature));
  auto verified = VerifySignedRegistry(s, authority_.pub.sign_public, kIssued + base::kMsPerDay);
  ASSERT_TRUE(verified) << verified.error().ToString();
  EXPECT_EQ(*verified, registry_);
}

TEST_F(RegistrySignTest, SurvivesTheFileEncoding) {
  auto decoded = schema::DecodeSignedRegistry(schema::EncodeSignedRegistry(SignedOk()));
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_TRUE(VerifySignedRegistry(*decoded, authority_.pub.sign_public, kIssued));
}

// An edited registry is stored as a SignedRegistry with an empty signature (docs/registry.md):
// the file encoding must carry it so verification can say "unsigned" rather than "malformed".
TEST_F(RegistrySignTest, UnsignedRegistrySurvivesTheFileEncodingAndIsRefusedAsUnsigned) {
  schema::SignedRegistry unsigned_registry{
      schema::EncodeRegistry(registry_), {}, authority_.pub.key_id};
  auto decoded = schema::DecodeSignedRegistry(schema::EncodeSignedRegistry(unsigned_registry));
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_TRUE(decoded->signature.empty());
  EXPECT_EQ(VerifyError(*decoded).code, "registry_unsigned");
}

TEST_F(RegistrySignTest, SigningMessageIsDomainThenRegistryBytes) {
  base::Bytes msg = RegistrySigningMessage(base::ToBytes("xyz"));
  EXPECT_EQ(base::ToString(msg), "relais-registry-v1xyz");
}

TEST_F(RegistrySignTest, RefusesAnUnsignedRegistry) {
  schema::SignedRegistry s = SignedOk();
  s.signature.clear();
  base::Error e = VerifyError(s);
  EXPECT_EQ(e.kind, base::ErrorKind::kUnauthenticated);
  EXPECT_EQ(e.code, "registry_unsigned");
}

TEST_F(RegistrySignTest, RefusesAnotherAuthorityNamingBothKeyIds) {
  registry_.authority_key_id = other_authority_.pub.key_id;
  auto s = SignRegistry(registry_, other_authority_.sign_secret, other_authority_.pub.key_id);
  ASSERT_TRUE(s);
  base::Error e = VerifyError(*s);
  EXPECT_EQ(e.kind, base::ErrorKind::kUnauthenticated);
  EXPECT_EQ(e.code, "registry_bad_signature");
  EXPECT_NE(e.message.find("expected authority key id '" + authority_.pub.key_id + "'"),
            std::string::npos);
  EXPECT_NE(e.message.find("'" + other_authority_.pub.key_id + "'"), std::string::npos);
}

TEST_F(RegistrySignTest, RefusesASignatureByAnotherKeyClaimingTheAuthorityKeyId) {
  schema::SignedRegistry s = SignedOk();
  s.signature = Sign(other_authority_.sign_secret, RegistrySigningMessage(s.registry));
  base::Error e = VerifyError(s);
  EXPECT_EQ(e.code, "registry_bad_signature");
  EXPECT_NE(e.message.find("does not verify"), std::string::npos);
  EXPECT_NE(e.message.find(authority_.pub.key_id), std::string::npos);
}

TEST_F(RegistrySignTest, RefusesEveryTamperedByte) {
  schema::SignedRegistry s = SignedOk();
  for (size_t i = 0; i < s.registry.size(); ++i) {
    s.registry[i] ^= 0x01;
    auto r = VerifySignedRegistry(s, authority_.pub.sign_public, kIssued);
    ASSERT_FALSE(r) << "byte " << i;
    EXPECT_EQ(r.error().code, "registry_bad_signature") << "byte " << i;
    s.registry[i] ^= 0x01;
  }
  for (size_t i = 0; i < s.signature.size(); ++i) {
    s.signature[i] ^= 0x80;
    auto r = VerifySignedRegistry(s, authority_.pub.sign_public, kIssued);
    ASSERT_FALSE(r) << "signature byte " << i;
    EXPECT_EQ(r.error().code, "registry_bad_signature");
    s.signature[i] ^= 0x80;
  }
  EXPECT_TRUE(VerifySignedRegistry(s, authority_.pub.sign_public, kIssued));
}

TEST_F(RegistrySignTest, RefusesARegistryPastItsExpiry) {
  base::Error e = VerifyError(SignedOk(), kExpires);
  EXPECT_EQ(e.kind, base::ErrorKind::kNotAuthorised);
  EXPECT_EQ(e.code, "registry_expired");
  EXPECT_NE(e.message.find("expired at 2026-05-01T00:00:00.000Z"), std::string::npos);
  EXPECT_NE(e.message.find("serial 7"), std::string::npos);
  EXPECT_TRUE(VerifySignedRegistry(SignedOk(), authority_.pub.sign_public, kExpires - 1));
}

TEST_F(RegistrySignTest, RefusesARegistryNotYetValid) {
  base::Error e = VerifyError(SignedOk(), kIssued - 1);
  EXPECT_EQ(e.kind, base::ErrorKind::kNotAuthorised);
  EXPECT_EQ(e.code, "registry_expired");
  EXPECT_NE(e.message.find("not valid yet"), std::string::npos);
  EXPECT_NE(e.message.find("2026-04-01T00:00:00.000Z"), std::string::npos);
  EXPECT_TRUE(VerifySignedRegistry(SignedOk(), authority_.pub.sign_public, kIssued));
}

TEST_F(RegistrySignTest, PropagatesTheCodecErrorForSignedGarbage) {
  schema::SignedRegistry s;
  s.registry = base::ToBytes("not a cap'n proto message");
  s.signature = Sign(authority_.sign_secret, RegistrySigningMessage(s.registry));
  s.authority_key_id = authority_.pub.key_id;
  base::Error e = VerifyError(s);
  EXPECT_EQ(e.kind, base::ErrorKind::kInvalidInput);
  EXPECT_EQ(e.code, "malformed");
}

TEST_F(RegistrySignTest, RefusesSignedButInconsistentContent) {
  auto sign_raw = [&](const schema::Registry& r) {
    schema::SignedRegistry s;
    s.registry = schema::EncodeRegistry(r);
    s.signature = Sign(authority_.sign_secret, RegistrySigningMessage(s.registry));
    s.authority_key_id = authority_.pub.key_id;
    return s;
  };
  schema::Registry wrong_inner = registry_;
  wrong_inner.authority_key_id = other_authority_.pub.key_id;
  EXPECT_EQ(VerifyError(sign_raw(wrong_inner)).code, "registry_inconsistent");

  schema::Registry duplicate = registry_;
  duplicate.agencies.push_back(duplicate.agencies[0]);
  base::Error dup = VerifyError(sign_raw(duplicate));
  EXPECT_EQ(dup.code, "registry_inconsistent");
  EXPECT_NE(dup.message.find("hopital-nord"), std::string::npos);

  schema::Registry bad_key_id = registry_;
  bad_key_id.agencies[1].keys[0].key_id = "0011223344556677";
  base::Error kid = VerifyError(sign_raw(bad_key_id));
  EXPECT_EQ(kid.code, "registry_inconsistent");
  EXPECT_NE(kid.message.find("asso-a"), std::string::npos);
}

TEST_F(RegistrySignTest, RefusesAWrongSizedAuthorityKey) {
  auto r = VerifySignedRegistry(SignedOk(), base::Bytes(31, 0), kIssued);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "bad_key");
}

TEST_F(RegistrySignTest, SignRefusesMismatchedAuthorityKeyIds) {
  auto wrong_id = SignRegistry(registry_, authority_.sign_secret, other_authority_.pub.key_id);
  ASSERT_FALSE(wrong_id);
  EXPECT_EQ(wrong_id.error().code, "wrong_authority_key");
  registry_.authority_key_id = other_authority_.pub.key_id;
  auto wrong_registry = SignRegistry(registry_, authority_.sign_secret, authority_.pub.key_id);
  ASSERT_FALSE(wrong_registry);
  EXPECT_EQ(wrong_registry.error().code, "wrong_authority_key");
  auto bad_secret = SignRegistry(registry_, authority_.seal_secret, authority_.pub.key_id);
  ASSERT_FALSE(bad_secret);
  EXPECT_EQ(bad_secret.error().code, "bad_key");
}

TEST(FindValidKeyTest, HonoursValidityWindowsAndRevocation) {
  schema::Agency a;
  a.id = "asso-a";
  a.keys.push_back(schema::AgencyKey{"k1", {}, {}, {}, 100, 200});
  a.keys.push_back(schema::AgencyKey{"k2", {}, {}, {}, 150, 0});  // no end date
  EXPECT_EQ(FindValidKey(a, "k1", 99), nullptr);
  EXPECT_EQ(FindValidKey(a, "k1", 100), &a.keys[0]);
  EXPECT_EQ(FindValidKey(a, "k1", 199), &a.keys[0]);
  EXPECT_EQ(FindValidKey(a, "k1", 200), nullptr);
  EXPECT_EQ(FindValidKey(a, "k2", 149), nullptr);
  EXPECT_EQ(FindValidKey(a, "k2", 1'000'000'000), &a.keys[1]);
  EXPECT_EQ(FindValidKey(a, "k3", 160), nullptr);
  a.revoked = true;
  a.revoked_at = 180;
  EXPECT_EQ(FindValidKey(a, "k1", 179), &a.keys[0]);  // events signed before the revocation
  EXPECT_EQ(FindValidKey(a, "k1", 180), nullptr);
  EXPECT_EQ(FindValidKey(a, "k2", 500), nullptr);
  a.revoked_at = 0;
  EXPECT_EQ(FindValidKey(a, "k1", 150), nullptr);  // revoked without a date: never valid
}

}  // namespace
}  // namespace relais::crypto
