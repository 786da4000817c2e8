// The bytes relaisd stores in the stream for one journal entry (LogMessage::data), and the
// LogMessage around them (docs/scale-out.md section 9).
//
// data = "RSP1" || u32 big-endian length || EncodeEnvelope(envelope without body and wraps)
//        || sealed
// where sealed = SealAtRest(case key, EncodeEnvelope(full envelope), event id) when the entry still
// had its sealed bytes and its case key existed, and empty otherwise (erased locally, or key
// destroyed: the stream never gets readable sealed bytes of a withdrawn case). The signed header,
// signature and digests stay readable (like the local journal after an erasure); the sealed body
// and the wraps are readable only while the case key exists.
#ifndef RELAIS_BROKER_STREAM_PAYLOAD_H_
#define RELAIS_BROKER_STREAM_PAYLOAD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "broker/case_keys.h"
#include "broker/ingest_source.h"
#include "broker/journal/entry.h"
#include "broker/stream_log.h"
#include "schema/envelope.h"

namespace relais::broker {

// Header names of a forwarded entry (metadata only: no personal data).
inline constexpr char kHeaderSchema[] = "Relais-Schema";
inline constexpr char kHeaderEmitter[] = "Relais-Emitter";
inline constexpr char kHeaderOrigin[] = "Relais-Origin";
inline constexpr char kHeaderOriginSeq[] = "Relais-Origin-Seq";
inline constexpr char kHeaderEntryHash[] = "Relais-Entry-Hash";
// "case-key": sealed part present; "none": the entry had no sealed bytes (erased locally, or
// none); "withheld": its case key was destroyed, the sealed bytes were not sent.
inline constexpr char kHeaderSealed[] = "Relais-Sealed";

// A delivery acknowledgement record (JetStream mode, several instances): "ack".
inline constexpr char kHeaderRecord[] = "Relais-Record";
inline constexpr char kHeaderAgency[] = "Relais-Agency";
inline constexpr char kHeaderEvent[] = "Relais-Event";

// The value of header `name`, if present.
std::optional<std::string> FindHeader(const LogMessage& m, std::string_view name);

struct StreamNaming {
  std::string deployment;  // subject token, e.g. "idf"
  std::string territory;   // subject token, e.g. "t75"
  std::string instance;    // this relaisd, e.g. "relaisd-1"
};

// The message for `entry`: id = hex event id, subject relais.<deployment>.<territory>.<kind>.
// `key` is the case key; null when it was destroyed (the sealed bytes are then left out).
base::Result<LogMessage> EntryToMessage(const journal::StoredEntry& entry,
                                        const StreamNaming& naming, const crypto::AtRestKey* key);

struct StreamPayload {
  schema::Envelope envelope;  // body and wraps empty unless opened
  bool had_sealed = false;    // the entry carried sealed bytes when it was forwarded
  bool opened = false;        // body and wraps were decrypted
};

// A delivery acknowledgement replicated to the other instances: `agency` holds the event
// `event_id`. id = "ack-" + hex event id + "-" + agency (idempotent), subject
// relais.<deployment>.<territory>.delivery_acked, headers Relais-Record = "ack", Relais-Agency,
// Relais-Event (hex), Relais-Origin; no data. kInvalidInput "bad_message" for an agency id that
// cannot be part of a message id.
base::Result<LogMessage> AckToMessage(const std::string& agency, base::ByteView event_id,
                                      const StreamNaming& naming);

// The acknowledgement carried by `m`; nullopt when `m` is not an acknowledgement record.
// kCorruption "bad_stream_payload" for an ack record missing its agency or event.
base::Result<std::optional<StreamAck>> DecodeAckMessage(const LogMessage& m);

// Parses `data`; opens the sealed part with `key` when given. kCorruption "bad_stream_payload";
// kCorruption "at_rest_auth_failed" for a wrong key.
base::Result<StreamPayload> DecodeStreamPayload(base::ByteView data, const crypto::AtRestKey* key);

}  // namespace relais::broker

#endif  // RELAIS_BROKER_STREAM_PAYLOAD_H_
