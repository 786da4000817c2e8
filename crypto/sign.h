// Ed25519 signatures (libsodium crypto_sign_detached).
#ifndef RELAIS_CRYPTO_SIGN_H_
#define RELAIS_CRYPTO_SIGN_H_

#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/secret.h"

namespace relais::crypto {

constexpr size_t kSignPublicKeySize = 32;
constexpr size_t kSignSecretKeySize = 64;
constexpr size_t kSignatureSize = 64;

struct SigningKeyPair {
  base::Bytes public_key;  // 32 bytes
  Secret secret_key;       // 64 bytes (libsodium's seed ‖ public layout)
};

SigningKeyPair GenerateSigningKeyPair();
// Deterministic from a 32-byte seed (tests and known-answer vectors).
SigningKeyPair SigningKeyPairFromSeed(base::ByteView seed);

base::Bytes Sign(const Secret& secret_key, base::ByteView message);
// kUnauthenticated "bad_signature" when the signature does not verify; kInvalidInput
// "bad_key" when the key or signature has the wrong size.
base::Status Verify(base::ByteView public_key, base::ByteView message, base::ByteView signature);

// Key id: hex of the first 8 bytes of BLAKE2b-256(public signing key). Names a key in the
// registry, in wraps and in headers without printing the key.
std::string KeyId(base::ByteView sign_public_key);

}  // namespace relais::crypto

#endif  // RELAIS_CRYPTO_SIGN_H_
