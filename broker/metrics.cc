#include "broker/metrics.h"

#include <cstdio>
#include <initializer_list>
#include <utility>

namespace relais::broker {

namespace {

void Counter(std::string& out, const char* name, const char* help, uint64_t v,
             const char* type = "counter") {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + std::to_string(v) + "\n";
}

std::string Seconds(int64_t us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", static_cast<double>(us) / 1e6);
  return buf;
}

// One histogram family: HELP and TYPE once, then each member's samples under `label`="name".
void HistogramFamily(
    std::string& out, const std::string& family, const char* help, const char* label,
    std::initializer_list<std::pair<const char*, const LatencyHistogram*>> members) {
  out += "# HELP " + family + " " + help + "\n# TYPE " + family + " histogram\n";
  for (const auto& [name, histogram] : members) {
    histogram->RenderSamples(family, std::string(label) + "=\"" + name + "\"", out);
  }
}

}  // namespace

void LatencyHistogram::Observe(int64_t us) {
  size_t i = 0;
  while (i < kBoundsUs.size() && us > kBoundsUs[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(us, std::memory_order_relaxed);
}

void LatencyHistogram::Render(const std::string& name, const std::string& help,
                              std::string& out) const {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  RenderSamples(name, "", out);
}

void LatencyHistogram::RenderSamples(const std::string& name, const std::string& label,
                                     std::string& out) const {
  const std::string prefix = label.empty() ? "" : label + ",";
  const std::string braces = label.empty() ? "" : "{" + label + "}";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBoundsUs.size(); ++i) {
    cumulative += buckets_[i].load();
    out += name + "_bucket{" + prefix + "le=\"" + Seconds(kBoundsUs[i]) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  cumulative += buckets_[kBoundsUs.size()].load();
  out += name + "_bucket{" + prefix + "le=\"+Inf\"} " + std::to_string(cumulative) + "\n";
  out += name + "_sum" + braces + " " + Seconds(sum_us_.load()) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_.load()) + "\n";
}

void BrokerMetrics::CountFatal(const std::string& code) {
  publish_fatal.fetch_add(1);
  std::lock_guard lock(mu_);
  ++fatal_by_code_[code];
}

std::string BrokerMetrics::Render() const {
  std::string out;
  Counter(out, "relais_publish_ok_total", "Publishes journaled durably.", publish_ok.load());
  Counter(out, "relais_publish_duplicate_total", "Publishes of an event id already journaled.",
          publish_duplicate.load());
  Counter(out, "relais_publish_transient_total", "Publishes refused for now (retry).",
          publish_transient.load());
  out +=
      "# HELP relais_publish_fatal_total Publishes refused for good, by code.\n"
      "# TYPE relais_publish_fatal_total counter\n";
  {
    std::lock_guard lock(mu_);
    for (const auto& [code, n] : fatal_by_code_) {
      out += "relais_publish_fatal_total{code=\"" + code + "\"} " + std::to_string(n) + "\n";
    }
  }
  Counter(out, "relais_delivered_total", "First deliveries sent.", delivered.load());
  Counter(out, "relais_redelivered_total", "Redeliveries after a timeout or nack.",
          redelivered.load());
  Counter(out, "relais_acked_total", "Deliveries acknowledged by receivers.", acked.load());
  Counter(out, "relais_dead_letters_total", "Deliveries moved to the dead-letter list.",
          dead_lettered.load());
  Counter(out, "relais_in_flight", "Deliveries awaiting an ack.", in_flight.load(), "gauge");
  Counter(out, "relais_sessions", "Authenticated connections.", sessions.load(), "gauge");
  Counter(out, "relais_subscriptions", "Active subscriptions.", subscriptions.load(), "gauge");
  Counter(out, "relais_journal_head_seq", "Highest journaled seq.", journal_head_seq.load(),
          "gauge");
  Counter(out, "relais_registry_serial", "Serial of the registry in force.", registry_serial.load(),
          "gauge");
  Counter(out, "relais_escalations_total",
          "Escalations in the journal (no acceptance before the deadline lead).",
          escalations.load());
  Counter(out, "relais_ruptures_total", "Ruptures journaled (deadline passed without pick-up).",
          ruptures.load());
  Counter(out, "relais_escalations_pending",
          "Escalated cases nobody has accepted yet (still referred, not withdrawn).",
          escalations_pending.load(), "gauge");
  Counter(out, "relais_cases_resident",
          "Cases held in memory by the case engine (at most --max-resident-cases once the "
          "start-up replay is over).",
          cases_resident.load(), "gauge");
  Counter(out, "relais_cases_read_back_total",
          "Evicted cases read back from the journal (an event, a deadline or a receipt).",
          cases_read_back.load());
  Counter(out, "relais_cases_evicted_total",
          "Cases evicted from memory (least recently used beyond --max-resident-cases).",
          cases_evicted.load());
  Counter(out, "relais_zap_accepted_total", "CURVE handshakes admitted.", zap_accepted.load());
  Counter(out, "relais_zap_refused_total", "CURVE handshakes refused (unknown or revoked key).",
          zap_refused.load());
  Counter(out, "relais_sources_banned_total",
          "Source addresses banned for opening too many connections (--ban-connections).",
          sources_banned.load());
  Counter(out, "relais_sources_banned", "Source addresses banned at the moment.", banned_now.load(),
          "gauge");
  Counter(out, "relais_healthy", "1 while the journal and the ZAP handler work.",
          healthy.load() ? 1 : 0, "gauge");
  Counter(out, "relais_replay_pending",
          "1 while the start-up replay of the journal runs (serving meanwhile; see "
          "docs/operations.md).",
          replay_pending.load() ? 1 : 0, "gauge");
  Counter(out, "relais_stream_forwarded_seq",
          "Highest journal seq stored in the replication stream (JetStream mode).",
          stream_forwarded_seq.load(), "gauge");
  Counter(out, "relais_stream_forward_lag",
          "Journal entries not yet acknowledged by the replication stream.",
          stream_forward_lag.load(), "gauge");
  Counter(out, "relais_stream_forward_retries_total",
          "Stream appends or key operations retried (election, failover).",
          stream_forward_retries.load());
  Counter(out, "relais_stream_forward_duplicates_total",
          "Entries the stream already held when resent.", stream_forward_duplicates.load());
  Counter(out, "relais_stream_forward_failed", "1 once forwarding stopped on a permanent error.",
          stream_forward_failed.load(), "gauge");
  Counter(out, "relais_stream_keys_destroyed_total",
          "Case keys destroyed (stream copies crypto-shredded).", stream_keys_destroyed.load());
  Counter(out, "relais_stream_acks_forwarded_total",
          "Delivery acknowledgements sent to the stream for the other instances.",
          stream_acks_forwarded.load());
  Counter(out, "relais_stream_ingested_seq", "Highest stream seq read by this instance.",
          stream_ingested_seq.load(), "gauge");
  Counter(out, "relais_stream_ingested_total",
          "Other instances' events stored in the local journal.", stream_ingested.load());
  Counter(out, "relais_stream_acks_ingested_total",
          "Other instances' delivery acknowledgements applied here.", stream_acks_ingested.load());
  Counter(out, "relais_stream_conflicts_total",
          "Ingested events this instance's lifecycle rules would have refused (kept anyway).",
          stream_conflicts.load());
  Counter(out, "relais_stream_unreadable_total",
          "Stream records this instance could not decode (skipped).", stream_unreadable.load());
  Counter(out, "relais_stream_audit_covered_seq",
          "Highest event stream seq covered by the audit chain.", stream_audit_covered_seq.load(),
          "gauge");
  Counter(out, "relais_stream_audit_lag",
          "Event stream messages not yet covered by the audit chain.", stream_audit_lag.load(),
          "gauge");
  Counter(out, "relais_stream_audit_written_total",
          "Audit messages appended by this instance (the others were written by another one).",
          stream_audit_written.load());
  Counter(out, "relais_stream_audit_failed",
          "1 once the audit writer stopped (audit_fork: the audit stream differs).",
          stream_audit_failed.load(), "gauge");
  publish_to_ack.Render("relais_publish_ack_seconds",
                        "Time from receiving a publish to sending its ack.", out);
  HistogramFamily(out, "relais_publish_stage_seconds",
                  "Where relais_publish_ack_seconds goes, for publishes acked ok: verify, admit, "
                  "journal, ack.",
                  "stage",
                  {{"verify", &publish_stages.verify},
                   {"admit", &publish_stages.admit},
                   {"journal", &publish_stages.journal},
                   {"ack", &publish_stages.ack}});
  Counter(out, "relais_journal_batches_total",
          "Transactions of the journal writer (group commits of appends and updates).",
          journal_batches.batches.load());
  Counter(out, "relais_journal_batch_appends_total", "Events appended by those transactions.",
          journal_batches.appends.load());
  Counter(out, "relais_journal_batch_updates_total",
          "Delivery updates (acknowledgements, attempts) written by those transactions.",
          journal_batches.updates.load());
  HistogramFamily(out, "relais_journal_batch_seconds",
                  "One writer transaction: queued (its oldest request waited), write (BEGIN to "
                  "COMMIT), commit (the COMMIT, with its fsync), wal_catchup (a WAL checkpoint "
                  "finished after it).",
                  "part",
                  {{"queued", &journal_batches.queued},
                   {"write", &journal_batches.write},
                   {"commit", &journal_batches.commit},
                   {"wal_catchup", &journal_batches.wal_catchup}});
  return out;
}

}  // namespace relais::broker
