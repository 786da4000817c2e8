// StreamForwarder: replicates relaisd's local journal to a StreamLog (JetStream R1/R3), in journal
// order, at least once and de-duplicated by event id (docs/scale-out.md section 9).
//
// The local journal is the outbox: a publish is acknowledged to the adapter once it is committed
// locally (as in the embedded mode); this thread then reads up to 256 entries after its
// high-water mark and appends them with one StreamLog::AppendBatch (pipelined, id = hex event id),
// resending the whole batch with the same ids and a growing back-off while the stream answers
// kRetryLater (election, failover, no quorum). A duplicate answer counts as forwarded. Stream
// order follows journal order (AppendBatch keeps message order, stream_log.h). A
// non-retryable error (kFailStop, bad message) stops the forwarding (metric
// relais_stream_forward_failed = 1; the broker keeps running embedded).
//
// High-water mark: not stored locally. At start it is recovered from the stream: the
// Relais-Origin-Seq header of the last message published by this instance (Relais-Origin =
// StreamNaming::instance), found by reading the stream backwards from its end (lowered to just
// before any gap among the last 256 origin seqs: defensive, AppendBatch keeps order). Everything
// after it is sent again; what the stream already has is answered as a duplicate (de-duplication
// window, JetStreamOptions::duplicates, must exceed the longest outage of a relaisd).
//
// Sealed bytes are sent encrypted under the case's key (case_keys.h, stream_payload.h). Shred()
// destroys that key after the entries being forwarded, so no stream copy of an erased case stays
// readable; entries of the case forwarded later go without their sealed bytes ("withheld").
// Instance names must be unique per deployment.
#ifndef RELAIS_BROKER_STREAM_FORWARDER_H_
#define RELAIS_BROKER_STREAM_FORWARDER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "broker/case_keys.h"
#include "broker/journal/reader.h"
#include "broker/metrics.h"
#include "broker/stream_log.h"
#include "broker/stream_payload.h"

namespace relais::broker {

struct ForwarderOptions {
  std::filesystem::path journal;  // read through its own read-only connection
  StreamNaming naming;
  // Wakes this often even without Notify() (Notify is called on every local commit).
  std::chrono::milliseconds poll{50};
  size_t batch = 256;  // entries read from the journal and appended at once (256 at most)
  std::chrono::milliseconds min_backoff{20};
  std::chrono::milliseconds max_backoff{1000};
};

class StreamForwarder {
 public:
  // Opens the journal reader, recovers the high-water mark from `log` and starts the thread.
  // `log`, `keys` and `metrics` (may be null) must outlive the forwarder.
  static base::Result<std::unique_ptr<StreamForwarder>> Start(const ForwarderOptions& options,
                                                              StreamLog& log, CaseKeyStore& keys,
                                                              crypto::AtRestKey secret,
                                                              BrokerMetrics* metrics);
  ~StreamForwarder();  // stops and joins (unforwarded entries are sent by the next start)
  StreamForwarder(const StreamForwarder&) = delete;
  StreamForwarder& operator=(const StreamForwarder&) = delete;

  // A local commit happened: forward soon. Cheap, any thread.
  void Notify();
  // Destroys the stream key of `case_ref` once the entries being forwarded are sent; `done` runs
  // on the forwarder thread (kRetryLater if stopped first). Call it after the local erasure.
  void Shred(const std::string& case_ref, std::function<void(base::Status)> done);

  // `agency` acknowledged local entry `seq`: tell the other instances (an "ack" record, sent once
  // the entry itself is in the stream). Lost if relaisd stops before sending it: the other
  // instances may then deliver that event once more (receivers de-duplicate by event id).
  void QueueAck(const std::string& agency, uint64_t seq);

  uint64_t forwarded() const { return hw_.load(); }  // highest journal seq the stream holds
  bool failed() const { return failed_.load(); }
  // Blocks until forwarded() >= seq, failure or timeout; true when reached (tests, shutdown).
  bool WaitForwarded(uint64_t seq, std::chrono::milliseconds timeout);

 private:
  StreamForwarder(const ForwarderOptions& options, StreamLog& log, CaseKeyStore& keys,
                  crypto::AtRestKey secret, BrokerMetrics* metrics,
                  std::unique_ptr<journal::JournalReader> reader);
  base::Status RecoverHighWater();
  void Run();
  void RunShreds();
  // Forwards up to one batch; false when there was nothing to forward.
  bool ForwardBatch();
  // Appends `msgs` with one AppendBatch, retried while kRetryLater; nullopt when stopping or
  // failed (Fail was called for a permanent error).
  std::optional<std::vector<AppendResult>> AppendAll(const std::vector<LogMessage>& msgs);
  // Sends queued acks of forwarded entries; false when there was none.
  bool ForwardAcks();
  // Retries `op` while it answers kRetryLater; false when stopping. Other errors are returned.
  template <typename T, typename Op>
  base::Result<T> Retry(Op op);
  base::Result<const crypto::AtRestKey*> KeyFor(const std::string& case_ref);
  void PrefetchKeys(const std::vector<journal::StoredEntry>& entries);
  void Fail(const base::Error& error);

  const ForwarderOptions options_;
  StreamLog& log_;
  CaseKeyStore& keys_;
  const crypto::AtRestKey secret_;
  BrokerMetrics* metrics_;
  std::unique_ptr<journal::JournalReader> reader_;  // forwarder thread only
  // Case keys by name; nullopt = destroyed. Forwarder thread only.
  std::map<std::string, std::optional<crypto::AtRestKey>> key_cache_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool wake_ = false;
  bool stop_ = false;
  std::deque<std::pair<std::string, std::function<void(base::Status)>>> shreds_;
  std::deque<std::pair<std::string, uint64_t>> acks_;  // agency, local seq
  std::atomic<uint64_t> hw_{0};
  std::atomic<bool> failed_{false};
  std::thread thread_;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_STREAM_FORWARDER_H_
