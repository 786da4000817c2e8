// The two systems relais_bench_e2e drives with the same workload: relais (a real relaisd with
// its SQLite journal, CURVE, 3 receiving agencies) and NATS JetStream (Debian's nats-server,
// file storage, R1, cnats), each started by the benchmark on loopback in a temporary directory.
#ifndef RELAIS_TESTS_BENCH_E2E_SYSTEMS_H_
#define RELAIS_TESTS_BENCH_E2E_SYSTEMS_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <latch>
#include <map>
#include <string>
#include <vector>

#include "crypto/identity.h"
#include "tests/bench/e2e_recorder.h"

namespace relais::bench {

struct LoadSpec {
  size_t events = 50'000;        // per saturation phase
  size_t fixed_events = 10'000;  // at fixed_rate
  double fixed_rate = 1000;      // events/s offered in the fixed-load phase
  size_t publishers = 4;
  size_t window = 256;  // publishes in flight per publisher
  size_t subscribers = 3;
  size_t credit = 1000;       // relais subscription credit / JetStream fetch batch x 4
  size_t body_bytes = 1024;   // sealed body (relais) / payload (JetStream)
  size_t backlog = 0;         // relais: undelivered events for an offline 4th agency
  bool restart = true;        // relais: SIGKILL and restart timing at the end
  int phase_timeout_s = 600;  // give up on a phase after this
  std::filesystem::path dir;  // on the disk being measured (not tmpfs)
  // relais: before the restart, grow the killed journal to this many entries (e2e_fill.cc).
  size_t restart_journal = 0;
  size_t seal_threads = 2;
};

struct RestartResult {
  size_t journal_events = 0;
  int64_t journal_bytes = 0;
  double kill_to_ready_s = 0;          // relaisd started again until it logs relaisd_ready
  double kill_to_first_publish_s = 0;  // ... until a new publish is durably acked
  double kill_to_recovered_s = 0;      // ... until it logs `recovered` (the replay is over)
  int64_t replay_ms = 0;               // the replay's own duration, from that log line
  // VmHWM of the restarted relaisd once its replay is over: every event of the journal replayed,
  // none of them delivered (no subscriber connects after the restart).
  int64_t peak_rss_kib = 0;
};

struct SystemResult {
  std::string system;
  std::string version;
  std::string error;  // non-empty: the system could not be measured
  std::vector<PhaseResult> phases;
  int64_t idle_rss_kib = 0;
  int64_t peak_rss_kib = 0;
  double store_bytes_per_event = 0;  // journal / stream store on disk after the run
  bool store_fsynced_per_commit = false;
  // Server CPU per event by thread name during the saturation phase.
  std::map<std::string, double> thread_cpu_us_per_event;
  size_t failures = 0;  // publishes not acknowledged ok, over the whole run
  // relais: acknowledgements the subscribers sent, and the ack frames that carried them.
  uint64_t subscriber_acks = 0, subscriber_ack_frames = 0;
  double prepare_s = 0;  // sealing / payload generation before timing (not measured)
  RestartResult restart;
  bool has_restart = false;
  // relais with --stream-url: time from the last acked publish until the stream held every
  // journal entry (-1: not replicating), and how many entries it then held.
  double replication_catchup_s = -1;
  size_t replicated_entries = 0;
};

// stream_nodes 0: embedded relaisd; 1 or 3: relaisd replicating to a JetStream R1/R3 cluster
// started for the run (system "relais+r1" / "relais+r3").
SystemResult RunRelais(const LoadSpec& spec, int stream_nodes = 0);
// Appends generated referrals from `emitter` to `recipients` through the journal library (signed
// checkpoints with `broker`'s key) until the journal at `path` holds `total` entries. Returns how
// many it appended (e2e_fill.cc).
size_t FillJournal(const std::filesystem::path& path, const crypto::AgencyIdentity& broker,
                   const std::string& emitter, const std::vector<std::string>& recipients,
                   size_t body_bytes, size_t total);
SystemResult RunJetStream(const LoadSpec& spec);

// One timed phase over events [begin, end), the same for both systems: `spec.publishers` threads
// run `publisher(p, connected, go)`; each connects, counts `connected` down and waits on `go`,
// which is released with `t0` set. Fills `out`'s per-thread CPU for the saturation phase.
struct PhaseSpec {
  std::string system;
  std::string name;
  size_t begin = 0;
  size_t end = 0;
  double rate = 0;  // events/s offered; 0: as fast as they can
  bool to_subscribers = true;
};
using PublisherFn = std::function<void(size_t p, std::latch& connected, std::latch& go)>;
PhaseResult TimedPhase(const LoadSpec& spec, Recorder& recorder, pid_t server,
                       std::atomic<int64_t>& t0, const PhaseSpec& phase,
                       const PublisherFn& publisher, SystemResult* out);

// The scheduled submit time of the k-th event of a paced phase (rate events/s from t0).
inline int64_t DueAt(int64_t t0, size_t k, double rate) {
  return t0 + static_cast<int64_t>(static_cast<double>(k) * 1e6 / rate);
}

}  // namespace relais::bench

#endif  // RELAIS_TESTS_BENCH_E2E_SYSTEMS_H_
