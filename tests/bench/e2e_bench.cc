// relais_bench_e2e: relais end to end (publish, verify, consent/lifecycle, fsync'd group commit,
// CURVE fan-out to 3 subscribers acking) against NATS JetStream and against the machine's
// limits, all measured in the same run on the same machine. Not a test: nothing is asserted;
// the figures go to a table on stdout and to --out FILE.json. See docs/performance.md.
//
//   relais_bench_e2e [--out FILE.json] [--events E] [--publishers P] [--window W]
//                    [--fixed-events F] [--fixed-rate R] [--backlog B] [--restart 0|1]
//                    [--restart-journal N]
//                    [--body-bytes N] [--credit C] [--sqlite-batch N] [--dir DIR]
//                    [--systems relais,jetstream,relais+r1,relais+r3]
//
// DIR (default $RELAIS_BENCH_DIR or /var/tmp) holds the journal, the JetStream store and the
// limit probes; it must be a real disk, not tmpfs.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "crypto/secret.h"
#include "tests/bench/e2e_limits.h"
#include "tests/bench/e2e_systems.h"

namespace relais::bench {
namespace {

struct Args {
  std::string out;
  LoadSpec spec;
  size_t sqlite_batch = 100;
  std::string systems = "relais,jetstream";
};

Args Parse(int argc, char** argv) {
  Args a;
  const char* env_dir = std::getenv("RELAIS_BENCH_DIR");
  a.spec.dir = env_dir != nullptr ? env_dir : "/var/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--out") {
      a.out = v;
    } else if (k == "--events") {
      a.spec.events = std::stoul(v);
    } else if (k == "--publishers") {
      a.spec.publishers = std::max<size_t>(1, std::stoul(v));
    } else if (k == "--window") {
      a.spec.window = std::max<size_t>(1, std::stoul(v));
    } else if (k == "--fixed-events") {
      a.spec.fixed_events = std::stoul(v);
    } else if (k == "--fixed-rate") {
      a.spec.fixed_rate = std::stod(v);
    } else if (k == "--backlog") {
      a.spec.backlog = std::stoul(v);
    } else if (k == "--restart") {
      a.spec.restart = v != "0";
    } else if (k == "--restart-journal") {
      a.spec.restart_journal = std::stoul(v);
    } else if (k == "--body-bytes") {
      a.spec.body_bytes = std::max<size_t>(64, std::stoul(v));
    } else if (k == "--credit") {
      a.spec.credit = std::max<size_t>(1, std::stoul(v));
    } else if (k == "--sqlite-batch") {
      a.sqlite_batch = std::max<size_t>(1, std::stoul(v));
    } else if (k == "--dir") {
      a.spec.dir = v;
    } else if (k == "--systems") {
      a.systems = v;
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(1);
    }
  }
  return a;
}

const PhaseResult* Find(const SystemResult& s, const std::string& phase) {
  for (const auto& p : s.phases) {
    if (p.phase == phase) return &p;
  }
  return nullptr;
}

double Ratio(double a, double b) { return b > 0 ? a / b : 0; }

