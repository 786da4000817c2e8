// Agency identities: an Ed25519 signing key, an X25519 sealing key and a CURVE transport key.
//
// On disk (docs/keys.md): DIR/AGENCY.key holds the secret keys (mode 0600, refused when group- or
// world-readable) and DIR/AGENCY.pub the public keys (what goes into the registry). Secrets are
// loaded into guarded memory and the file buffer is wiped.
//
// Thread-safety: every function is safe to call from any thread (crypto::Init() first).
#ifndef RELAIS_CRYPTO_IDENTITY_H_
#define RELAIS_CRYPTO_IDENTITY_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/secret.h"
#include "crypto/sign.h"

namespace relais::crypto {

constexpr size_t kBoxPublicKeySize = 32;
constexpr size_t kBoxSecretKeySize = 32;

// First line of DIR/AGENCY.key and of DIR/AGENCY.pub.
inline constexpr std::string_view kKeyFileTag = "relais-identity-v1";
inline constexpr std::string_view kPubFileTag = "relais-public-identity-v1";

// The public half: what the registry lists.
struct PublicIdentity {
  std::string agency_id;
  std::string key_id;        // KeyId(sign_public)
  base::Bytes sign_public;   // Ed25519, 32 bytes
  base::Bytes seal_public;   // X25519, 32 bytes
  base::Bytes curve_public;  // CURVE, 32 bytes
  base::TimeMs created_at = 0;
};

struct AgencyIdentity {
  PublicIdentity pub;
  Secret sign_secret;   // 64 bytes
  Secret seal_secret;   // 32 bytes
  Secret curve_secret;  // 32 bytes
};

AgencyIdentity GenerateIdentity(const std::string& agency_id, base::TimeMs now);

// Deterministic identity derived from a 32-byte seed, for tests and fixtures only (known-answer
// vectors, reproducible test registries). Production identities come from GenerateIdentity.
// Each key pair is derived from BLAKE2b-256(label ‖ seed) with the labels
// "relais-identity-sign", "relais-identity-seal" and "relais-identity-curve".
AgencyIdentity IdentityFromSeed(const std::string& agency_id, base::ByteView seed,
                                base::TimeMs created_at);

// Writes DIR/<agency>.key (0600, created exclusively unless overwrite) and DIR/<agency>.pub.
// Both files are written to a temporary name, fsync'd and then moved into place, so a crash
// never leaves a half-written key file. Errors: kInvalidInput "bad_agency_id" (the id is not a
// valid registry agency id), "key_file_exists" (without overwrite, naming the file),
// "cannot_write_key_file" (I/O error, naming the path and the system error).
base::Status SaveIdentity(const AgencyIdentity& identity, const std::filesystem::path& dir,
                          bool overwrite = false);
// Errors: kNotFound "no_key_file"; kNotAuthorised "key_file_permissions" when the file is
// readable by group or others (the message names the path and says `chmod 600`);
// kInvalidInput "bad_key_file" naming the line (never its value), also when the secret keys do
// not match the public keys or the key id; kInvalidInput "cannot_read_key_file" on other I/O
// errors.
base::Result<AgencyIdentity> LoadIdentity(const std::filesystem::path& key_file);
// Errors: kNotFound "no_pub_file"; kInvalidInput "bad_pub_file" naming the line (also when the
// key id or the Z85 form does not match the keys), "cannot_read_pub_file".
base::Result<PublicIdentity> LoadPublicIdentity(const std::filesystem::path& pub_file);

// Z85 (ZeroMQ RFC 32) text of a 32-byte key (40 characters), for operators comparing CURVE keys
// with ZeroMQ tools. Accepts any length that is a multiple of 4 (CHECK-fails otherwise).
std::string Z85Encode(base::ByteView key32);
// Inverse of Z85Encode. kInvalidInput "bad_z85" when the length is not a multiple of 5, a
// character is outside the Z85 alphabet or a group overflows 32 bits.
base::Result<base::Bytes> Z85Decode(std::string_view text);

}  // namespace relais::crypto

#endif  // RELAIS_CRYPTO_IDENTITY_H_
