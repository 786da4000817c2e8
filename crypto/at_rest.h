// Encryption at rest for adapters' local stores (the association inbox), and password hashing for
// their local staff logins. XChaCha20-Poly1305 (IETF AEAD) with a 256-bit key derived from a
// passphrase (Argon2id, crypto_pwhash, salt kept beside the data) or read from a key file.
//
// Thread-safety: every function is safe from any thread (crypto::Init() first). Errors never
// contain passphrases, passwords, key bytes or plaintext.
#ifndef RELAIS_CRYPTO_AT_REST_H_
#define RELAIS_CRYPTO_AT_REST_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/secret.h"

namespace relais::crypto {

constexpr size_t kAtRestKeySize = 32;
constexpr size_t kAtRestSaltSize = 16;

// How much work the passphrase derivation costs. kInteractive: libsodium's OPSLIMIT/MEMLIMIT
// _INTERACTIVE (64 MiB); kModerate: _MODERATE (256 MiB, about a second). Stores record which.
enum class KdfStrength { kInteractive = 0, kModerate = 1 };

// A symmetric key in guarded memory. Move-only.
class AtRestKey {
 public:
  AtRestKey() = default;
  explicit AtRestKey(Secret key) : key_(std::move(key)) {}
  bool Empty() const { return key_.Empty(); }
  const Secret& secret() const { return key_; }

 private:
  Secret key_;
};

// A fresh random salt for DeriveAtRestKey.
base::Bytes NewAtRestSalt();

// Argon2id(passphrase, salt). Errors: kInvalidInput "bad_passphrase" (empty), "bad_salt" (not
// kAtRestSaltSize bytes); kRetryLater "kdf_failed" (out of memory).
base::Result<AtRestKey> DeriveAtRestKey(std::string_view passphrase, base::ByteView salt,
                                        KdfStrength strength);

// Key files: "relais-at-rest-key-v1" then "key: <64 hex>" (docs/adapters/inbox.md). Created with
// mode 0600 (never overwritten: kInvalidInput "key_file_exists"); loading refuses a file readable
// by group or others (kNotAuthorised "key_file_permissions") and reports kNotFound "no_key_file",
// kInvalidInput "bad_key_file".
base::Status CreateAtRestKeyFile(const std::filesystem::path& path);
base::Result<AtRestKey> LoadAtRestKeyFile(const std::filesystem::path& path);

// nonce (24 bytes) || ciphertext || tag (16 bytes). `associated` (e.g. the row's id) is
// authenticated, not stored: a sealed value moved to another row no longer opens.
base::Bytes SealAtRest(const AtRestKey& key, base::ByteView plaintext, base::ByteView associated);
// Errors: kCorruption "at_rest_auth_failed" (wrong key, altered bytes or another row's value).
base::Result<base::Bytes> OpenAtRest(const AtRestKey& key, base::ByteView sealed,
                                     base::ByteView associated);

// Password storage for local logins: crypto_pwhash_str (Argon2id, interactive limits; the salt and
// parameters are inside the returned ASCII string). Errors: kInvalidInput "bad_password" (empty or
// longer than 1024 bytes), kRetryLater "kdf_failed".
base::Result<std::string> HashPassword(std::string_view password);
// True when `password` matches `hash` (constant-time comparison inside libsodium).
bool VerifyPassword(std::string_view hash, std::string_view password);

}  // namespace relais::crypto

#endif  // RELAIS_CRYPTO_AT_REST_H_
