// Internal to broker/jetstream: what the stream log and its cursors share. Includes nats.h.
#ifndef RELAIS_BROKER_JETSTREAM_JETSTREAM_INTERNAL_H_
#define RELAIS_BROKER_JETSTREAM_JETSTREAM_INTERNAL_H_

#include <nats/nats.h>

#include <chrono>
#include <memory>
#include <string>

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

}  // namespace relais::jetstream::internal

#endif  // RELAIS_BROKER_JETSTREAM_JETSTREAM_INTERNAL_H_
