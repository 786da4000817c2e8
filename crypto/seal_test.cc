#include "crypto/seal.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "crypto/random.h"
#include "crypto/test_util.h"
#include "schema/codec.h"

namespace relais::crypto {
namespace {

constexpr base::TimeMs kNow = 1775001600000;  // 2026-04-01T00:00:00Z

struct Party {
  AgencyIdentity id;
  RecipientKey Key() const { return {id.pub.agency_id, id.pub.key_id, id.pub.seal_public}; }
};

Party MakeParty(const std::string& agency) { return Party{GenerateIdentity(agency, kNow)}; }

// Parties are move-only (they hold secrets): lists of them are lists of references.
using Parties = std::vector<std::reference_wrapper<const Party>>;

schema::Header MakeHeader(const Party& emitter, const Parties& recipients) {
  schema::Header h;
  h.event_id = NewEventId(kNow);
  h.kind = schema::EventKind::kReferral;
  h.referral_kind = schema::ReferralKind::kHospitalDischarge;
  h.case_ref = NewCaseRef();
  h.emitter = emitter.id.pub.agency_id;
  h.emitter_key_id = emitter.id.pub.key_id;
  h.actor = "pro-4f2a";
  for (const Party& r : recipients) h.recipients.push_back(r.id.pub.agency_id);
  h.consent_ref = "consent-1";
  h.tier = schema::Tier::kReferral;
  h.purpose = schema::Purpose::kHousing;
  h.emitted_at = kNow;
  h.due_at = kNow + 3 * base::kMsPerDay;
  return h;
}

schema::EventBody MakeReferralBody() {
  schema::ReferralBody r;
  r.person.family_name = "Martin";
  r.person.given_names = "Camille";
  r.person.birth_date = "1980-02-29";
  r.exit_date = kNow + 3 * base::kMsPerDay;
  r.situation = "sortie d'hospitalisation sans solution d'hébergement";
  r.needs.housing_need = "hébergement d'urgence";
  r.needs.reduced_mobility = true;
  r.referrer.name = "Service social";
  r.details = schema::HospitalDetails{"Hôpital Nord", "Médecine B", "V123"};
  return r;
}

std::vector<RecipientKey> KeysOf(const Parties& parties) {
  std::vector<RecipientKey> keys;
  keys.reserve(parties.size());
  for (const Party& p : parties) keys.push_back(p.Key());
  return keys;
}

class SealTest : public ::testing::Test {
 protected:
  void SetUp() override { Init(); }

