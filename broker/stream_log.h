// StreamLog: an ordered, durable, de-duplicating log of messages with durable named cursors.
// "Append durably, idempotently, in order" and "durable named cursor with ack/nak/replay", with
// two engines behind the same interface:
//   - the embedded one on a SQLite file (broker/journal/sqlite_stream_log.h);
//   - NATS JetStream, one file stream, R1 or R3 (broker/jetstream/jetstream_stream_log.h).
// The shared conformance suite (tests/conformance/) pins down the behaviour described here; see
// docs/scale-out.md. No engine header is included here.
//
// PRIVACY: subjects and headers are metadata seen by the engine's operators, monitoring and
// advisories. They carry only ids, schema versions, agency names, key ids and hashes: never a
// name, date of birth, address, case data or any other personal data, and never key material.
// Personal data travels only inside `data`, sealed end to end.
//
// Errors (base::Error kind / code), the same in both engines:
//   kInvalidInput "bad_message"       empty id or subject, a subject token that is empty or holds
//                                      a space, `*` or `>`; a header name that is empty, holds
//                                      ':' or starts with "Nats-" (reserved); a header value with
//                                      CR or LF
//   kInvalidInput "bad_cursor"        empty durable name, a name with '.', '*', '>' or a space,
//                                      bad filter, ack_wait <= 0, max_deliver < 1, or a durable
//                                      name reopened with another filter
//   kInvalidInput "wrong_last_seq"    Append(msg, expected_last_seq): the stream's last seq
//                                      differs; nothing was appended. Re-read, recompute, retry
//                                      with the new expectation (not as is)
//   kNotFound     "not_delivered"     Ack/Nak of a seq this cursor object has not delivered, or
//                                      already acked
//   kRetryLater   "stream_unavailable" the engine could not be reached or did not confirm before
//                                      the deadline (leader election, network, disk full): the
//                                      outcome of an Append is unknown, retry with the same id
//   kFailStop     "stream_failed"     an I/O error after which the log must not be used again
//   kCorruption   "stream_corrupt"    stored data unreadable
#ifndef RELAIS_BROKER_STREAM_LOG_H_
#define RELAIS_BROKER_STREAM_LOG_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"

namespace relais::broker {

struct LogMessage {
  // De-duplication key (the event id): 1..128 printable ASCII characters without spaces.
  std::string id;
  // Dot-separated tokens, e.g. "relais.dep.t75.referral" (no personal data, see above).
  std::string subject;
  // Metadata only (see above). Names must not start with "Nats-" (reserved for the engine).
  // Records return them sorted by name (JetStream does not keep their order).
  std::vector<std::pair<std::string, std::string>> headers;
  base::Bytes data;
};

struct LogRecord {
  uint64_t seq = 0;  // 1, 2, 3, ... in append order; never reused
  LogMessage msg;
  base::TimeMs stored_at = 0;  // the engine's clock when the message was stored
};

struct AppendResult {
  uint64_t seq = 0;
  bool duplicate = false;  // `id` was already stored: `seq` is the original's, nothing appended
};

struct CursorOptions {
  // The durable name: a cursor reopened with the same name continues where the previous one
  // stopped (acks and delivery counts are stored in the engine). [A-Za-z0-9_-], 1..64 chars.
  std::string durable;
  // NATS subject filter: tokens separated by '.', `*` matches exactly one token, `>` (last token
  // only) matches one or more. Empty = every message.
  std::string filter;
  // A delivered message neither acked nor naked within ack_wait is delivered again.
  std::chrono::milliseconds ack_wait{30'000};
  // After max_deliver deliveries without an ack, the message is no longer delivered to this
  // cursor (see CursorDelivery::last_attempt and LogCursor::Exhausted).
  uint32_t max_deliver = 5;
};

struct CursorDelivery {
  LogRecord record;
  uint32_t delivery_count = 1;  // 1 on the first delivery, 2 on the first redelivery, ...
  // delivery_count == max_deliver: if this delivery is not acked, the message is never delivered
  // again. The broker dead-letters it at this point (and then acks it).
  bool last_attempt = false;
};

// One consumer of a durable cursor. Not thread-safe: one thread at a time. Several LogCursor
// objects may be open on the same durable name (in one or several processes): each message is
// then delivered to one of them at a time.
class LogCursor {
 public:
  virtual ~LogCursor() = default;

