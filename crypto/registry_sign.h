// Signing and verification of the agency registry by the registry authority (docs/registry.md).
//
//   signature = Ed25519(authority, "relais-registry-v1" ‖ registry bytes)
//
// where "registry bytes" is SignedRegistry.registry: the encoded Registry exactly as signed.
// Thread-safety: pure functions, callable from any thread (crypto::Init() first).
#ifndef RELAIS_CRYPTO_REGISTRY_SIGN_H_
#define RELAIS_CRYPTO_REGISTRY_SIGN_H_

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/secret.h"
#include "schema/registry.h"

namespace relais::crypto {

inline constexpr std::string_view kRegistryDomain = "relais-registry-v1";

// "relais-registry-v1" ‖ registry_bytes: the message the authority signs.
base::Bytes RegistrySigningMessage(base::ByteView registry_bytes);

// Encodes `registry` and signs it. registry.authority_key_id must equal authority_key_id, which
// must be the key id of authority_sign_secret. Errors: kInvalidInput "bad_key" (not a 64-byte
// Ed25519 secret key), "wrong_authority_key" (authority_key_id is not the key id of the secret,
// or the registry names another authority).
base::Result<schema::SignedRegistry> SignRegistry(const schema::Registry& registry,
                                                  const Secret& authority_sign_secret,
                                                  const std::string& authority_key_id);

// Checks, in this order, and returns the decoded registry only if all hold:
//   - signed at all: kUnauthenticated "registry_unsigned" when the signature is empty;
//   - by the expected authority: kUnauthenticated "registry_bad_signature" when the authority key
//     id differs from KeyId(authority_sign_public) (the message names the expected and the found
//     key ids) or when the signature does not verify;
//   - decodable: the codec's kInvalidInput "malformed" error, propagated;
//   - consistent: kInvalidInput "registry_inconsistent" when the decoded registry names another
//     authority than its envelope, an agency id repeats, or a key's id is not KeyId(sign_key);
//   - current: kNotAuthorised "registry_expired" when now >= expiresAt or now < issuedAt (the
//     message gives both dates in ISO 8601 and says which applies).
// kInvalidInput "bad_key" when authority_sign_public is not 32 bytes.
base::Result<schema::Registry> VerifySignedRegistry(const schema::SignedRegistry& signed_registry,
                                                    base::ByteView authority_sign_public,
                                                    base::TimeMs now);

// The key of `agency` named `key_id` that is valid at `at`, or nullptr. A key is valid on
// [valid_from, valid_until); valid_until == 0 means no end date. A revoked agency has no valid
// key at or after revoked_at (none at all when revoked_at is 0), so events signed before a
// revocation still verify when an auditor replays them.
const schema::AgencyKey* FindValidKey(const schema::Agency& agency, std::string_view key_id,
                                      base::TimeMs at);

}  // namespace relais::crypto

#endif  // RELAIS_CRYPTO_REGISTRY_SIGN_H_
