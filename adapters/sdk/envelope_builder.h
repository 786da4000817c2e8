// Building envelopes to publish, and verifying and opening envelopes received, against the
// signed agency registry. See docs/envelope.md for the cryptographic layout (crypto/seal.h).
//
// Thread-safety: every function is safe to call from any thread (crypto::Init() first). Errors
// name agencies, key ids and event kinds (registry metadata), never body content or key bytes.
#ifndef RELAIS_ADAPTERS_SDK_ENVELOPE_BUILDER_H_
#define RELAIS_ADAPTERS_SDK_ENVELOPE_BUILDER_H_

#include <filesystem>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/identity.h"
#include "schema/envelope.h"
#include "schema/events.h"
#include "schema/registry.h"

namespace relais::sdk {

// Completes `header` and seals `body` for its recipients, signed by `me`:
//   - fills in event_id (a new UUIDv7), emitted_at (clock.NowMs()), emitter (me's agency id)
//     and emitter_key_id (me's key id) when they are empty/zero;
//   - checks what the broker would refuse, so the emitter gets the error before publishing,
//     with the broker's codes: kInvalidInput "emitter_mismatch" (header.emitter or
//     emitter_key_id is not `me`), kNotAuthorised "unknown_emitter" (me is not in the registry),
//     "agency_revoked", "kind_not_allowed" (not in the registry's mayEmit for me),
//     kUnauthenticated "unknown_key" (me's key is not a registry key valid now),
//     kInvalidInput "unknown_recipient" (named), kNotAuthorised "recipient_cannot_receive"
//     (named: revoked, may not receive, or without a key valid now), kInvalidInput
//     "body_mismatch" (the body alternative is not the one the kind carries, see
//     BodyIndexForKind; an empty body is accepted for every kind but referral), and
//     schema::ValidateHeader's "malformed_header";
//   - seals with each recipient's registry key valid now (the most recent when several are).
base::Result<schema::Envelope> BuildEnvelope(schema::Header header, const schema::EventBody& body,
                                             const schema::Registry& registry,
                                             const crypto::AgencyIdentity& me,
                                             const base::Clock& clock);

struct Opened {
  schema::Header header;
  schema::EventBody body;
};

// Decodes and validates the header, verifies the signature with the emitter's registry key
// named by emitter_key_id (valid at emitted_at), checks the emitter is not revoked, and opens the
// body as `me`. `received_at` (the broker's journal time of a delivery, 0 if unknown) lets an
// event journaled before its emitter's revocation still open; without it a revoked emitter is
// refused. Errors: the codec's "malformed"/"malformed_header" (kInvalidInput); kUnauthenticated
// "unknown_emitter", "unknown_key", "bad_signature", "digest_mismatch", "cannot_open";
// kNotAuthorised "agency_revoked", "not_a_recipient".
base::Result<Opened> VerifyAndOpen(const schema::Envelope& envelope,
                                   const schema::Registry& registry,
                                   const crypto::AgencyIdentity& me, base::TimeMs received_at = 0);

// Reads the signed registry file (an encoded schema::SignedRegistry) and verifies it with the
// registry authority's public key file (.pub, crypto::LoadPublicIdentity) at `now`. Errors:
// kNotFound "no_registry" (cannot read the file), the codec's "malformed", and those of
// crypto::LoadPublicIdentity and crypto::VerifySignedRegistry (signature, expiry).
base::Result<schema::Registry> LoadRegistry(const std::filesystem::path& registry_file,
                                            const std::filesystem::path& authority_pub_file,
                                            base::TimeMs now);

// The broker's CURVE public key: the curveKey of the (non-revoked) registry agency of kind
// broker, from its key valid at `now` (the most recent when several are). kNotFound
// "no_broker_in_registry" when there is none; kInvalidInput "ambiguous_broker" when several
// non-revoked broker agencies are listed and `broker_id` (optional) does not pick one.
base::Result<base::Bytes> BrokerCurveKey(const schema::Registry& registry, base::TimeMs now,
                                         std::string_view broker_id = {});

}  // namespace relais::sdk

#endif  // RELAIS_ADAPTERS_SDK_ENVELOPE_BUILDER_H_