  // Up to `max` messages: redeliveries (ack_wait expired, or naked) first, then first deliveries
  // of messages matching the filter after the cursor's position, in seq order. A message may be
  // redelivered while its previous delivery is still being processed (ack_wait too short).
  // Waits up to `wait` when there is none; an empty vector is not an error.
  virtual base::Result<std::vector<CursorDelivery>> Fetch(size_t max,
                                                          std::chrono::milliseconds wait) = 0;
  // Durably records that `seq` was processed: it is never delivered to this durable name again.
  // `seq` must have been returned by this object's Fetch (its latest delivery).
  virtual base::Status Ack(uint64_t seq) = 0;
  // Asks for redelivery now (counts as a delivery attempt).
  virtual base::Status Nak(uint64_t seq) = 0;
  // Seqs that reached max_deliver without an ack and will not be delivered again, as observed
  // by this object since it was opened (SQLite: found by Fetch; JetStream: the server's
  // MAX_DELIVERIES advisory, best effort). CursorDelivery::last_attempt is the reliable signal.
  virtual std::vector<uint64_t> Exhausted() = 0;
};

class StreamLog {
 public:
  virtual ~StreamLog() = default;

  // Appends `msg` and returns once the engine reports it durable (SQLite: committed with
  // synchronous=FULL; JetStream: PubAck from the stream, i.e. stored by a majority of replicas;
  // see docs/scale-out.md for the server's fsync policy). Idempotent by msg.id within the
  // engine's de-duplication window (SQLite: forever; JetStream: StreamLogOptions::duplicates):
  // a duplicate returns the original seq with duplicate = true and appends nothing (its subject,
  // headers and data are ignored). Thread-safe.
  virtual base::Result<AppendResult> Append(const LogMessage& msg) = 0;
  // The same, only if the stream's last seq is `expected_last_seq` (0 = empty stream); else
  // kInvalidInput "wrong_last_seq" and nothing is appended. A duplicate id within the window
  // returns the original (duplicate = true) whatever the expectation. For a single writer that
  // extends a chain over the stream's order (the audit chain).
  virtual base::Result<AppendResult> Append(const LogMessage& msg, uint64_t expected_last_seq) = 0;
  // Appends `msgs` in order, each idempotent by id exactly like Append(msg); returns one result
  // per message, in message order (a duplicate, also of an earlier message of the same batch,
  // reports the original seq with duplicate = true). Every message is validated first: one bad
  // message refuses the whole batch and appends nothing. On kRetryLater some messages may be
  // stored: resend the whole batch with the same ids (those stored come back as duplicates).
  // Order: strict. The batch's new messages get increasing seqs in message order, also across
  // failovers and resends; another writer's messages may fall between them (JetStream).
  //   - SQLite: one transaction; new messages get consecutive seqs.
  //   - JetStream: pipelined, chained passes. A pass publishes from the first message not yet
  //     stored with js_PublishMsgAsync (Nats-Msg-Id = id, MaxWait = the request timeout, so a
  //     lost ack times out): the first message unconditionally, each next one with
  //     Nats-Expected-Last-Msg-Id = the previous message's id, so the stream stores it only right
  //     after its predecessor. A failed publish (election, lost ack, no quorum) or another
  //     writer's message in between makes every later message of the pass fail: the next pass
  //     resumes from there (a first message that fails is retried alone until the deadline,
  //     then kRetryLater). A message stored whose ack was lost is answered as a duplicate by the
  //     next pass. After a duplicate the chain cannot hold (the stream's last id is another
  //     message's), so duplicates are resent one at a time: a fully duplicate batch costs one
  //     round trip per message. Without failures or other writers: one pass.
  // Thread-safe (JetStream: batches are serialised against each other).
  virtual base::Result<std::vector<AppendResult>> AppendBatch(const std::vector<LogMessage>& msgs);
  // Up to `limit` records with seq >= from_seq, in seq order (replay). Empty past the end.
  virtual base::Result<std::vector<LogRecord>> Read(uint64_t from_seq, size_t limit) = 0;
  // The seq of the last appended message, 0 when empty.
  virtual base::Result<uint64_t> LastSeq() = 0;
  // Opens (creating on first use) the durable cursor `options.durable`. The LogCursor must not
  // outlive this StreamLog.
  virtual base::Result<std::unique_ptr<LogCursor>> OpenCursor(const CursorOptions& options) = 0;
};

// Validation and subject matching shared by the engines (stream_log.cc).
base::Status ValidateMessage(const LogMessage& msg);
base::Status ValidateCursorOptions(const CursorOptions& options);
// NATS semantics: `*` matches one token, a final `>` one or more; empty filter matches all.
bool SubjectMatches(std::string_view filter, std::string_view subject);

}  // namespace relais::broker

#endif  // RELAIS_BROKER_STREAM_LOG_H_
