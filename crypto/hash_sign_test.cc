// Known-answer tests of the primitives the formats are built on (BLAKE2b-256, Ed25519, key ids).
#include <gtest/gtest.h>

#include "crypto/hash.h"
#include "crypto/sign.h"
#include "crypto/test_util.h"

namespace relais::crypto {
namespace {

using testing::FromHex;

// libsodium is initialised once for the whole crypto_test binary.
[[maybe_unused]] ::testing::Environment* const kCryptoEnvironment =  // NOLINT(cert-err58-cpp)
    ::testing::AddGlobalTestEnvironment(new testing::CryptoEnvironment);

TEST(Blake2bTest, MatchesKnownAnswers) {
  // BLAKE2b with a 32-byte output (RFC 7693 parameters, digest length 32), as computed by
  // Python's hashlib.blake2b(data, digest_size=32).
  EXPECT_EQ(base::HexEncode(Blake2b(base::AsBytes("abc"))),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  EXPECT_EQ(base::HexEncode(Blake2b(base::AsBytes(""))),
            "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
}

TEST(Blake2bTest, PartsAndIncrementalEqualOneShot) {
  Digest one = Blake2b(base::AsBytes("relais-envelope-v1"));
  EXPECT_EQ(Blake2b({base::AsBytes("relais-"), base::AsBytes("envelope-v1")}), one);
  Blake2bHasher h;
  h.Update(base::AsBytes("relais-env"));
  h.Update(base::AsBytes(""));
  h.Update(base::AsBytes("elope-v1"));
  EXPECT_EQ(h.Final(), one);
  EXPECT_NE(Blake2b(base::AsBytes("relais-envelope-v2")), one);
}

// RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72).
TEST(Ed25519Test, MatchesRfc8032Vectors) {
  SigningKeyPair kp = SigningKeyPairFromSeed(
      FromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  EXPECT_EQ(base::HexEncode(kp.public_key),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  base::Bytes sig = Sign(kp.secret_key, {});
  EXPECT_EQ(base::HexEncode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(Verify(kp.public_key, {}, sig));

  SigningKeyPair kp2 = SigningKeyPairFromSeed(
      FromHex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
  EXPECT_EQ(base::HexEncode(kp2.public_key),
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  base::Bytes msg = {0x72};
  EXPECT_EQ(base::HexEncode(Sign(kp2.secret_key, msg)),
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
            "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
}

TEST(Ed25519Test, RejectsWrongKeyMessageOrSignature) {
  SigningKeyPair kp = SigningKeyPairFromSeed(testing::Seed(7));
  SigningKeyPair other = SigningKeyPairFromSeed(testing::Seed(8));
  base::Bytes msg = base::ToBytes("deadline moved");
  base::Bytes sig = Sign(kp.secret_key, msg);
  ASSERT_TRUE(Verify(kp.public_key, msg, sig));

  auto wrong_key = Verify(other.public_key, msg, sig);
  ASSERT_FALSE(wrong_key);
  EXPECT_EQ(wrong_key.error().kind, base::ErrorKind::kUnauthenticated);
  EXPECT_EQ(wrong_key.error().code, "bad_signature");

  base::Bytes changed = msg;
  changed.back() ^= 1;
  EXPECT_EQ(Verify(kp.public_key, changed, sig).error().code, "bad_signature");

  base::Bytes short_sig(sig.begin(), sig.end() - 1);
  EXPECT_EQ(Verify(kp.public_key, msg, short_sig).error().code, "bad_signature");

  base::Bytes short_key(kp.public_key.begin(), kp.public_key.end() - 1);
  auto bad_key = Verify(short_key, msg, sig);
  ASSERT_FALSE(bad_key);
  EXPECT_EQ(bad_key.error().code, "bad_key");
}

TEST(KeyIdTest, IsSixteenHexDigitsOfTheKeyHash) {
  SigningKeyPair kp = SigningKeyPairFromSeed(
      FromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  std::string id = KeyId(kp.public_key);
  EXPECT_EQ(id.size(), 16u);
  EXPECT_EQ(id, base::HexEncode(Blake2b(kp.public_key)).substr(0, 16));
  EXPECT_EQ(id, "7849ac3049680be1");  // pinned: key ids appear in registries and headers
}

}  // namespace
}  // namespace relais::crypto
