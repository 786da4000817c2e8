// Encoding and decoding of every relais message. The only place Cap'n Proto is used.
//
// Decoding treats its input as hostile: it applies explicit limits (DecodeLimits), copies what it
// needs into the plain structs of envelope.h / events.h / registry.h / wire.h, keeps no reader over
// the input, and turns every failure (truncated, misaligned, too deep, too large, wrong sizes,
// unknown enum values, out-of-range fields) into a kInvalidInput Error with code "malformed" and a
// message naming the message type and the field. It never throws and never crashes.
//
// Encoding writes single-segment, unpacked Cap'n Proto messages (the flat-array wire form).
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
  uint64_t traversal_limit_words = 1u << 20;
  int nesting_limit = 16;
  uint32_t max_recipients = 256;        // header recipients and envelope wraps
  uint32_t max_text_bytes = 64u << 10;  // any single Text field
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

// Structural checks beyond decoding that every receiver applies to a header: version known,
// event id 16 bytes, kind known, emitter a valid agency id, recipients non-empty valid ids without
// duplicates (except broker-emitted kinds may carry any), referral_kind set iff kind is referral.
// Returns kInvalidInput "malformed_header" naming the field.
base::Status ValidateHeader(const Header& header);

}  // namespace relais::schema

#endif  // RELAIS_SCHEMA_CODEC_H_