  schema::Envelope Seal(const Party& emitter, const Parties& recipients,
                        const schema::EventBody& body) {
    auto sealed = SealEnvelope(MakeHeader(emitter, recipients), body, KeysOf(recipients),
                               emitter.id.sign_secret);
    RELAIS_CHECK(sealed.has_value());
    return *std::move(sealed);
  }
};

void ExpectRoundTrip(int recipient_count) {
  Party emitter = MakeParty("hopital-nord");
  std::vector<Party> recipients;
  recipients.reserve(recipient_count);
  for (int i = 0; i < recipient_count; ++i) {
    recipients.push_back(MakeParty("asso-" + std::to_string(i)));
  }
  Parties refs(recipients.begin(), recipients.end());
  schema::EventBody body = MakeReferralBody();
  schema::Header header = MakeHeader(emitter, refs);
  auto sealed = SealEnvelope(header, body, KeysOf(refs), emitter.id.sign_secret);
  ASSERT_TRUE(sealed) << sealed.error().ToString();
  const schema::Envelope& env = *sealed;
  EXPECT_EQ(env.header, schema::EncodeHeader(header));
  ASSERT_EQ(env.wraps.size(), static_cast<size_t>(recipient_count));
  EXPECT_EQ(env.body_digest, ToBytes(Blake2b(env.body)));
  EXPECT_EQ(env.wraps_digest, ToBytes(WrapsDigest(env.wraps)));
  EXPECT_EQ(env.signature.size(), kSignatureSize);
  EXPECT_TRUE(VerifyEnvelope(env, emitter.id.pub.sign_public));
  for (int i = 0; i < recipient_count; ++i) {
    EXPECT_EQ(env.wraps[i].agency, recipients[i].id.pub.agency_id);
    EXPECT_EQ(env.wraps[i].key_id, recipients[i].id.pub.key_id);
    EXPECT_EQ(env.wraps[i].sealed_key.size(), kSealedKeySize);
    auto opened = OpenEnvelope(env, recipients[i].id);
    ASSERT_TRUE(opened) << i << ": " << opened.error().ToString();
    EXPECT_EQ(*opened, body);
  }
}

TEST_F(SealTest, RoundTripsToOneRecipient) { ExpectRoundTrip(1); }
TEST_F(SealTest, RoundTripsToThreeRecipients) { ExpectRoundTrip(3); }
TEST_F(SealTest, RoundTripsToTwentyRecipients) { ExpectRoundTrip(20); }

TEST_F(SealTest, BodyIsNonceThenCiphertextAndHidesThePlaintext) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  schema::EventBody body = MakeReferralBody();
  schema::Envelope env = Seal(emitter, {asso}, body);
  base::Bytes plaintext = schema::EncodeEventBody(body);
  EXPECT_EQ(env.body.size(), kBodyNonceSize + plaintext.size() + kBodyTagSize);
  std::string body_text = base::ToString(env.body);
  EXPECT_EQ(body_text.find("Martin"), std::string::npos);
  EXPECT_EQ(body_text.find("Camille"), std::string::npos);
  // A fresh content key and nonce every time: sealing twice gives unrelated bodies.
  schema::Envelope again = Seal(emitter, {asso}, body);
  EXPECT_FALSE(std::equal(env.body.begin(), env.body.begin() + kBodyNonceSize, again.body.begin()));
  EXPECT_NE(env.body, again.body);
  EXPECT_NE(env.wraps[0].sealed_key, again.wraps[0].sealed_key);
}

TEST_F(SealTest, EmptyBodyRoundTrips) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  schema::EventBody body = schema::NoteBody{};
  schema::Envelope env = Seal(emitter, {asso}, body);
  ASSERT_TRUE(VerifyEnvelope(env, emitter.id.pub.sign_public));
  auto opened = OpenEnvelope(env, asso.id);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(*opened, body);
}

TEST_F(SealTest, NonRecipientCannotOpen) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  Party outsider = MakeParty("asso-z");
  schema::Envelope env = Seal(emitter, {asso}, MakeReferralBody());
  auto opened = OpenEnvelope(env, outsider.id);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind, base::ErrorKind::kNotAuthorised);
  EXPECT_EQ(opened.error().code, "not_a_recipient");
  EXPECT_NE(opened.error().message.find("asso-z"), std::string::npos);
}

TEST_F(SealTest, EmitterIsNotARecipientOfItsOwnEnvelope) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  schema::Envelope env = Seal(emitter, {asso}, MakeReferralBody());
  auto opened = OpenEnvelope(env, emitter.id);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "not_a_recipient");
}

TEST_F(SealTest, SameAgencyWithAnotherKeyIsToldWhichKeyIdsWereUsed) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  Party rotated = MakeParty("asso-a");  // same agency, new key
  schema::Envelope env = Seal(emitter, {asso}, MakeReferralBody());
  auto opened = OpenEnvelope(env, rotated.id);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "not_a_recipient");
  EXPECT_NE(opened.error().message.find(asso.id.pub.key_id), std::string::npos);
  EXPECT_NE(opened.error().message.find(rotated.id.pub.key_id), std::string::npos);
}

TEST_F(SealTest, AgencyWithTwoKeysDuringRotationOpensWithEither) {
  Party emitter = MakeParty("hopital-nord");
  Party old_key = MakeParty("asso-a");
  Party new_key = MakeParty("asso-a");
  schema::Envelope env = Seal(emitter, {old_key, new_key}, MakeReferralBody());
  EXPECT_TRUE(OpenEnvelope(env, old_key.id));
  EXPECT_TRUE(OpenEnvelope(env, new_key.id));
}

TEST_F(SealTest, WrapSwappedInFromAnotherEnvelopeCannotOpen) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  Party siao = MakeParty("siao-75");
  schema::Envelope a = Seal(emitter, {asso, siao}, MakeReferralBody());
  schema::Envelope b = Seal(emitter, {asso, siao}, schema::NoteBody{"other"});
  a.wraps[0] = b.wraps[0];
  auto verified = VerifyEnvelope(a, emitter.id.pub.sign_public);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().code, "digest_mismatch");
  auto opened = OpenEnvelope(a, asso.id);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind, base::ErrorKind::kUnauthenticated);
  EXPECT_EQ(opened.error().code, "cannot_open");
  // Even with the digest recomputed (as an attacker could), the signature no longer verifies.
  a.wraps_digest = ToBytes(WrapsDigest(a.wraps));
  EXPECT_EQ(VerifyEnvelope(a, emitter.id.pub.sign_public).error().code, "bad_signature");
}

