// The replicated StreamLog (broker/stream_log.h) on NATS JetStream (cnats 3.4, nats-server 2.9+):
// one file-storage stream per deployment, R1 or R3, with DenyDelete and DenyPurge, publish
// de-duplication by `Nats-Msg-Id` = LogMessage::id, durable pull consumers with explicit acks.
// The only module (with tests/bench) that includes nats.h.
//
// PRIVACY: subjects, headers, stream and consumer names are visible to the NATS operators, the
// monitoring endpoints and the advisories. They carry only event ids, schema versions, agency
// names, key ids and hashes: NEVER personal data (names, birth dates, addresses, case contents)
// and never key material. Everything personal stays inside the sealed `data`.
//
// Durability: Append returns after the stream's PubAck, i.e. once a majority of the replicas
// stored the message. nats-server 2.9 fsyncs stream files periodically (every 2 min by default),
// not per message: see docs/scale-out.md for the production guidance.
//
// Elections and reconnections: every call retries transient failures (no responders, JetStream
// temporarily unavailable (10076), timeouts, disconnections) with the same message id until
// JetStreamOptions::deadline, then fails with kRetryLater "stream_unavailable".
//
// Engine-specific behaviour (see stream_log.h for the shared contract):
//   - de-duplication holds within `duplicates` only;
//   - Append(msg, 0) ("stream must be empty") is checked by reading the last seq first, not
//     atomically (the 2.9 server ignores an expected last sequence of 0);
//   - LogCursor::Exhausted comes from the server's MAX_DELIVERIES advisories received while the
//     cursor is open (best effort);
//   - an empty CursorOptions::filter means the stream's subjects (it must then have one subject).
//   - Read is bounded by the stream's last seq (stream info, from the stream leader); a Read from
//     where the previous one stopped continues on an ephemeral AckNone pull consumer kept open
//     (jetstream_internal.h SequentialReaders), a long Read from elsewhere starts one, short
//     ones and failures use one js_GetMsg per seq. The records are the same either way.
#ifndef RELAIS_BROKER_JETSTREAM_JETSTREAM_STREAM_LOG_H_
#define RELAIS_BROKER_JETSTREAM_JETSTREAM_STREAM_LOG_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "broker/stream_log.h"

namespace relais::jetstream {

struct JetStreamOptions {
  // Server URLs of the cluster ("nats://127.0.0.1:4222"); the client connects to one and moves to
  // another when it fails.
  std::vector<std::string> urls;
  // The stream, e.g. "RELAIS_PARIS" ([A-Za-z0-9_-]), created on first use with the settings below;
  // an existing stream is used as it is, but must have DenyDelete and DenyPurge.
  std::string stream;
  // The stream's subjects, e.g. {"relais.paris.>"} (see docs/scale-out.md).
  std::vector<std::string> subjects;
  int replicas = 1;  // 1 or 3
  // De-duplication window: longer than the longest time an adapter or outbox may retry an event.
  std::chrono::milliseconds duplicates{std::chrono::minutes(10)};
  // Bound on one call including its retries across elections and reconnections.
  std::chrono::milliseconds deadline{15'000};
  // One request/reply to the server (publish ack, ack confirmation, stream info).
  std::chrono::milliseconds request_timeout{2'000};
  // false: an absent stream is kNotFound "stream_not_found" instead of being created, and
  // `subjects` may be empty (readers such as `relais audit verify`).
  bool create = true;
  // false: every Read fetches one js_GetMsg per seq instead of continuing on an ephemeral consumer
  // (the benchmark's baseline; a fallback for accounts not allowed to create consumers).
  bool consumer_reads = true;
};

// Connects, creates or binds the stream. kRetryLater "stream_unavailable" when no server answers
// before the deadline; kInvalidInput "bad_stream_config" for bad options or an existing stream
// without DenyDelete/DenyPurge; kNotFound "stream_not_found" without `create`.
base::Result<std::unique_ptr<broker::StreamLog>> OpenJetStreamLog(const JetStreamOptions& options);

}  // namespace relais::jetstream

#endif  // RELAIS_BROKER_JETSTREAM_JETSTREAM_STREAM_LOG_H_
