#include "crypto/sign.h"

#include <sodium.h>

#include "base/check.h"
#include "crypto/hash.h"

namespace relais::crypto {

static_assert(crypto_sign_PUBLICKEYBYTES == kSignPublicKeySize);
static_assert(crypto_sign_SECRETKEYBYTES == kSignSecretKeySize);
static_assert(crypto_sign_BYTES == kSignatureSize);

SigningKeyPair GenerateSigningKeyPair() {
  SigningKeyPair kp{base::Bytes(kSignPublicKeySize), Secret(kSignSecretKeySize)};
  crypto_sign_keypair(kp.public_key.data(), kp.secret_key.Data());
  return kp;
}

SigningKeyPair SigningKeyPairFromSeed(base::ByteView seed) {
  RELAIS_CHECK(seed.size() == crypto_sign_SEEDBYTES);
  SigningKeyPair kp{base::Bytes(kSignPublicKeySize), Secret(kSignSecretKeySize)};
  crypto_sign_seed_keypair(kp.public_key.data(), kp.secret_key.Data(), seed.data());
  return kp;
}

base::Bytes Sign(const Secret& secret_key, base::ByteView message) {
  RELAIS_CHECK(secret_key.Size() == kSignSecretKeySize);
  base::Bytes sig(kSignatureSize);
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), secret_key.Data());
  return sig;
}

base::Status Verify(base::ByteView public_key, base::ByteView message, base::ByteView signature) {
  if (public_key.size() != kSignPublicKeySize) {
    return base::InvalidInput("bad_key", "an Ed25519 public key must be 32 bytes");
  }
  if (signature.size() != kSignatureSize) {
    return base::Unauthenticated("bad_signature", "an Ed25519 signature must be 64 bytes");
  }
  if (crypto_sign_verify_detached(signature.data(), message.data(), message.size(),
                                  public_key.data()) != 0) {
    return base::Unauthenticated("bad_signature", "the signature does not verify");
  }
  return base::Ok();
}

std::string KeyId(base::ByteView sign_public_key) {
  Digest d = Blake2b(sign_public_key);
  return base::HexEncode(base::ByteView(d.data(), 8));
}

}  // namespace relais::crypto
