// Encoding and decoding of every relais message. The only place Cap'n Proto is used.
//
// Decoding treats its input as hostile: it applies explicit limits (DecodeLimits), copies what it
// needs into the plain structs of envelope.h / events.h / registry.h / wire.h, keeps no reader over
// the input, and turns every failure (truncated, misaligned, too deep, too large, wrong sizes,
// unknown enum values, out-of-range fields) into a kInvalidInput Error with code "malformed" and a
// message naming the message type and the field. It never throws and never crashes.
//
// What every Decode* rejects (docs/schema.md has the full list):
//   - empty input, input over max_bytes, a length that is not a multiple of 8 bytes;
//   - anything Cap'n Proto itself rejects (bad segment table, out-of-bounds pointers, text without
//     its NUL terminator, traversal or nesting limit exceeded, ...); the traversal limit is
//     min(traversal_limit_words, input size in words + 64), so no input makes the decoder visit
//     more than it sent (no amplification through aliased pointers or lists of empty structs);
//   - trailing bytes after the message: the input must be exactly one message;
//   - an enum value or union alternative this build does not know (sent by a newer peer): the
//     codec never maps it to a default, the message is refused;
//   - a Text field over max_text_bytes, a list over max_list_elements, recipients / wraps /
//     consent recipient agencies over max_recipients;
//   - Data of the wrong size: event ids 16 bytes (Header.eventId always; inReplyTo and
//     PublishAck.eventId when non-empty), digests 32 bytes and the envelope signature 64 bytes when
//     non-empty, registry keys 32 bytes, the SignedRegistry signature 64 bytes or empty (an
//     edited registry awaiting signature, see docs/registry.md; crypto's VerifySignedRegistry
//     refuses it as "registry_unsigned"), the SignedRegistry's registry non-empty.
// Decoding is structural only: whether a header makes sense is ValidateHeader's job.
// Multi-segment messages are accepted on input (Cap'n Proto allows them); Encode never writes one.
//
// Encoding writes single-segment, unpacked Cap'n Proto messages (the flat-array wire form) and is
// deterministic: equal values encode to equal bytes. Empty Text/Data fields are left null. Encoding
// is total for every value that Decode can return; a value Cap'n Proto cannot represent at all (a
// blob or list of 2^29 elements or more) aborts with a CHECK failure.
// Thread-safe: all functions are pure.
#ifndef RELAIS_SCHEMA_CODEC_H_
#define RELAIS_SCHEMA_CODEC_H_

#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"
#include "schema/envelope.h"
#include "schema/events.h"
#include "schema/registry.h"
#include "schema/wire.h"

namespace relais::schema {

struct DecodeLimits {
  uint64_t max_bytes = 4u << 20;  // whole message
  // Cap'n Proto's traversal limit; the decoder further caps it at the input's size in words.
  uint64_t traversal_limit_words = 1u << 20;
  int nesting_limit = 16;
  uint32_t max_recipients = 256;        // header recipients and envelope wraps
  uint32_t max_text_bytes = 64u << 10;  // any single Text field
  // Any other list (identifiers, languages, purposes, agencies, keys, admin reply lines, ...).
  // Bounds the memory a small message can claim: Cap'n Proto lists of empty structs cost one
  // traversal word per element but a full C++ struct each once decoded.
  uint32_t max_list_elements = 65536;
};

base::Bytes EncodeHeader(const Header& header);
base::Result<Header> DecodeHeader(base::ByteView bytes, const DecodeLimits& limits = {});

base::Bytes EncodeEnvelope(const Envelope& envelope);
base::Result<Envelope> DecodeEnvelope(base::ByteView bytes, const DecodeLimits& limits = {});

base::Bytes EncodeEventBody(const EventBody& body);
base::Result<EventBody> DecodeEventBody(base::ByteView bytes, const DecodeLimits& limits = {});

base::Bytes EncodeRegistry(const Registry& registry);
base::Result<Registry> DecodeRegistry(base::ByteView bytes, const DecodeLimits& limits = {});
base::Bytes EncodeSignedRegistry(const SignedRegistry& signed_registry);
base::Result<SignedRegistry> DecodeSignedRegistry(base::ByteView bytes,
                                                  const DecodeLimits& limits = {});

base::Bytes EncodeFrame(const Frame& frame);
base::Result<Frame> DecodeFrame(base::ByteView bytes, const DecodeLimits& limits = {});

// Structural checks beyond decoding that every receiver (and every emitter, before signing)
// applies to a header. Returns kInvalidInput "malformed_header" with a message "Header: <field>:
// <why>" naming the first failing field, checked in this order:
//   version        == kHeaderVersion
//   event_id       16 bytes
//   kind           known and not kUnknown
//   referral_kind  known; set iff kind is referral
//   case_ref       non-empty; at most 128 bytes of printable UTF-8 (no control characters)
//   emitter        a valid agency id (IsValidAgencyId)
//   emitter_key_id non-empty; at most 128 bytes of printable UTF-8
//   actor, consent_ref  at most 128 bytes of printable UTF-8 (may be empty)
//   recipients     valid agency ids without duplicates; non-empty except for consent_granted,
//                  consent_withdrawn and purge_receipt (which go to the broker only).
//                  Broker-emitted kinds (reminder, escalation, rupture, offer_taken) follow the
//                  same rule.
//   legal_basis, tier, purpose  known values
//   emitted_at     > 0
//   due_at         >= 0 (0 = none); > 0 for deadline_changed
//   in_reply_to    empty or 16 bytes
//   decline_reason known; kNone unless kind is declined
//   consent        present iff kind is consent_granted; then consent_id non-empty (same text
//                  rules as case_ref), method/tier/legal_basis/purposes known, recipient_agencies
//                  valid agency ids, recipient_kinds agency kind names (ParseAgencyKind),
//                  valid_until == 0 (open) or >= valid_from
base::Status ValidateHeader(const Header& header);

}  // namespace relais::schema

#endif  // RELAIS_SCHEMA_CODEC_H_
