// Multi-recipient sealing, signing and opening of envelopes. See docs/envelope.md for the exact
// byte layouts (they are covered by known-answer tests and must not drift).
//
//   contentKey   = 32 random bytes
//   body         = nonce(24) ‖ XChaCha20-Poly1305-IETF(contentKey, nonce, EventBody,
//                                                      aad = BLAKE2b-256(header bytes))
//   wrap[i]      = crypto_box_seal(contentKey, recipient[i].seal_public)
//   bodyDigest   = BLAKE2b-256(body)
//   wrapsDigest  = BLAKE2b-256( for each wrap in order: lp(agency) ‖ lp(keyId) ‖ lp(sealedKey) )
//   signature    = Ed25519(emitter, "relais-envelope-v1" ‖ BLAKE2b-256(header) ‖ bodyDigest ‖
//                                    wrapsDigest)
// where lp(x) is a 4-byte big-endian length followed by x.
#ifndef RELAIS_CRYPTO_SEAL_H_
#define RELAIS_CRYPTO_SEAL_H_

#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/identity.h"
#include "schema/envelope.h"
#include "schema/events.h"

namespace relais::crypto {

struct RecipientKey {
  std::string agency;
  std::string key_id;
  base::Bytes seal_public;  // X25519, 32 bytes
};

Digest HeaderHash(base::ByteView header_bytes);
// The canonical wraps layout: for each wrap in order, lp(agency) ‖ lp(keyId) ‖ lp(sealedKey).
// The journal stores wraps in this form; wrapsDigest = BLAKE2b-256(CanonicalWraps(wraps)).
base::Bytes CanonicalWraps(const std::vector<schema::Wrap>& wraps);
// Inverse of CanonicalWraps; kInvalidInput "malformed_wraps" on truncation or trailing bytes.
base::Result<std::vector<schema::Wrap>> ParseCanonicalWraps(base::ByteView bytes);
Digest WrapsDigest(const std::vector<schema::Wrap>& wraps);
// "relais-envelope-v1" ‖ headerHash ‖ bodyDigest ‖ wrapsDigest.
base::Bytes EnvelopeSigningMessage(const Digest& header_hash, base::ByteView body_digest,
                                   base::ByteView wraps_digest);

constexpr size_t kContentKeySize = 32;  // crypto_aead_xchacha20poly1305_ietf_KEYBYTES
constexpr size_t kBodyNonceSize = 24;   // crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
constexpr size_t kBodyTagSize = 16;     // crypto_aead_xchacha20poly1305_ietf_ABYTES
constexpr size_t kSealedKeySize = 80;   // crypto_box_SEALBYTES (48) + kContentKeySize

// The body construction on its own, deterministic given the nonce: nonce ‖ XChaCha20-Poly1305-
// IETF(content_key, nonce, plaintext, aad = header_hash). SealEnvelope calls it with a random
// nonce; exposed for known-answer tests and third-party implementations (docs/envelope.md).
// CHECK-fails on a wrong key or nonce size.
base::Bytes EncryptBody(const Secret& content_key, base::ByteView nonce, base::ByteView plaintext,
                        const Digest& header_hash);

// Encodes `header`, seals `body` for every recipient and signs. The header's emitter_key_id must
// already be set. Errors: kInvalidInput "bad_recipient_key" naming the agency.
// Also (additions): kInvalidInput "duplicate_recipient" when the same (agency, key id) appears
// twice, "wrong_emitter_key" when header.emitter_key_id is empty or is not the key id of
// `emitter_sign_secret`, "bad_key" when the secret is not a 64-byte Ed25519 secret key.
// An agency may appear with several key ids (key rotation): one wrap per key. The content key
// lives in guarded memory and is wiped before returning; so is the encoded plaintext.
base::Result<schema::Envelope> SealEnvelope(const schema::Header& header,
                                            const schema::EventBody& body,
                                            const std::vector<RecipientKey>& recipients,
                                            const Secret& emitter_sign_secret);

// Recomputes both digests and checks the signature. kUnauthenticated "bad_signature" or
// "digest_mismatch"; never reveals which byte differed. (kInvalidInput "bad_key" when
// emitter_sign_public is not 32 bytes: a registry problem, not a forged envelope.)
base::Status VerifyEnvelope(const schema::Envelope& envelope, base::ByteView emitter_sign_public);

// Opens the body as `me`: finds the wrap for me.pub.agency_id (kNotAuthorised "not_a_recipient"),
// unseals the content key, decrypts with the header hash as associated data and decodes.
// Any authentication failure is kUnauthenticated "cannot_open". Does not verify the signature:
// call VerifyEnvelope first.
// The wrap used is the one whose agency is me.pub.agency_id and whose key id is me.pub.key_id;
// when the agency has wraps only for other key ids, the "not_a_recipient" message says so (a
// rotated key). A body that authenticates but does not decode returns the codec's error.
base::Result<schema::EventBody> OpenEnvelope(const schema::Envelope& envelope,
                                             const AgencyIdentity& me);

}  // namespace relais::crypto

#endif  // RELAIS_CRYPTO_SEAL_H_