TEST_F(SealTest, WrapRelabelledForAnOutsiderCannotOpen) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  Party outsider = MakeParty("asso-z");
  schema::Envelope env = Seal(emitter, {asso}, MakeReferralBody());
  env.wraps[0].agency = outsider.id.pub.agency_id;
  env.wraps[0].key_id = outsider.id.pub.key_id;
  auto opened = OpenEnvelope(env, outsider.id);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "cannot_open");
  EXPECT_EQ(VerifyEnvelope(env, emitter.id.pub.sign_public).error().code, "digest_mismatch");
}

TEST_F(SealTest, WrongEmitterKeyDoesNotVerify) {
  Party emitter = MakeParty("hopital-nord");
  Party impostor = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  schema::Envelope env = Seal(emitter, {asso}, MakeReferralBody());
  auto verified = VerifyEnvelope(env, impostor.id.pub.sign_public);
  ASSERT_FALSE(verified);
  EXPECT_EQ(verified.error().kind, base::ErrorKind::kUnauthenticated);
  EXPECT_EQ(verified.error().code, "bad_signature");
}

TEST_F(SealTest, ReorderedDroppedOrAddedWrapsDoNotVerify) {
  Party emitter = MakeParty("hopital-nord");
  Party a = MakeParty("asso-a"), b = MakeParty("asso-b"), c = MakeParty("asso-c");
  schema::Envelope env = Seal(emitter, {a, b, c}, MakeReferralBody());
  schema::Envelope reordered = env;
  std::swap(reordered.wraps[0], reordered.wraps[1]);
  EXPECT_EQ(VerifyEnvelope(reordered, emitter.id.pub.sign_public).error().code, "digest_mismatch");
  schema::Envelope dropped = env;
  dropped.wraps.pop_back();
  EXPECT_EQ(VerifyEnvelope(dropped, emitter.id.pub.sign_public).error().code, "digest_mismatch");
  schema::Envelope added = env;
  added.wraps.push_back(env.wraps[0]);
  EXPECT_EQ(VerifyEnvelope(added, emitter.id.pub.sign_public).error().code, "digest_mismatch");
}

TEST_F(SealTest, TruncatedOrEmptyPartsAreRejected) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  schema::Envelope env = Seal(emitter, {asso}, MakeReferralBody());
  for (size_t keep : {size_t{0}, kBodyNonceSize, kBodyNonceSize + kBodyTagSize - 1}) {
    schema::Envelope cut = env;
    cut.body.resize(keep);
    EXPECT_EQ(VerifyEnvelope(cut, emitter.id.pub.sign_public).error().code, "digest_mismatch");
    auto opened = OpenEnvelope(cut, asso.id);
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().code, "cannot_open") << keep;
  }
  schema::Envelope short_key = env;
  short_key.wraps[0].sealed_key.pop_back();
  EXPECT_EQ(OpenEnvelope(short_key, asso.id).error().code, "cannot_open");
  for (auto field : {&schema::Envelope::body_digest, &schema::Envelope::wraps_digest}) {
    schema::Envelope cut = env;
    (cut.*field).pop_back();
    EXPECT_EQ(VerifyEnvelope(cut, emitter.id.pub.sign_public).error().code, "digest_mismatch");
  }
  schema::Envelope unsigned_env = env;
  unsigned_env.signature.clear();
  EXPECT_EQ(VerifyEnvelope(unsigned_env, emitter.id.pub.sign_public).error().code, "bad_signature");
  auto bad_key = VerifyEnvelope(env, base::Bytes(31, 1));
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().code, "bad_key");
}

