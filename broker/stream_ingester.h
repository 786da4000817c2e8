// StreamIngester: the reading half of relaisd's JetStream mode with several instances
// (docs/scale-out.md section 12). Every instance forwards its own journal to the stream
// (stream_forwarder.h) and reads the stream back, in stream order, for the other instances'
// records:
//   - an event: handed to the broker's I/O thread, which stores it in the local journal (marked
//     with its stream seq, so the forwarder never sends it back), applies it to the case engine
//     and delivers it to the recipients connected here, like an event published here;
//   - a delivery acknowledgement: the broker marks that delivery acked here too, so a receiver
//     that moves to this instance gets only what it had not acknowledged.
// Records of this instance (Relais-Origin = StreamNaming::instance) are skipped.
//
// Flow: one batch (up to `batch` records) at a time; the next batch is read once the broker has
// finished every record of the current one (Done). A record the broker could not store
// (Done(seq, false): disk full, journal failed) is read again after a back-off.
//
// Position: at start, a window of `rewind` records before the highest stream seq already stored
// in the local journal (JournalReader::LastStreamOrigin), so acknowledgements read just before
// a crash are applied again; everything is idempotent (events by id, acks by agency and seq).
//
// The sealed part of an event is opened with its case key (case_keys.h, read-only: Get). A
// destroyed key (the case was withdrawn) leaves the event without body and wraps, as erased.
// An undecodable record is logged and skipped (metric relais_stream_unreadable_total).
#ifndef RELAIS_BROKER_STREAM_INGESTER_H_
#define RELAIS_BROKER_STREAM_INGESTER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "broker/case_keys.h"
#include "broker/ingest_source.h"
#include "broker/journal/reader.h"
#include "broker/metrics.h"
#include "broker/stream_log.h"
#include "broker/stream_payload.h"
#include "broker/wake_queue.h"
#include "schema/envelope.h"

namespace relais::broker {

struct IngesterOptions {
  std::filesystem::path journal;  // read through its own read-only connection
  StreamNaming naming;
  std::chrono::milliseconds poll{50};  // wait between reads when the stream has nothing new
  size_t batch = 256;
  uint64_t rewind = 1024;
  std::chrono::milliseconds min_backoff{20};
  std::chrono::milliseconds max_backoff{1000};
};

class StreamIngester final : public IngestSource {
 public:
  // `log`, `keys` and `metrics` (may be null) must outlive the ingester. The thread starts at
  // once; records wait in records() until the broker drains them.
  static base::Result<std::unique_ptr<StreamIngester>> Start(const IngesterOptions& options,
                                                             StreamLog& log, CaseKeyStore& keys,
                                                             crypto::AtRestKey secret,
                                                             BrokerMetrics* metrics);
  ~StreamIngester() override;  // stops and joins
  StreamIngester(const StreamIngester&) = delete;
  StreamIngester& operator=(const StreamIngester&) = delete;

  // Drained by the broker's I/O thread.
  WakeQueue<IngestedRecord>& records() override { return records_; }
  // The broker finished `stream_seq`: stored (or nothing to store) when ok, else read it again
  // later. Any thread.
  void Done(uint64_t stream_seq, bool ok) override;

  // Highest stream seq fully processed (records of this instance included).
  uint64_t ingested() const { return ingested_.load(); }
  // Blocks until ingested() >= stream_seq or timeout; true when reached (tests).
  bool WaitIngested(uint64_t stream_seq, std::chrono::milliseconds timeout);

 private:
  StreamIngester(const IngesterOptions& options, StreamLog& log, CaseKeyStore& keys,
                 crypto::AtRestKey secret, BrokerMetrics* metrics);
  void Run();
  // Reads and hands over one batch; false when there was nothing new (or stopping).
  bool IngestBatch();
  // The record to hand to the broker, nullopt when there is nothing to do with it.
  std::optional<IngestedRecord> Decode(const LogRecord& record);
  const crypto::AtRestKey* KeyFor(const std::string& case_ref, bool* retry);
  void PrefetchKeys(const std::vector<LogRecord>& records);
  // Sleeps up to `d`; false when stopping.
  bool Sleep(std::chrono::milliseconds d);

  const IngesterOptions options_;
  StreamLog& log_;
  CaseKeyStore& keys_;
  const crypto::AtRestKey secret_;
  BrokerMetrics* metrics_;
  WakeQueue<IngestedRecord> records_;
  uint64_t next_ = 1;  // ingester thread only
  // Case keys by name; nullopt = destroyed or never created. Ingester thread only.
  std::map<std::string, std::optional<crypto::AtRestKey>> key_cache_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  size_t outstanding_ = 0;              // records handed over and not yet Done
  uint64_t first_failed_ = UINT64_MAX;  // lowest stream seq Done(.., false) in this batch
  std::atomic<uint64_t> ingested_{0};
  std::thread thread_;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_STREAM_INGESTER_H_
