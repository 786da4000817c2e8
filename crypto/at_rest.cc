#include "crypto/at_rest.h"

#include <sodium.h>

#include <vector>

#include "crypto/key_file.h"
#include "crypto/random.h"

namespace relais::crypto {

namespace {

constexpr std::string_view kKeyFileTag = "relais-at-rest-key-v1";
constexpr size_t kMaxKeyFileBytes = 4096;
constexpr size_t kMaxPasswordBytes = 1024;
constexpr size_t kNonceSize = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagSize = crypto_aead_xchacha20poly1305_ietf_ABYTES;

static_assert(kAtRestKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kAtRestSaltSize == crypto_pwhash_SALTBYTES);

}  // namespace

base::Bytes NewAtRestSalt() { return RandomBytes(kAtRestSaltSize); }

base::Result<AtRestKey> DeriveAtRestKey(std::string_view passphrase, base::ByteView salt,
                                        KdfStrength strength) {
  if (passphrase.empty()) return base::InvalidInput("bad_passphrase", "the passphrase is empty");
  if (salt.size() != kAtRestSaltSize) {
    return base::InvalidInput("bad_salt", "the salt must be 16 bytes");
  }
  bool moderate = strength == KdfStrength::kModerate;
  Secret key(kAtRestKeySize);
  if (crypto_pwhash(key.Data(), key.Size(), passphrase.data(), passphrase.size(), salt.data(),
                    moderate ? crypto_pwhash_OPSLIMIT_MODERATE : crypto_pwhash_OPSLIMIT_INTERACTIVE,
                    moderate ? crypto_pwhash_MEMLIMIT_MODERATE : crypto_pwhash_MEMLIMIT_INTERACTIVE,
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return base::RetryLater("kdf_failed", "key derivation ran out of memory");
  }
  return AtRestKey(std::move(key));
}

base::Status CreateAtRestKeyFile(const std::filesystem::path& path) {
  Secret key(kAtRestKeySize);
  randombytes_buf(key.Data(), key.Size());
  internal::SecretText text(512);
  text.Append(std::string(kKeyFileTag) + "\n");
  text.Append("# relais inbox store key. Keep this file secret (mode 0600) and backed up.\n");
  text.Append("key: ");
  text.AppendHex(key.View());
  text.Append("\n");
  return internal::WriteFileAtomically(path, text.View(), 0600, /*overwrite=*/false);
}

base::Result<AtRestKey> LoadAtRestKeyFile(const std::filesystem::path& path) {
  RELAIS_ASSIGN_OR_RETURN(
      internal::FileText file,
      internal::ReadWholeFile(path, "key", /*refuse_shared_mode=*/true, kMaxKeyFileBytes));
  std::vector<std::string_view> names = {"key"};
  RELAIS_ASSIGN_OR_RETURN(
      internal::KeyFileFields fields,
      internal::KeyFileFields::Parse(file.Text(), kKeyFileTag, names, "bad_key_file", path));
  RELAIS_ASSIGN_OR_RETURN(Secret key, fields.SecretHex("key", kAtRestKeySize));
  return AtRestKey(std::move(key));
}

base::Bytes SealAtRest(const AtRestKey& key, base::ByteView plaintext, base::ByteView associated) {
  RELAIS_CHECK_MSG(key.secret().Size() == kAtRestKeySize, "SealAtRest with an empty key");
  base::Bytes out(kNonceSize + plaintext.size() + kTagSize);
  randombytes_buf(out.data(), kNonceSize);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data() + kNonceSize, &written, plaintext.data(),
                                             plaintext.size(), associated.data(), associated.size(),
                                             nullptr, out.data(), key.secret().Data());
  RELAIS_CHECK(written == plaintext.size() + kTagSize);
  return out;
}

base::Result<base::Bytes> OpenAtRest(const AtRestKey& key, base::ByteView sealed,
                                     base::ByteView associated) {
  RELAIS_CHECK_MSG(key.secret().Size() == kAtRestKeySize, "OpenAtRest with an empty key");
  if (sealed.size() < kNonceSize + kTagSize) {
    return base::Corruption("at_rest_auth_failed", "stored value too short");
  }
  base::Bytes out(sealed.size() - kNonceSize - kTagSize);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          out.data(), &written, nullptr, sealed.data() + kNonceSize, sealed.size() - kNonceSize,
          associated.data(), associated.size(), sealed.data(), key.secret().Data()) != 0) {
    return base::Corruption("at_rest_auth_failed",
                            "stored value does not authenticate (wrong key or altered data)");
  }
  out.resize(written);
  return out;
}

base::Result<std::string> HashPassword(std::string_view password) {
  if (password.empty() || password.size() > kMaxPasswordBytes) {
    return base::InvalidInput("bad_password", "the password must be 1-1024 bytes");
  }
  std::string out(crypto_pwhash_STRBYTES, '\0');
  if (crypto_pwhash_str(out.data(), password.data(), password.size(),
                        crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
    return base::RetryLater("kdf_failed", "password hashing ran out of memory");
  }
  out.resize(std::char_traits<char>::length(out.c_str()));
  return out;
}

bool VerifyPassword(std::string_view hash, std::string_view password) {
  if (password.size() > kMaxPasswordBytes || hash.empty()) return false;
  std::string h(hash);  // crypto_pwhash_str_verify wants a NUL-terminated string
  return crypto_pwhash_str_verify(h.c_str(), password.data(), password.size()) == 0;
}

}  // namespace relais::crypto