TEST_F(SealTest, RefusesUnusableRecipientKeys) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  schema::Header header = MakeHeader(emitter, {asso});
  std::vector<RecipientKey> short_key = {{"asso-a", asso.id.pub.key_id, base::Bytes(31, 7)}};
  auto r1 = SealEnvelope(header, MakeReferralBody(), short_key, emitter.id.sign_secret);
  ASSERT_FALSE(r1);
  EXPECT_EQ(r1.error().code, "bad_recipient_key");
  EXPECT_NE(r1.error().message.find("asso-a"), std::string::npos);
  // The all-zero point has small order: crypto_box refuses it.
  std::vector<RecipientKey> zero_key = {{"asso-a", asso.id.pub.key_id, base::Bytes(32, 0)}};
  auto r2 = SealEnvelope(header, MakeReferralBody(), zero_key, emitter.id.sign_secret);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, "bad_recipient_key");
  EXPECT_NE(r2.error().message.find("asso-a"), std::string::npos);
}

TEST_F(SealTest, RefusesDuplicateRecipients) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  auto r = SealEnvelope(MakeHeader(emitter, {asso}), MakeReferralBody(), KeysOf({asso, asso}),
                        emitter.id.sign_secret);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "duplicate_recipient");
}

TEST_F(SealTest, RefusesAHeaderNamingAnotherEmitterKey) {
  Party emitter = MakeParty("hopital-nord");
  Party asso = MakeParty("asso-a");
  schema::Header header = MakeHeader(emitter, {asso});
  header.emitter_key_id = "0000000000000000";
  auto r = SealEnvelope(header, MakeReferralBody(), KeysOf({asso}), emitter.id.sign_secret);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "wrong_emitter_key");
  header.emitter_key_id.clear();
  auto unset = SealEnvelope(header, MakeReferralBody(), KeysOf({asso}), emitter.id.sign_secret);
  ASSERT_FALSE(unset);
  EXPECT_EQ(unset.error().code, "wrong_emitter_key");
  auto bad_secret = SealEnvelope(MakeHeader(emitter, {asso}), MakeReferralBody(), KeysOf({asso}),
                                 emitter.id.seal_secret);
  ASSERT_FALSE(bad_secret);
  EXPECT_EQ(bad_secret.error().code, "bad_key");
}

// Every single-bit change anywhere in what the signature covers is rejected. A small envelope
// keeps the loop short; each flip is undone before the next.
class BitFlipTest : public SealTest {
 protected:
  void SetUp() override {
    SealTest::SetUp();
    emitter_ = MakeParty("h");
    asso_ = MakeParty("a");
    siao_ = MakeParty("s");
    env_ = Seal(emitter_, {asso_, siao_}, schema::NoteBody{"n"});
    ASSERT_TRUE(VerifyEnvelope(env_, emitter_.id.pub.sign_public));
    ASSERT_TRUE(OpenEnvelope(env_, asso_.id));
  }

  // Flips every bit of `bytes` in turn; checks VerifyEnvelope (and OpenEnvelope if `open`).
  size_t FlipEachBit(base::Bytes& bytes, const char* what, bool open) {
    size_t flips = 0;
    for (size_t i = 0; i < bytes.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        bytes[i] ^= static_cast<uint8_t>(1u << bit);
        base::Status verified = VerifyEnvelope(env_, emitter_.id.pub.sign_public);
        EXPECT_FALSE(verified) << what << " byte " << i << " bit " << bit;
        if (!verified) {
          EXPECT_EQ(verified.error().kind, base::ErrorKind::kUnauthenticated)
              << what << " byte " << i << " bit " << bit;
        }
        if (open) {
          auto opened = OpenEnvelope(env_, asso_.id);
          EXPECT_FALSE(opened) << what << " byte " << i << " bit " << bit;
          if (!opened) {
            EXPECT_EQ(opened.error().kind, base::ErrorKind::kUnauthenticated)
                << what << " byte " << i << " bit " << bit;
            EXPECT_EQ(opened.error().code, "cannot_open");
          }
        }
        bytes[i] ^= static_cast<uint8_t>(1u << bit);
        ++flips;
      }
    }
    return flips;
  }

  Party emitter_, asso_, siao_;
  schema::Envelope env_;
};

TEST_F(BitFlipTest, EveryHeaderBitIsCovered) {
  EXPECT_EQ(FlipEachBit(env_.header, "header", /*open=*/true), env_.header.size() * 8);
}

TEST_F(BitFlipTest, EveryBodyBitIsCovered) {
  EXPECT_EQ(FlipEachBit(env_.body, "body", /*open=*/true), env_.body.size() * 8);
}