void PrintTable(const std::vector<SystemResult>& systems, const MachineLimits& m) {
  std::printf("\n%-10s %-24s %8s %10s %9s %9s %9s %9s %9s %9s %9s %9s\n", "system", "phase",
              "events", "events/s", "acked/s", "ack p50", "ack p99", "ack p99.9", "dlv p50",
              "dlv p99", "cpu/evt", "clt/evt");
  for (const auto& s : systems) {
    if (!s.error.empty()) {
      std::printf("%-10s not measured: %s\n", s.system.c_str(), s.error.c_str());
      continue;
    }
    for (const auto& p : s.phases) {
      std::printf(
          "%-10s %-24s %8zu %10.0f %9.0f %7.2fms %7.2fms %7.2fms %7.2fms %7.2fms %7.1fus "
          "%7.1fus%s\n",
          s.system.c_str(), p.phase.c_str(), p.events, p.events_per_s, p.acked_per_s,
          p.ack_p50_us / 1e3, p.ack_p99_us / 1e3, p.ack_p999_us / 1e3, p.delivery_p50_us / 1e3,
          p.delivery_p99_us / 1e3, p.server_cpu_us_per_event, p.client_cpu_us_per_event,
          p.complete ? "" : "  TIMED OUT");
    }
    std::printf(
        "%-10s idle RSS %.1f MiB, peak RSS %.1f MiB, store %.0f bytes/event%s, "
        "%zu failed publishes\n",
        s.system.c_str(), s.idle_rss_kib / 1024.0, s.peak_rss_kib / 1024.0, s.store_bytes_per_event,
        s.store_fsynced_per_commit ? " (fsync per commit)" : " (NOT fsynced per ack)", s.failures);
    if (s.subscriber_ack_frames > 0) {
      std::printf(
          "%-10s subscribers sent %llu acks in %llu ack frames (%.1f per frame)\n",
          s.system.c_str(), static_cast<unsigned long long>(s.subscriber_acks),
          static_cast<unsigned long long>(s.subscriber_ack_frames),
          static_cast<double>(s.subscriber_acks) / static_cast<double>(s.subscriber_ack_frames));
    }
    if (s.replication_catchup_s >= 0) {
      std::printf(
          "%-10s replication: stream caught up with the journal %.2f s after the last "
          "publish was acked (%zu entries)\n",
          s.system.c_str(), s.replication_catchup_s, s.replicated_entries);
    }
    if (s.has_restart) {
      std::printf(
          "%-10s restart after SIGKILL (%zu events, %.1f MiB journal): ready in %.2f s, "
          "first publish acked in %.2f s, replay over in %.2f s (replay %.2f s), peak RSS "
          "%.1f MiB\n",
          s.system.c_str(), s.restart.journal_events, s.restart.journal_bytes / 1048576.0,
          s.restart.kill_to_ready_s, s.restart.kill_to_first_publish_s,
          s.restart.kill_to_recovered_s, s.restart.replay_ms / 1000.0,
          s.restart.peak_rss_kib / 1024.0);
    }
  }
  std::printf(
      "\nmachine limits on %s: Ed25519 verify (1 core) %.0f/s, SQLite batched durable "
      "inserts (batch %zu, %zu-byte rows) %.0f/s (journal schema %.0f/s), "
      "fdatasync %.0f/s\n",
      m.filesystem.c_str(), m.ed25519_verify_per_s_1core, m.sqlite_batch, m.sqlite_row_bytes,
      m.sqlite_inserts_per_s, m.sqlite_journal_schema_per_s, m.fdatasync_per_s);
}

struct Ratios {
  double throughput_vs_jetstream = 0, ack_p50_fixed = 0, ack_p99_fixed = 0, ack_p99_sat = 0,
         delivery_p99_sat = 0, vs_tightest = 0, vs_verify = 0, vs_sqlite = 0, backlog_vs_none = 0;
  std::string tightest;
};

Ratios ComputeRatios(const std::vector<SystemResult>& systems, const MachineLimits& m) {
  Ratios r;
  const SystemResult* relais = nullptr;
  const SystemResult* js = nullptr;
  for (const auto& s : systems) {
    if (!s.error.empty()) continue;
    if (s.system == "relais") relais = &s;
    if (s.system == "jetstream") js = &s;
  }
  if (relais == nullptr) return r;
  const PhaseResult* sat = Find(*relais, "saturation");
  const PhaseResult* fixed = Find(*relais, "fixed_load");
  if (sat == nullptr) return r;
  if (js != nullptr && Find(*js, "saturation") != nullptr) {
    const PhaseResult* jsat = Find(*js, "saturation");
    const PhaseResult* jfixed = Find(*js, "fixed_load");
    r.throughput_vs_jetstream = Ratio(sat->events_per_s, jsat->events_per_s);
    r.ack_p99_sat = Ratio(sat->ack_p99_us, jsat->ack_p99_us);
    r.delivery_p99_sat = Ratio(sat->delivery_p99_us, jsat->delivery_p99_us);
    if (fixed != nullptr && jfixed != nullptr) {
      r.ack_p50_fixed = Ratio(fixed->ack_p50_us, jfixed->ack_p50_us);
      r.ack_p99_fixed = Ratio(fixed->ack_p99_us, jfixed->ack_p99_us);
    }
  }
  r.vs_verify = Ratio(sat->events_per_s, m.ed25519_verify_per_s_1core);
  r.vs_sqlite = Ratio(sat->events_per_s, m.sqlite_inserts_per_s);
  const bool verify_tighter = m.ed25519_verify_per_s_1core < m.sqlite_inserts_per_s;
  r.tightest = verify_tighter ? "ed25519_verify_1core" : "sqlite_batched_inserts";
  r.vs_tightest = verify_tighter ? r.vs_verify : r.vs_sqlite;
  if (const PhaseResult* b = Find(*relais, "saturation_with_backlog")) {
    r.backlog_vs_none = Ratio(b->events_per_s, sat->events_per_s);
  }
  std::printf(
      "\nrelais / JetStream: throughput %.2fx, ack p50 at %.0f/s %.2fx, ack p99 at "
      "%.0f/s %.2fx, ack p99 at saturation %.2fx, delivery p99 at saturation %.2fx\n",
      r.throughput_vs_jetstream, fixed ? fixed->offered_per_s : 0, r.ack_p50_fixed,
      fixed ? fixed->offered_per_s : 0, r.ack_p99_fixed, r.ack_p99_sat, r.delivery_p99_sat);
  std::printf(
      "relais throughput: %.2f of Ed25519 verify on 1 core, %.2f of SQLite batched "
      "inserts (tightest: %s, %.2f)\n",
      r.vs_verify, r.vs_sqlite, r.tightest.c_str(), r.vs_tightest);
  if (r.backlog_vs_none > 0) {
    std::printf("relais throughput with the backlog / without: %.2fx\n", r.backlog_vs_none);
  }
  if (relais != nullptr && !relais->thread_cpu_us_per_event.empty()) {
    std::printf("relaisd CPU per event at saturation by thread:");
    for (const auto& [name, us] : relais->thread_cpu_us_per_event) {
      if (us >= 0.05) std::printf("  %s %.1fus", name.c_str(), us);
    }
    std::printf("\n");
  }
  return r;
}

