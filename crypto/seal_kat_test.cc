// Known-answer vectors that pin the envelope format (docs/envelope.md). The expected values were
// computed independently (Python: hashlib.blake2b, the `cryptography` package's Ed25519, X25519
// and ChaCha20-Poly1305, with HChaCha20 written out from the XChaCha20 draft), not by this code:
// crypto/testdata/envelope_reference.py recomputes them all and opens the frozen envelope.
// If one of these tests fails, the format changed: that breaks every deployed verifier, the
// journal's hash chain and the audit tools. Do not update the vectors; fix the code.
#include <gtest/gtest.h>

#include "crypto/identity.h"
#include "crypto/registry_sign.h"
#include "crypto/seal.h"
#include "crypto/test_util.h"
#include "schema/codec.h"

namespace relais::crypto {
namespace {

using base::HexEncode;
using testing::FromHex;
using testing::Seed;

// Inputs (docs/envelope.md, "Known-answer vectors").
constexpr std::string_view kHeaderBytes = "relais known-answer header v1";

std::vector<schema::Wrap> KatWraps() {
  return {
      {"asso-a", "0011223344556677", base::Bytes(80, 0xaa)},
      {"siao-75", "8899aabbccddeeff",
       FromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
               "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
               "404142434445464748494a4b4c4d4e4f")},
  };
}
constexpr std::string_view kPlaintext = "relais known-answer body";

// Outputs.
constexpr char kHeaderHash[] = "b9f2b834787ca097fdf0a3bb75f1c38b8e99b7220a09d7316f7c714a774f0fb5";
constexpr char kCanonicalWraps[] =
    "000000066173736f2d61000000103030313132323333343435353636373700000050aaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa000000077369"
    "616f2d3735000000103838393961616262636364646565666600000050000102030405060708090a"
    "0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132"
    "333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f";
constexpr char kWrapsDigest[] = "cb9681225cde7acc38c3040396493a5141afe16671e43e8839e207f5e6622ef2";
constexpr char kBody[] =
    "000102030405060708090a0b0c0d0e0f1011121314151617"  // nonce
    "1287e6eee0ded25bb4c40e42b9be85941188d762b5aff6a0"  // ciphertext
    "fa201cfd07c887978d61c672a7444fd6";                 // Poly1305 tag
constexpr char kBodyDigest[] = "20ea44f6e0459df8c0c3b23625930e1d050cfabcdd264b303e480b50d5f719c4";
constexpr char kSigningMessageDigest[] =
    "107e7d2946195c12d0f30abf4d49d10b4f66464b75835f395876b1d0b18a74a2";
constexpr char kEmitterPublic[] =
    "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664";
constexpr char kEmitterKeyId[] = "4d4dbe917544b079";
constexpr char kSignature[] =
    "60cb69e4769dc09411d8f1170143d35e0ddec4a2ceed8af0c28792be78ef3b15"
    "3c5a660a5d3469305f72363d426aaf6d083c8f9e735cfc0e3179b59343a84405";

TEST(EnvelopeKnownAnswerTest, HeaderHashIsBlake2bOfTheHeaderBytes) {
  EXPECT_EQ(HexEncode(HeaderHash(base::AsBytes(kHeaderBytes))), kHeaderHash);
}

TEST(EnvelopeKnownAnswerTest, CanonicalWrapsLayout) {
  EXPECT_EQ(HexEncode(CanonicalWraps(KatWraps())), kCanonicalWraps);
  EXPECT_EQ(HexEncode(WrapsDigest(KatWraps())), kWrapsDigest);
  EXPECT_EQ(HexEncode(WrapsDigest({})), HexEncode(Blake2b(base::ByteView())));
}

TEST(EnvelopeKnownAnswerTest, BodyIsNonceThenXChaCha20Poly1305WithHeaderHashAsAad) {
  Secret content_key = Secret::Copy(Seed(0x80));
  base::Bytes nonce = FromHex("000102030405060708090a0b0c0d0e0f1011121314151617");
  Digest header_hash = HeaderHash(base::AsBytes(kHeaderBytes));
  base::Bytes body = EncryptBody(content_key, nonce, base::AsBytes(kPlaintext), header_hash);
  EXPECT_EQ(HexEncode(body), kBody);
  EXPECT_EQ(HexEncode(Blake2b(body)), kBodyDigest);
  // The same plaintext under another header gives another tag: the header is bound to the body.
  Digest other_header = HeaderHash(base::AsBytes("another header"));
  EXPECT_NE(HexEncode(EncryptBody(content_key, nonce, base::AsBytes(kPlaintext), other_header)),
            kBody);
}

TEST(EnvelopeKnownAnswerTest, SigningMessageAndSignature) {
  base::Bytes message = EnvelopeSigningMessage(HeaderHash(base::AsBytes(kHeaderBytes)),
                                               FromHex(kBodyDigest), FromHex(kWrapsDigest));
  EXPECT_EQ(HexEncode(message), HexEncode(base::AsBytes("relais-envelope-v1")) + kHeaderHash +
                                    kBodyDigest + kWrapsDigest);
  EXPECT_EQ(message.size(), 18u + 3 * 32);
  EXPECT_EQ(HexEncode(Blake2b(message)), kSigningMessageDigest);

  SigningKeyPair emitter = SigningKeyPairFromSeed(Seed(0x01));
  EXPECT_EQ(HexEncode(emitter.public_key), kEmitterPublic);
  EXPECT_EQ(KeyId(emitter.public_key), kEmitterKeyId);
  EXPECT_EQ(HexEncode(Sign(emitter.secret_key, message)), kSignature);
}

// The vectors assembled into an envelope verify; any one of them altered does not.
TEST(EnvelopeKnownAnswerTest, AssembledVectorsVerify) {
  schema::Envelope env;
  env.header = base::ToBytes(kHeaderBytes);
  env.body = FromHex(kBody);
  env.wraps = KatWraps();
  env.body_digest = FromHex(kBodyDigest);
  env.wraps_digest = FromHex(kWrapsDigest);
  env.signature = FromHex(kSignature);
  EXPECT_TRUE(VerifyEnvelope(env, FromHex(kEmitterPublic)));
  env.header.back() ^= 1;
  EXPECT_EQ(VerifyEnvelope(env, FromHex(kEmitterPublic)).error().code, "bad_signature");
}

// A complete envelope sealed once by SealEnvelope and frozen: emitter IdentityFromSeed(
// "hopital-nord", Seed(0x01)), one recipient IdentityFromSeed("asso-a", Seed(0x40)), body
// NoteBody{"relais known-answer note"}. It was opened and verified independently (Python:
// crypto_box_seal_open from X25519 + HSalsa20/XSalsa20 + Poly1305, then XChaCha20-Poly1305 and
// Ed25519). Today's code must still verify and open it: this pins the wrap construction too.
constexpr char kFrozenHeader[] =
    "000000001c000000000000000400090001000400000000000100000000000000fa0057469d010000"
    "0000000000000000210000008200000025000000ea000000310000006a000000350000008a000000"
    "3d000000320000003d0000000e000000000000000000000000000000000000000000000000000000"
    "019d465700fa7000800000000000002a632d61616161616161616161616161616161616161616161"
    "6161616100000000686f706974616c2d6e6f72640000000064336538386435616136333664396261"
    "000000000000000070726f2d31000000010000003a0000006173736f2d610000";
constexpr char kFrozenBody[] =
    "75ef1abd721193fd60b42cfb4f02bd74bc0b9be6f854e07f390b3c41c425ed7765eea606fcc3c6ca"
    "e222c3e95d507ef8ce8256cc5302c227e893e49227c3cc32015f90cfaa4c9ac1cca2f485004d26c0"
    "1ba892827ab32927ba92b17cd2a80a23d6df3ad96f8fc08555b20e11966ef60a";
constexpr char kFrozenSealedKey[] =
    "0bfe4a4815c2c5100b48565cf7df02443f3e2514056672a6e3001e64538c336799f52217c3343b72"
    "a4e57f5aa5c576d6dd74aa33d9e9b66f6a961469a4eafe229183d08b8876e3f23c9688b8d8858811";
constexpr char kFrozenBodyDigest[] =
    "60732a45d603c04e535d367ccda34edb5c496f76124c5fa6c1fe938d9acc441c";
constexpr char kFrozenWrapsDigest[] =
    "1458ca5106c17d6f23e7b886b8bc73a90e23ef02cda21ee1129a4f42725bcfe5";
constexpr char kFrozenSignature[] =
    "df828e806a7d9475505d8c73f2a7d9e8caf498c48bab8ef5d9ecdf5c83c06d4e6b7a937af9af870e"
    "40706fc0015c384b91ee4e6f8c603eedafdad70171080b0c";

schema::Envelope FrozenEnvelope(const std::string& recipient_key_id) {
  schema::Envelope env;
  env.header = FromHex(kFrozenHeader);
  env.body = FromHex(kFrozenBody);
  env.wraps = {{"asso-a", recipient_key_id, FromHex(kFrozenSealedKey)}};
  env.body_digest = FromHex(kFrozenBodyDigest);
  env.wraps_digest = FromHex(kFrozenWrapsDigest);
  env.signature = FromHex(kFrozenSignature);
  return env;
}

TEST(FrozenEnvelopeTest, StillVerifiesAndOpens) {
  AgencyIdentity emitter = IdentityFromSeed("hopital-nord", Seed(0x01), 0);
  AgencyIdentity asso = IdentityFromSeed("asso-a", Seed(0x40), 0);
  EXPECT_EQ(asso.pub.key_id, "5287432e2c648ce7");
  schema::Envelope env = FrozenEnvelope(asso.pub.key_id);
  ASSERT_TRUE(VerifyEnvelope(env, emitter.pub.sign_public));
  auto opened = OpenEnvelope(env, asso);
  ASSERT_TRUE(opened) << opened.error().ToString();
  EXPECT_EQ(*opened, schema::EventBody(schema::NoteBody{"relais known-answer note"}));
  auto header = schema::DecodeHeader(env.header);
  ASSERT_TRUE(header) << header.error().ToString();
  EXPECT_EQ(header->emitter, "hopital-nord");
  EXPECT_EQ(header->emitter_key_id, emitter.pub.key_id);
  EXPECT_EQ(header->kind, schema::EventKind::kAccepted);
}

TEST(FrozenEnvelopeTest, AnotherIdentityOfTheSameAgencyCannotOpenIt) {
  AgencyIdentity asso = IdentityFromSeed("asso-a", Seed(0x40), 0);
  AgencyIdentity impostor = IdentityFromSeed("asso-a", Seed(0x41), 0);
  // The wrap relabelled with the impostor's key id: the box does not open with its key.
  auto opened = OpenEnvelope(FrozenEnvelope(impostor.pub.key_id), impostor);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "cannot_open");
}

TEST(RegistryKnownAnswerTest, SigningMessageIsDomainThenBytes) {
  EXPECT_EQ(HexEncode(Blake2b(RegistrySigningMessage(base::AsBytes("xyz")))),
            "98b2be0b9215406f1135f5b64108ae0015c12bda58625121076c493dac41e166");
}

// IdentityFromSeed is what test fixtures across the tree use: pin its derivation.
TEST(IdentityKnownAnswerTest, IdentityFromSeedDerivation) {
  AgencyIdentity id = IdentityFromSeed("asso-a", Seed(0x40), 0);
  EXPECT_EQ(HexEncode(id.pub.sign_public),
            "ffbade5f33b6f4efcdb5983f45a305efe7dba4edb4cb2c992d18065ca2b4008f");
  EXPECT_EQ(HexEncode(id.pub.seal_public),
            "209d7f6216f1f37dfd632f3aada6f02379aac562f98b00c477c9b9db4006f356");
  EXPECT_EQ(HexEncode(id.pub.curve_public),
            "12ecefdfa3bcc953617b094a662b97b0362118f573e63a945b134ca7693e7379");
}

}  // namespace
}  // namespace relais::crypto