TEST_F(BitFlipTest, EverySealedKeyBitIsCovered) {
  EXPECT_EQ(FlipEachBit(env_.wraps[0].sealed_key, "wrap 0", /*open=*/true), kSealedKeySize * 8);
  EXPECT_EQ(FlipEachBit(env_.wraps[1].sealed_key, "wrap 1", /*open=*/false), kSealedKeySize * 8);
}

TEST_F(BitFlipTest, EveryWrapLabelBitIsCovered) {
  for (schema::Wrap& w : env_.wraps) {
    for (size_t i = 0; i < w.agency.size() * 8; ++i) {
      w.agency[i / 8] = static_cast<char>(w.agency[i / 8] ^ (1 << (i % 8)));
      EXPECT_FALSE(VerifyEnvelope(env_, emitter_.id.pub.sign_public)) << "agency bit " << i;
      w.agency[i / 8] = static_cast<char>(w.agency[i / 8] ^ (1 << (i % 8)));
    }
    for (size_t i = 0; i < w.key_id.size() * 8; ++i) {
      w.key_id[i / 8] = static_cast<char>(w.key_id[i / 8] ^ (1 << (i % 8)));
      EXPECT_FALSE(VerifyEnvelope(env_, emitter_.id.pub.sign_public)) << "key id bit " << i;
      w.key_id[i / 8] = static_cast<char>(w.key_id[i / 8] ^ (1 << (i % 8)));
    }
  }
}

TEST_F(BitFlipTest, EveryDigestBitIsCovered) {
  EXPECT_EQ(FlipEachBit(env_.body_digest, "body digest", /*open=*/false), 32u * 8);
  EXPECT_EQ(FlipEachBit(env_.wraps_digest, "wraps digest", /*open=*/false), 32u * 8);
}

TEST_F(BitFlipTest, EverySignatureBitIsCovered) {
  EXPECT_EQ(FlipEachBit(env_.signature, "signature", /*open=*/false), kSignatureSize * 8);
}

TEST_F(BitFlipTest, ErrorsNeverRevealWhereTheChangeWas) {
  env_.body[3] ^= 1;
  base::Status body_flip = VerifyEnvelope(env_, emitter_.id.pub.sign_public);
  env_.body[3] ^= 1;
  env_.wraps[0].sealed_key[3] ^= 1;
  base::Status wrap_flip = VerifyEnvelope(env_, emitter_.id.pub.sign_public);
  ASSERT_FALSE(body_flip);
  ASSERT_FALSE(wrap_flip);
  EXPECT_EQ(body_flip.error().message, wrap_flip.error().message);
}

TEST(CanonicalWrapsTest, RoundTrips) {
  std::vector<schema::Wrap> wraps = {{"asso-a", "0011223344556677", base::Bytes(80, 0xab)},
                                     {"", "", {}},
                                     {"siao-75", "8899aabbccddeeff", base::Bytes{1, 2, 3}}};
  auto back = ParseCanonicalWraps(CanonicalWraps(wraps));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, wraps);
  auto none = ParseCanonicalWraps({});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(CanonicalWrapsTest, RejectsTruncationAndTrailingBytes) {
  std::vector<schema::Wrap> wraps = {{"asso-a", "0011223344556677", base::Bytes(80, 0xab)},
                                     {"siao-75", "8899aabbccddeeff", base::Bytes(80, 0xcd)}};
  base::Bytes canonical = CanonicalWraps(wraps);
  for (size_t cut = 1; cut < canonical.size(); ++cut) {
    base::Bytes truncated(canonical.begin(), canonical.end() - static_cast<long>(cut));
    auto r = ParseCanonicalWraps(truncated);
    if (truncated.size() == CanonicalWraps({wraps[0]}).size()) {
      EXPECT_TRUE(r);  // exactly the first wrap
      continue;
    }
    ASSERT_FALSE(r) << cut;
    EXPECT_EQ(r.error().kind, base::ErrorKind::kInvalidInput);
    EXPECT_EQ(r.error().code, "malformed_wraps");
  }
  base::Bytes trailing = canonical;
  trailing.push_back(0);
  EXPECT_EQ(ParseCanonicalWraps(trailing).error().code, "malformed_wraps");
  // A length prefix larger than what follows.
  base::Bytes huge = {0xff, 0xff, 0xff, 0xff, 'a'};
  EXPECT_EQ(ParseCanonicalWraps(huge).error().code, "malformed_wraps");
}

}  // namespace
}  // namespace relais::crypto