std::string Quote(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') q += '\\';
    q += (c == '\n' || c == '\t') ? ' ' : c;
  }
  return q + "\"";
}

void WriteJson(const std::string& path, const Args& args, const std::vector<SystemResult>& systems,
               const MachineLimits& m, const Ratios& r, const std::string& up_before,
               const std::string& up_after) {
  std::ostringstream j;
  const LoadSpec& s = args.spec;
  j << "{\n  \"benchmark\": \"e2e\",\n  \"uptime_before\": " << Quote(up_before)
    << ",\n  \"uptime_after\": " << Quote(up_after)
    << ",\n  \"nproc\": " << std::thread::hardware_concurrency()
    << ",\n  \"workload\": {\"events\": " << s.events << ", \"fixed_events\": " << s.fixed_events
    << ", \"fixed_rate\": " << s.fixed_rate << ", \"publishers\": " << s.publishers
    << ", \"window\": " << s.window << ", \"subscribers\": " << s.subscribers
    << ", \"credit\": " << s.credit << ", \"body_bytes\": " << s.body_bytes
    << ", \"backlog\": " << s.backlog << ", \"dir\": " << Quote(s.dir.string())
    << "},\n  \"machine_limits\": {\"filesystem\": " << Quote(m.filesystem)
    << ", \"ed25519_verify_per_s_1core\": " << m.ed25519_verify_per_s_1core
    << ", \"sqlite_batched_inserts_per_s\": " << m.sqlite_inserts_per_s
    << ", \"sqlite_journal_schema_inserts_per_s\": " << m.sqlite_journal_schema_per_s
    << ", \"sqlite_batch\": " << m.sqlite_batch << ", \"sqlite_row_bytes\": " << m.sqlite_row_bytes
    << ", \"fdatasync_per_s\": " << m.fdatasync_per_s << "},\n  \"systems\": [\n";
  for (size_t i = 0; i < systems.size(); ++i) {
    const SystemResult& x = systems[i];
    j << "    {\"system\": " << Quote(x.system) << ", \"version\": " << Quote(x.version)
      << ", \"error\": " << Quote(x.error) << ", \"idle_rss_kib\": " << x.idle_rss_kib
      << ", \"peak_rss_kib\": " << x.peak_rss_kib
      << ", \"store_bytes_per_event\": " << x.store_bytes_per_event
      << ", \"fsync_before_ack\": " << (x.store_fsynced_per_commit ? "true" : "false")
      << ", \"failed_publishes\": " << x.failures << ", \"prepare_s\": " << x.prepare_s
      << ", \"subscriber_acks\": " << x.subscriber_acks
      << ", \"subscriber_ack_frames\": " << x.subscriber_ack_frames;
    if (x.has_restart) {
      j << ", \"restart\": {\"journal_events\": " << x.restart.journal_events
        << ", \"journal_bytes\": " << x.restart.journal_bytes
        << ", \"kill_to_ready_s\": " << x.restart.kill_to_ready_s
        << ", \"kill_to_first_publish_s\": " << x.restart.kill_to_first_publish_s
        << ", \"kill_to_recovered_s\": " << x.restart.kill_to_recovered_s
        << ", \"replay_ms\": " << x.restart.replay_ms
        << ", \"peak_rss_kib\": " << x.restart.peak_rss_kib << "}";
    }
    j << ", \"saturation_cpu_us_per_event_by_thread\": {";
    bool first = true;
    for (const auto& [name, us] : x.thread_cpu_us_per_event) {
      j << (first ? "" : ", ") << Quote(name) << ": " << us;
      first = false;
    }
    j << "},\n     \"phases\": [\n";
    for (size_t k = 0; k < x.phases.size(); ++k) {
      const PhaseResult& p = x.phases[k];
      j << "       {\"phase\": " << Quote(p.phase) << ", \"events\": " << p.events
        << ", \"offered_per_s\": " << p.offered_per_s << ", \"elapsed_s\": " << p.elapsed_s
        << ", \"events_per_s\": " << p.events_per_s << ", \"acked_per_s\": " << p.acked_per_s
        << ", \"ack_p50_us\": " << p.ack_p50_us << ", \"ack_p99_us\": " << p.ack_p99_us
        << ", \"ack_p999_us\": " << p.ack_p999_us << ", \"delivery_p50_us\": " << p.delivery_p50_us
        << ", \"delivery_p99_us\": " << p.delivery_p99_us
        << ", \"server_cpu_us_per_event\": " << p.server_cpu_us_per_event
        << ", \"client_cpu_us_per_event\": " << p.client_cpu_us_per_event
        << ", \"complete\": " << (p.complete ? "true" : "false") << "}"
        << (k + 1 < x.phases.size() ? ",\n" : "\n");
    }
    j << "     ]}" << (i + 1 < systems.size() ? ",\n" : "\n");
  }
  j << "  ],\n  \"ratios\": {\"relais_to_jetstream_throughput\": " << r.throughput_vs_jetstream
    << ", \"relais_to_jetstream_ack_p50_fixed\": " << r.ack_p50_fixed
    << ", \"relais_to_jetstream_ack_p99_fixed\": " << r.ack_p99_fixed
    << ", \"relais_to_jetstream_ack_p99_saturation\": " << r.ack_p99_sat
    << ", \"relais_to_jetstream_delivery_p99_saturation\": " << r.delivery_p99_sat
    << ", \"relais_to_ed25519_verify_1core\": " << r.vs_verify
    << ", \"relais_to_sqlite_batched_inserts\": " << r.vs_sqlite
    << ", \"tightest_limit\": " << Quote(r.tightest)
    << ", \"relais_to_tightest_limit\": " << r.vs_tightest
    << ", \"relais_backlog_to_no_backlog\": " << r.backlog_vs_none << "}\n}\n";
  std::ofstream(path) << j.str();
}

