// JSON forms of relais headers and event bodies, and the publish input document of
// `relais publish --from FILE.json` (docs/adapters/json-referral.md).
//
// Field names are the snake_case forms of the schema's names; enums use their snake_case names
// (schema/envelope.h); times are ISO 8601 text (output: UTC with milliseconds, "...Z"; input: any
// form base::ParseIsoTime accepts); event ids are canonical UUID text; a time of 0 and an empty id
// are written as null. Reading is strict: unknown fields, wrong types, bad dates and unknown enum
// names are errors. Reading accepts null for any field, meaning "absent" (the default).
//
// Errors (all kInvalidInput; the message names the JSON path, never the value found, because
// input documents carry personal data):
//   bad_json       syntax error, with line and column; or a duplicate key
//   unknown_field  a field this version does not know (e.g. a typo)
//   missing_field  a required field is absent
//   bad_field      wrong type, out-of-range number, bad date, unknown enum name, rule broken
//
// Thread-safety: every function is pure and safe from any thread.
#ifndef RELAIS_ADAPTERS_SDK_JSON_H_
#define RELAIS_ADAPTERS_SDK_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "schema/envelope.h"
#include "schema/events.h"

namespace relais::sdk {

// One JSON object (compact, one line).
std::string HeaderToJson(const schema::Header& header);
base::Result<schema::Header> HeaderFromJson(std::string_view text);

// An event body as an object tagged with its alternative: {"type": "referral", ...fields}.
// Types: "empty", "referral", "note", "accepted", "handed_over", "picked_up", "consent",
// "broker_notice".
std::string EventBodyToJson(const schema::EventBody& body);
base::Result<schema::EventBody> EventBodyFromJson(std::string_view text);

// What `relais tail` prints for one delivery, on one line:
// {"seq":N,"received_at":"...","attempt":1,"header":{...},"body":{...}}
std::string DeliveryToJsonLine(uint64_t seq, base::TimeMs received_at, uint32_t attempt,
                               const schema::Header& header, const schema::EventBody& body);

// A parsed publish input document: a partial header (no emitter, emitter key id, emission time;
// an event id only if the document gave one) and the body. Complete it with BuildEnvelope.
struct PublishInput {
  schema::Header header;
  schema::EventBody body;
  bool case_ref_generated = false;  // the document had no case_ref: a new random one was drawn
};

// Parses the publish input document (docs/adapters/json-referral.md). Beyond types, it applies
// the document's rules: `kind` is one an agency may emit (not broker-only kinds); referral_kind
// iff kind is referral; decline_reason only (and required) for declined; consent terms only
// (and required) for consent_granted; in_reply_to required for accepted and declined; case_ref
// required except for referral and consent_granted (drawn at random when absent); recipients
// valid agency ids without duplicates, non-empty except for consent_granted, consent_withdrawn
// and purge_receipt (which go to the broker only); the body's shape follows the kind.
base::Result<PublishInput> ParsePublishInput(std::string_view text);

// Which EventBody alternative an event kind carries (index into schema::EventBody):
// referral -> ReferralBody; accepted -> AcceptedBody; handed_over -> HandedOverBody;
// picked_up -> PickedUpBody; consent_granted/consent_withdrawn -> ConsentBody;
// reminder/escalation/rupture/offer_taken -> BrokerNoticeBody; the rest -> NoteBody;
// unknown -> empty.
size_t BodyIndexForKind(schema::EventKind kind);

// `text` as a JSON string literal, quotes included, escaped as JSON requires (valid UTF-8
// expected; invalid bytes are replaced by U+FFFD). For adapters that write their own small JSON
// documents (the inbox's --json output and FHIR export) without including a JSON library.
std::string JsonString(std::string_view text);

// Pretty-prints a JSON document with 2-space indentation; kInvalidInput "bad_json" when `text`
// is not JSON (the message gives the position, never the content).
base::Result<std::string> PrettyJson(std::string_view text);

}  // namespace relais::sdk

#endif  // RELAIS_ADAPTERS_SDK_JSON_H_
