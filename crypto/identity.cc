#include "crypto/identity.h"

#include <sodium.h>

#include <array>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "crypto/hash.h"
#include "crypto/key_file.h"
#include "schema/registry.h"

namespace relais::crypto {

namespace {

static_assert(crypto_box_PUBLICKEYBYTES == kBoxPublicKeySize);
static_assert(crypto_box_SECRETKEYBYTES == kBoxSecretKeySize);
static_assert(crypto_scalarmult_BYTES == kBoxPublicKeySize);

constexpr size_t kMaxKeyFileBytes = size_t{64} * 1024;

constexpr std::array<std::string_view, 6> kPublicFields = {
    "agency", "key-id", "created", "sign-public", "seal-public", "curve-public"};

std::vector<std::string_view> KeyFileFieldNames() {
  std::vector<std::string_view> names(kPublicFields.begin(), kPublicFields.end());
  names.insert(names.end(), {"sign-secret", "seal-secret", "curve-secret"});
  return names;
}

std::vector<std::string_view> PubFileFieldNames() {
  std::vector<std::string_view> names(kPublicFields.begin(), kPublicFields.end());
  names.push_back("curve-public-z85");
  return names;
}

void AppendPublicLines(internal::SecretText& out, const PublicIdentity& pub) {
  out.Append("agency: " + pub.agency_id + "\n");
  out.Append("key-id: " + pub.key_id + "\n");
  out.Append("created: " + base::FormatIsoUtc(pub.created_at) + "\n");
  out.Append("sign-public: " + base::HexEncode(pub.sign_public) + "\n");
  out.Append("seal-public: " + base::HexEncode(pub.seal_public) + "\n");
  out.Append("curve-public: " + base::HexEncode(pub.curve_public) + "\n");
}

// Parses the lines every identity file shares and checks the key id against the signing key.
base::Result<PublicIdentity> ParsePublicFields(const internal::KeyFileFields& fields) {
  PublicIdentity pub;
  const internal::KeyFileLine& agency = fields.Get("agency");
  if (!schema::IsValidAgencyId(agency.value)) {
    return fields.LineError(agency,
                            "not a valid agency id (1-64 characters of a-z 0-9 . _ -, starting "
                            "with a letter or digit)");
  }
  pub.agency_id = std::string(agency.value);
  const internal::KeyFileLine& created = fields.Get("created");
  auto created_at = base::ParseIsoTime(created.value);
  if (!created_at) return fields.LineError(created, "not an ISO 8601 date-time");
  pub.created_at = *created_at;
  RELAIS_ASSIGN_OR_RETURN(pub.sign_public, fields.Hex("sign-public", kSignPublicKeySize));
  RELAIS_ASSIGN_OR_RETURN(pub.seal_public, fields.Hex("seal-public", kBoxPublicKeySize));
  RELAIS_ASSIGN_OR_RETURN(pub.curve_public, fields.Hex("curve-public", kBoxPublicKeySize));
  const internal::KeyFileLine& key_id = fields.Get("key-id");
  pub.key_id = KeyId(pub.sign_public);
  if (key_id.value != pub.key_id) {
    return fields.LineError(key_id, "does not match the key id of 'sign-public'");
  }
  return pub;
}

bool SameBytes(base::ByteView a, base::ByteView b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

// The X25519 public key of a secret scalar, compared with the one the file states.
bool BoxSecretMatches(const Secret& secret, base::ByteView expected_public) {
  uint8_t derived[crypto_scalarmult_BYTES];
  if (crypto_scalarmult_base(derived, secret.Data()) != 0) return false;
  return SameBytes(base::ByteView(derived, sizeof derived), expected_public);
}

void BoxKeyPairFromSeed(const Digest& seed, base::Bytes& public_key, Secret& secret_key) {
  public_key.assign(kBoxPublicKeySize, 0);
  secret_key = Secret(kBoxSecretKeySize);
  crypto_box_seed_keypair(public_key.data(), secret_key.Data(), seed.data());
}

Digest LabelledSeed(std::string_view label, base::ByteView seed) {
  return Blake2b({base::AsBytes(label), seed});
}

}  // namespace

AgencyIdentity GenerateIdentity(const std::string& agency_id, base::TimeMs now) {
  AgencyIdentity id;
  SigningKeyPair sign = GenerateSigningKeyPair();
  id.pub.agency_id = agency_id;
  id.pub.key_id = KeyId(sign.public_key);
  id.pub.sign_public = std::move(sign.public_key);
  id.sign_secret = std::move(sign.secret_key);
  id.pub.seal_public.assign(kBoxPublicKeySize, 0);
  id.seal_secret = Secret(kBoxSecretKeySize);
  crypto_box_keypair(id.pub.seal_public.data(), id.seal_secret.Data());
  id.pub.curve_public.assign(kBoxPublicKeySize, 0);
  id.curve_secret = Secret(kBoxSecretKeySize);
  crypto_box_keypair(id.pub.curve_public.data(), id.curve_secret.Data());
  id.pub.created_at = now;
  return id;
}

AgencyIdentity IdentityFromSeed(const std::string& agency_id, base::ByteView seed,
                                base::TimeMs created_at) {
  RELAIS_CHECK(seed.size() == 32);
  AgencyIdentity id;
  Digest sign_seed = LabelledSeed("relais-identity-sign", seed);
  SigningKeyPair sign = SigningKeyPairFromSeed(View(sign_seed));
  sodium_memzero(sign_seed.data(), sign_seed.size());
  id.pub.agency_id = agency_id;
  id.pub.key_id = KeyId(sign.public_key);
  id.pub.sign_public = std::move(sign.public_key);
  id.sign_secret = std::move(sign.secret_key);
  Digest seal_seed = LabelledSeed("relais-identity-seal", seed);
  BoxKeyPairFromSeed(seal_seed, id.pub.seal_public, id.seal_secret);
  sodium_memzero(seal_seed.data(), seal_seed.size());
  Digest curve_seed = LabelledSeed("relais-identity-curve", seed);
  BoxKeyPairFromSeed(curve_seed, id.pub.curve_public, id.curve_secret);
  sodium_memzero(curve_seed.data(), curve_seed.size());
  id.pub.created_at = created_at;
  return id;
}

base::Status SaveIdentity(const AgencyIdentity& identity, const std::filesystem::path& dir,
                          bool overwrite) {
  const PublicIdentity& pub = identity.pub;
  if (!schema::IsValidAgencyId(pub.agency_id)) {
    return base::InvalidInput("bad_agency_id",
                              "'" + pub.agency_id +
                                  "' is not a valid agency id (1-64 characters of a-z 0-9 . _ -, "
                                  "starting with a letter or digit)");
  }
  RELAIS_CHECK(identity.sign_secret.Size() == kSignSecretKeySize);
  RELAIS_CHECK(identity.seal_secret.Size() == kBoxSecretKeySize);
  RELAIS_CHECK(identity.curve_secret.Size() == kBoxSecretKeySize);
  const std::filesystem::path key_path = dir / (pub.agency_id + ".key");
  const std::filesystem::path pub_path = dir / (pub.agency_id + ".pub");
  if (!overwrite) {
    // Checked up front so neither file is written when the other one would be refused.
    for (const auto& p : {key_path, pub_path}) {
      std::error_code ec;
      if (std::filesystem::symlink_status(p, ec).type() != std::filesystem::file_type::not_found) {
        return base::InvalidInput("key_file_exists",
                                  p.string() + " already exists; refusing to overwrite it");
      }
    }
  }

  internal::SecretText key_text(2048);
  key_text.Append(std::string(kKeyFileTag) + "\n");
  key_text.Append("# relais private keys of agency " + pub.agency_id +
                  ". Keep this file secret (mode 0600). See docs/keys.md.\n");
  AppendPublicLines(key_text, pub);
  key_text.Append("sign-secret: ");
  key_text.AppendHex(identity.sign_secret.View());
  key_text.Append("\nseal-secret: ");
  key_text.AppendHex(identity.seal_secret.View());
  key_text.Append("\ncurve-secret: ");
  key_text.AppendHex(identity.curve_secret.View());
  key_text.Append("\n");

  internal::SecretText pub_text(2048);
  pub_text.Append(std::string(kPubFileTag) + "\n");
  pub_text.Append("# relais public identity of agency " + pub.agency_id +
                  ": give this file to the registry authority. See docs/keys.md.\n");
  AppendPublicLines(pub_text, pub);
  pub_text.Append("curve-public-z85: " + Z85Encode(pub.curve_public) + "\n");

  RELAIS_RETURN_IF_ERROR(internal::WriteFileAtomically(key_path, key_text.View(), 0600, overwrite));
  base::Status pub_written =
      internal::WriteFileAtomically(pub_path, pub_text.View(), 0644, overwrite);
  if (!pub_written && !overwrite) {
    std::error_code ignored;
    std::filesystem::remove(key_path, ignored);  // leave no half identity behind
  }
  return pub_written;
}

base::Result<AgencyIdentity> LoadIdentity(const std::filesystem::path& key_file) {
  // The buffer is guarded memory, wiped (sodium_memzero) when `file` goes out of scope, and the
  // parser only keeps views into it: secret hex never lands in ordinary heap memory.
  RELAIS_ASSIGN_OR_RETURN(
      internal::FileText file,
      internal::ReadWholeFile(key_file, "key", /*refuse_shared_mode=*/true, kMaxKeyFileBytes));
  RELAIS_ASSIGN_OR_RETURN(
      internal::KeyFileFields fields,
      internal::KeyFileFields::Parse(file.Text(), kKeyFileTag, KeyFileFieldNames(), "bad_key_file",
                                     key_file));
  AgencyIdentity id;
  RELAIS_ASSIGN_OR_RETURN(id.pub, ParsePublicFields(fields));
  RELAIS_ASSIGN_OR_RETURN(id.sign_secret, fields.SecretHex("sign-secret", kSignSecretKeySize));
  RELAIS_ASSIGN_OR_RETURN(id.seal_secret, fields.SecretHex("seal-secret", kBoxSecretKeySize));
  RELAIS_ASSIGN_OR_RETURN(id.curve_secret, fields.SecretHex("curve-secret", kBoxSecretKeySize));
  uint8_t sign_public[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_ed25519_sk_to_pk(sign_public, id.sign_secret.Data());
  if (!SameBytes(base::ByteView(sign_public, sizeof sign_public), id.pub.sign_public)) {
    return fields.LineError(fields.Get("sign-secret"), "does not match 'sign-public'");
  }
  if (!BoxSecretMatches(id.seal_secret, id.pub.seal_public)) {
    return fields.LineError(fields.Get("seal-secret"), "does not match 'seal-public'");
  }
  if (!BoxSecretMatches(id.curve_secret, id.pub.curve_public)) {
    return fields.LineError(fields.Get("curve-secret"), "does not match 'curve-public'");
  }
  sodium_memzero(file.content.Data(), file.content.Size());
  return id;
}

base::Result<PublicIdentity> LoadPublicIdentity(const std::filesystem::path& pub_file) {
  RELAIS_ASSIGN_OR_RETURN(
      internal::FileText file,
      internal::ReadWholeFile(pub_file, "pub", /*refuse_shared_mode=*/false, kMaxKeyFileBytes));
  RELAIS_ASSIGN_OR_RETURN(
      internal::KeyFileFields fields,
      internal::KeyFileFields::Parse(file.Text(), kPubFileTag, PubFileFieldNames(), "bad_pub_file",
                                     pub_file));
  RELAIS_ASSIGN_OR_RETURN(PublicIdentity pub, ParsePublicFields(fields));
  const internal::KeyFileLine& z85 = fields.Get("curve-public-z85");
  if (z85.value != Z85Encode(pub.curve_public)) {
    return fields.LineError(z85, "does not match 'curve-public'");
  }
  return pub;
}

}  // namespace relais::crypto