int Run(int argc, char** argv) {
  Args args = Parse(argc, argv);
  crypto::Init();
  std::filesystem::create_directories(args.spec.dir);
  // The harness's TempDir (journal, JetStream store) goes under $TMPDIR: the measured disk.
  setenv("TMPDIR", args.spec.dir.c_str(), 1);
  const std::string up_before = Uptime();
  std::printf("load before: %s\n", up_before.c_str());
  std::printf("machine limits...\n");
  std::fflush(stdout);
  const MachineLimits limits = MeasureLimits(args.spec.dir, 20'000, args.sqlite_batch, 1229);
  std::vector<SystemResult> systems;
  // Each system starts with nothing left to write back from the one before: JetStream does not
  // fsync its store, and the kernel writing it back during relais's phases made relais's
  // fdatasync wait (an ack p99 of 59-241 ms at 1,000/s in two runs; docs/performance.md, run J).
  if (args.systems.find("jetstream") != std::string::npos) {
    std::printf("jetstream...\n");
    std::fflush(stdout);
    ::sync();
    systems.push_back(RunJetStream(args.spec));
  }
  if (args.systems.find("relais") != std::string::npos) {
    ::sync();
    systems.push_back(RunRelais(args.spec));
  }
  // relaisd replicating its journal to JetStream R1 / R3 (docs/scale-out.md section 9).
  for (int nodes : {1, 3}) {
    if (args.systems.find("relais+r" + std::to_string(nodes)) != std::string::npos) {
      std::printf("relais + replication to JetStream R%d...\n", nodes);
      std::fflush(stdout);
      ::sync();
      systems.push_back(RunRelais(args.spec, nodes));
    }
  }
  const std::string up_after = Uptime();
  PrintTable(systems, limits);
  const Ratios ratios = ComputeRatios(systems, limits);
  std::printf("load after: %s\n", up_after.c_str());
  if (!args.out.empty()) WriteJson(args.out, args, systems, limits, ratios, up_before, up_after);
  return 0;
}

}  // namespace
}  // namespace relais::bench

int main(int argc, char** argv) { return relais::bench::Run(argc, argv); }
