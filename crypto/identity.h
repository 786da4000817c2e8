// Agency identities: an Ed25519 signing key, an X25519 sealing key and a CURVE transport key.
//
// On disk (docs/keys.md): DIR/AGENCY.key holds the secret keys (mode 0600, refused when group- or
// world-readable) and DIR/AGENCY.pub the public keys (what goes into the registry). Secrets are
// loaded into guarded memory and the file buffer is wiped.
#ifndef RELAIS_CRYPTO_IDENTITY_H_
#define RELAIS_CRYPTO_IDENTITY_H_

#include <filesystem>
#include <string>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/secret.h"
#include "crypto/sign.h"

namespace relais::crypto {

constexpr size_t kBoxPublicKeySize = 32;
constexpr size_t kBoxSecretKeySize = 32;

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

// Writes DIR/<agency>.key (0600, created exclusively unless overwrite) and DIR/<agency>.pub.
base::Status SaveIdentity(const AgencyIdentity& identity, const std::filesystem::path& dir,
                          bool overwrite = false);
// Errors: kNotFound "no_key_file"; kNotAuthorised "key_file_permissions" when the file is
// readable by group or others (the message names the path and says `chmod 600`);
// kInvalidInput "bad_key_file" naming the line.
base::Result<AgencyIdentity> LoadIdentity(const std::filesystem::path& key_file);
base::Result<PublicIdentity> LoadPublicIdentity(const std::filesystem::path& pub_file);

// Z85 text of a 32-byte key (40 characters), for operators comparing CURVE keys with ZeroMQ tools.
std::string Z85Encode(base::ByteView key32);

}  // namespace relais::crypto

#endif  // RELAIS_CRYPTO_IDENTITY_H_
