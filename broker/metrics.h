// Counters and latency histograms of the broker, rendered in the Prometheus text format.
// Updated by the I/O thread, read by the metrics HTTP thread: every field is atomic.
#ifndef RELAIS_BROKER_METRICS_H_
#define RELAIS_BROKER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace relais::broker {

// Latency histogram with fixed bucket bounds in microseconds.
class LatencyHistogram {
 public:
  static constexpr std::array<int64_t, 12> kBoundsUs = {
      100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
  void Observe(int64_t us);
  // Appends `name_bucket{le=..}`, `name_sum`, `name_count` lines (in seconds).
  void Render(const std::string& name, const std::string& help, std::string& out) const;
  // The samples only (`name_bucket{label,le=..}`, ...), under HELP/TYPE lines written once by the
  // caller for several histograms of one name; `label` is e.g. `stage="verify"`.
  void RenderSamples(const std::string& name, const std::string& label, std::string& out) const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<int64_t> sum_us_{0};
};

struct BrokerMetrics {
  std::atomic<uint64_t> publish_ok{0};
  std::atomic<uint64_t> publish_duplicate{0};
  std::atomic<uint64_t> publish_transient{0};
  std::atomic<uint64_t> publish_fatal{0};
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> redelivered{0};
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> dead_lettered{0};
  std::atomic<uint64_t> in_flight{0};
  std::atomic<uint64_t> sessions{0};
  std::atomic<uint64_t> subscriptions{0};
  std::atomic<uint64_t> journal_head_seq{0};
  std::atomic<uint64_t> registry_serial{0};
  std::atomic<uint64_t> escalations{0};
  std::atomic<uint64_t> ruptures{0};
  std::atomic<uint64_t> escalations_pending{0};
  // Case engine residency (case_residency.cc).
  std::atomic<uint64_t> cases_resident{0};
  std::atomic<uint64_t> cases_read_back{0};
  std::atomic<uint64_t> cases_evicted{0};
  std::atomic<uint64_t> zap_accepted{0};
  std::atomic<uint64_t> zap_refused{0};
  std::atomic<uint64_t> sources_banned{0};
  std::atomic<uint64_t> banned_now{0};
  std::atomic<bool> healthy{true};
  // 1 while the start-up replay of the journal into the case engine runs (broker_recovery.cc).
  std::atomic<bool> replay_pending{false};
  // Replication to the stream (stream_forwarder.h); stay 0 in the embedded mode.
  std::atomic<uint64_t> stream_forwarded_seq{0};
  std::atomic<uint64_t> stream_forward_lag{0};
  std::atomic<uint64_t> stream_forward_retries{0};
  std::atomic<uint64_t> stream_forward_duplicates{0};
  std::atomic<uint64_t> stream_forward_failed{0};
  std::atomic<uint64_t> stream_keys_destroyed{0};
  std::atomic<uint64_t> stream_acks_forwarded{0};
  // Ingestion of the other instances' records (stream_ingester.h).
  std::atomic<uint64_t> stream_ingested_seq{0};
  std::atomic<uint64_t> stream_ingested{0};
  std::atomic<uint64_t> stream_acks_ingested{0};
  std::atomic<uint64_t> stream_conflicts{0};
  std::atomic<uint64_t> stream_unreadable{0};
  // The audit chain over the stream (stream_audit.h).
  std::atomic<uint64_t> stream_audit_covered_seq{0};
  std::atomic<uint64_t> stream_audit_lag{0};
  std::atomic<uint64_t> stream_audit_written{0};
  std::atomic<uint64_t> stream_audit_failed{0};
  LatencyHistogram publish_to_ack;
  // The stages of publish_to_ack (docs/operations.md, "Metrics").
  struct PublishStages {
    LatencyHistogram verify, admit, journal, ack;
  } publish_stages;
  // The journal writer's transactions (journal::BatchStats), written by the writer thread.
  struct JournalBatches {
    std::atomic<uint64_t> batches{0}, appends{0}, updates{0};
    LatencyHistogram queued, write, commit, wal_catchup;
  } journal_batches;

  void CountFatal(const std::string& code);
  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> fatal_by_code_;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_METRICS_H_
