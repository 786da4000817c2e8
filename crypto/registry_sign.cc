#include "crypto/registry_sign.h"

#include <sodium.h>

#include <set>

#include "crypto/sign.h"
#include "schema/codec.h"

namespace relais::crypto {

namespace {

base::Status CheckConsistent(const schema::Registry& registry,
                             const std::string& authority_key_id) {
  if (registry.authority_key_id != authority_key_id) {
    return base::InvalidInput("registry_inconsistent",
                              "the registry names authority key id '" + registry.authority_key_id +
                                  "' but was signed under '" + authority_key_id + "'");
  }
  std::set<std::string_view> ids;
  for (const schema::Agency& agency : registry.agencies) {
    if (!ids.insert(agency.id).second) {
      return base::InvalidInput("registry_inconsistent",
                                "agency '" + agency.id + "' is listed twice");
    }
    for (const schema::AgencyKey& key : agency.keys) {
      if (key.key_id != KeyId(key.sign_key)) {
        return base::InvalidInput("registry_inconsistent",
                                  "agency '" + agency.id + "': key id '" + key.key_id +
                                      "' is not the key id of its signing key");
      }
    }
  }
  return base::Ok();
}

}  // namespace

base::Bytes RegistrySigningMessage(base::ByteView registry_bytes) {
  base::Bytes out;
  out.reserve(kRegistryDomain.size() + registry_bytes.size());
  base::AppendRaw(out, base::AsBytes(kRegistryDomain));
  base::AppendRaw(out, registry_bytes);
  return out;
}

base::Result<schema::SignedRegistry> SignRegistry(const schema::Registry& registry,
                                                  const Secret& authority_sign_secret,
                                                  const std::string& authority_key_id) {
  if (authority_sign_secret.Size() != kSignSecretKeySize) {
    return base::InvalidInput("bad_key", "an Ed25519 secret key must be 64 bytes");
  }
  uint8_t sign_public[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_ed25519_sk_to_pk(sign_public, authority_sign_secret.Data());
  const std::string actual_key_id = KeyId(base::ByteView(sign_public, sizeof sign_public));
  if (authority_key_id != actual_key_id) {
    return base::InvalidInput("wrong_authority_key",
                              "authority key id '" + authority_key_id +
                                  "' is not the key id of the signing key given ('" +
                                  actual_key_id + "')");
  }
  if (registry.authority_key_id != authority_key_id) {
    return base::InvalidInput("wrong_authority_key", "the registry names authority key id '" +
                                                         registry.authority_key_id + "', not '" +
                                                         authority_key_id + "'");
  }
  schema::SignedRegistry out;
  out.registry = schema::EncodeRegistry(registry);
  out.signature = Sign(authority_sign_secret, RegistrySigningMessage(out.registry));
  out.authority_key_id = authority_key_id;
  return out;
}

base::Result<schema::Registry> VerifySignedRegistry(const schema::SignedRegistry& signed_registry,
                                                    base::ByteView authority_sign_public,
                                                    base::TimeMs now) {
  if (authority_sign_public.size() != kSignPublicKeySize) {
    return base::InvalidInput("bad_key", "an Ed25519 public key must be 32 bytes");
  }
  if (signed_registry.signature.empty()) {
    return base::Unauthenticated("registry_unsigned",
                                 "the registry is not signed (edited since it was last signed?); "
                                 "the authority must sign it before use");
  }
  const std::string expected_key_id = KeyId(authority_sign_public);
  if (signed_registry.authority_key_id != expected_key_id) {
    return base::Unauthenticated("registry_bad_signature",
                                 "the registry is signed by authority key id '" +
                                     signed_registry.authority_key_id +
                                     "', expected authority key id '" + expected_key_id + "'");
  }
  if (!Verify(authority_sign_public, RegistrySigningMessage(signed_registry.registry),
              signed_registry.signature)) {
    return base::Unauthenticated("registry_bad_signature",
                                 "the registry signature does not verify with authority key id '" +
                                     expected_key_id + "' (found key id '" +
                                     signed_registry.authority_key_id +
                                     "'): the registry was altered after signing");
  }
  RELAIS_ASSIGN_OR_RETURN(schema::Registry registry,
                          schema::DecodeRegistry(signed_registry.registry));
  RELAIS_RETURN_IF_ERROR(CheckConsistent(registry, signed_registry.authority_key_id));
  const std::string serial = std::to_string(registry.serial);
  if (now < registry.issued_at) {
    return base::NotAuthorised("registry_expired",
                               "registry serial " + serial + " is not valid yet: issued at " +
                                   base::FormatIsoUtc(registry.issued_at) + ", valid until " +
                                   base::FormatIsoUtc(registry.expires_at) + ", now is " +
                                   base::FormatIsoUtc(now));
  }
  if (now >= registry.expires_at) {
    return base::NotAuthorised("registry_expired", "registry serial " + serial + " expired at " +
                                                       base::FormatIsoUtc(registry.expires_at) +
                                                       " (now is " + base::FormatIsoUtc(now) +
                                                       "); the authority must sign a new one");
  }
  return registry;
}

const schema::AgencyKey* FindValidKey(const schema::Agency& agency, std::string_view key_id,
                                      base::TimeMs at) {
  if (agency.revoked && (agency.revoked_at == 0 || at >= agency.revoked_at)) return nullptr;
  for (const schema::AgencyKey& key : agency.keys) {
    if (key.key_id != key_id) continue;
    if (at < key.valid_from) continue;
    if (key.valid_until != 0 && at >= key.valid_until) continue;
    return &key;
  }
  return nullptr;
}

}  // namespace relais::crypto
