// Internal to broker/jetstream: what the stream log and its cursors share. Includes nats.h.
#ifndef RELAIS_BROKER_JETSTREAM_JETSTREAM_INTERNAL_H_
#define RELAIS_BROKER_JETSTREAM_JETSTREAM_INTERNAL_H_

#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "broker/jetstream/jetstream_stream_log.h"
#include "broker/stream_log.h"

namespace relais::jetstream::internal {

// One connection and its JetStream context (both thread-safe in cnats).
struct Conn {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  JetStreamOptions options;
  ~Conn();
};

// No responders, JetStream not (yet) available, timeouts, disconnections: retry with the same id.
bool Transient(natsStatus s, jsErrCode jerr);
base::Error Unavailable(const std::string& what, natsStatus s, jsErrCode jerr);
// Sleeps a little before the next retry; false once `deadline` has passed.
bool Backoff(std::chrono::steady_clock::time_point deadline);

// A stored or delivered message as a LogRecord (Nats-* headers removed, the rest sorted by name).
broker::LogRecord ToRecord(natsMsg* msg, uint64_t seq, int64_t time_ns);

// Connects to options.urls (retrying until options.deadline) and opens a JetStream context.
base::Result<std::unique_ptr<Conn>> Connect(const JetStreamOptions& options);

base::Result<std::unique_ptr<broker::LogCursor>> OpenCursor(Conn* conn,
                                                            const broker::CursorOptions& options);

// Sequential StreamLog::Read (jetstream_reader.cc): ephemeral pull consumers (AckNone, from a start
// seq, no filter, in memory, R1, deleted after 60 s without pulls) kept open between calls, each
// positioned at the seq its last Read stopped before, so the next Read from there costs one pull
// request per 256 records instead of one request per record. A Read from another position uses a
// fresh consumer (or, when `create` is false, nothing). Up to 4 idle readers are kept (one per
// reading pattern: the ingester, the audit writer, ...); a reader is used by one Read at a time.
// Thread-safe.
class SequentialReaders {
 public:
  explicit SequentialReaders(Conn* conn);
  ~SequentialReaders();
  SequentialReaders(const SequentialReaders&) = delete;
  SequentialReaders& operator=(const SequentialReaders&) = delete;

  // Records from..until (all stored: until <= the stream's last seq), in seq order, contiguous
  // from `from`; fewer (even none) when a consumer cannot be created or fails twice (election,
  // reconnection, a hole): the caller reads the rest per message.
  std::vector<broker::LogRecord> Read(uint64_t from, uint64_t until, bool create);

 private:
  struct Reader;
  std::unique_ptr<Reader> Take(uint64_t from);
  void Give(std::unique_ptr<Reader> reader);
  std::unique_ptr<Reader> Create(uint64_t from);
  void Close(std::unique_ptr<Reader> reader);
  void Pull(Reader& reader, uint64_t until, std::vector<broker::LogRecord>* out);

  Conn* conn_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Reader>> idle_;  // under mu_
};

// The pipelined first pass of StreamLog::AppendBatch (jetstream_batch.cc): a JetStream context
// of its own on the connection, whose PubAck handler collects the acks of the batch in flight.
// One batch at a time (the caller serialises them).
class BatchPublisher {
 public:
  static base::Result<std::unique_ptr<BatchPublisher>> Create(Conn* conn);
  ~BatchPublisher();
  BatchPublisher(const BatchPublisher&) = delete;
  BatchPublisher& operator=(const BatchPublisher&) = delete;

  // Publishes msgs[from..] with js_PublishMsgAsync (Nats-Msg-Id = id, MaxWait =
  // request_timeout; every message after msgs[from] with Nats-Expected-Last-Msg-Id = the previous
  // message's id) and waits for their PubAcks; stops publishing after the first failure. Fills
  // results[i] for each acknowledged message (results has msgs.size() slots).
  void Publish(const std::vector<broker::LogMessage>& msgs, size_t from,
               std::vector<std::optional<broker::AppendResult>>& results);

 private:
  explicit BatchPublisher(Conn* conn) : conn_(conn) {}
  static void OnAck(jsCtx* js, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);

  Conn* conn_;
  jsCtx* js_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  // The batch in flight (under mu_); acks arriving when no batch is active are dropped.
  bool active_ = false;
  std::map<std::string, std::deque<size_t>> pending_;  // id -> indexes awaiting their ack
  std::vector<std::optional<broker::AppendResult>>* results_ = nullptr;
  size_t responded_ = 0;
  bool failed_ = false;
};

}  // namespace relais::jetstream::internal

#endif  // RELAIS_BROKER_JETSTREAM_JETSTREAM_INTERNAL_H_
