// StreamAuditWriter: writes the audit chain over the event stream's order to the audit stream
// (JetStream mode, docs/scale-out.md section 11; record format in stream_audit_record.h).
//
// Audit message i covers event seq i, and its content is a pure function of the event stream, so
// every relaisd runs a writer and the audit stream's fence elects one writer per message: audit
// message i is appended with Append(msg, expected_last_seq = i - 1). When another writer got
// there first (wrong_last_seq, or a duplicate id), the stored message is read back and compared
// byte for byte with this writer's: equal, the writer moves on; different, the chain has forked
// (a writer with another view of the event stream, or a forged audit message): the writer stops
// (kCorruption "audit_fork", log `stream_audit_failed`, metric relais_stream_audit_failed = 1).
//
// Batching: each round reads up to `batch` events after the covered seq; the first audit
// message is appended with the expected-last-seq fence, the rest with AppendBatch (which keeps
// order: each one only right after its predecessor, stream_log.h), well within the audit
// stream's de-duplication window, so a racing writer's copies are answered as duplicates (then
// read back and compared). kRetryLater answers are retried with a growing back-off.
//
// At start (on its thread, retrying while the engine is unavailable) the writer takes the audit
// stream's last record as its position: its event hash is checked against the event stream, its
// chain hash is taken as is (the full check of the chain is `relais audit verify`).
// Threads: Start() runs the writer on its own thread; covered()/failed() from any thread.
#ifndef RELAIS_BROKER_STREAM_AUDIT_H_
#define RELAIS_BROKER_STREAM_AUDIT_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "broker/metrics.h"
#include "broker/stream_audit_record.h"
#include "broker/stream_log.h"

namespace relais::broker {

struct AuditWriterOptions {
  std::string subject;                  // of the audit messages, e.g. "relais-audit.idf"
  std::string instance;                 // for logs only
  std::chrono::milliseconds poll{100};  // the event stream is polled this often when idle
  size_t batch = 256;
  std::chrono::milliseconds min_backoff{20};
  std::chrono::milliseconds max_backoff{1000};
};

class StreamAuditWriter {
 public:
  // Starts the thread (which first recovers the position from `audit`). `events`, `audit` and
  // `metrics` (may be null) must outlive the writer. kInvalidInput "bad_audit_options". Later
  // errors are reported by failed()/failure(): kCorruption "audit_fork" (the audit stream holds
  // a message this writer would not have written, or its last record does not match the event
  // stream), or a non-retryable engine error. A seq the engine does not return (a hole, or a
  // stale read from a replica that just restarted) is retried with a warning
  // (`stream_audit_unreadable`), never a fork.
  static base::Result<std::unique_ptr<StreamAuditWriter>> Start(const AuditWriterOptions& options,
                                                                StreamLog& events, StreamLog& audit,
                                                                BrokerMetrics* metrics);
  ~StreamAuditWriter();  // stops and joins
  StreamAuditWriter(const StreamAuditWriter&) = delete;
  StreamAuditWriter& operator=(const StreamAuditWriter&) = delete;

  void Notify();  // new events may be in the stream: look now. Any thread.

  uint64_t covered() const { return covered_.load(); }  // highest event seq the audit covers
  uint64_t written() const { return written_.load(); }  // audit messages this writer appended
  bool failed() const { return failed_.load(); }
  std::optional<base::Error> failure() const;
  // Blocks until covered() >= seq, failure or timeout; true when reached (tests, shutdown).
  bool WaitCovered(uint64_t seq, std::chrono::milliseconds timeout);

 private:
  StreamAuditWriter(const AuditWriterOptions& options, StreamLog& events, StreamLog& audit,
                    BrokerMetrics* metrics);
  base::Status Recover();
  void Run();
  // Covers up to one batch; true when a full batch was covered (more may follow).
  base::Result<bool> CoverBatch();
  // Another writer stored audit seq `seq`: its bytes must be `mine`.
  base::Status CheckStored(uint64_t seq, const LogMessage& mine);
  template <typename T, typename Op>
  base::Result<T> Retry(Op op);
  void Fail(const base::Error& error);
  base::Error Unreadable(const std::string& what);
  void Advance(uint64_t seq, const crypto::Digest& chain);

  const AuditWriterOptions options_;
  StreamLog& events_;
  StreamLog& audit_;
  BrokerMetrics* metrics_;
  crypto::Digest chain_{};       // chainHash(covered_); writer thread only after Start
  std::string last_unreadable_;  // writer thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool stop_ = false;
  std::optional<base::Error> failure_;
  std::atomic<uint64_t> covered_{0};
  std::atomic<uint64_t> written_{0};
  std::atomic<bool> failed_{false};
  std::thread thread_;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_STREAM_AUDIT_H_
