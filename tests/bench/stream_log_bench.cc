// Store-level benchmark of the StreamLog interface (broker/stream_log.h): the same workload through
// the embedded SQLite log, JetStream R1 (one nats-server) and JetStream R3 (3-node cluster on
// 127.0.0.1), all in the same run; ratios against SQLite measured in this run.
//   relais_bench_stream_log [--out FILE.json] [--events N] [--producers P] [--dir DIR]
// Workload: P threads append N messages of 1 KiB (each Append blocks until durable), then one
// durable cursor fetches them in batches of 256 and acks every one (Ack is durable in both
// engines), and StreamLog::Read replays them in order in Reads of 256 (the stream ingester's and
// the audit writer's pattern): JetStream once with its consumer-backed reads and once with one
// js_GetMsg per record (JetStreamOptions::consumer_reads = false, the former implementation), same
// stream, same run. Note: nats-server 2.9 does not fsync per message, SQLite does
// (docs/scale-out.md).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "broker/jetstream/jetstream_stream_log.h"
#include "broker/journal/sqlite_stream_log.h"
#include "tests/harness/harness.h"
#include "tests/harness/nats_cluster.h"

namespace relais::bench {
namespace {

struct Args {
  std::string out;
  size_t events = 5000;
  size_t producers = 4;
  std::string dir;
};

Args Parse(int argc, char** argv) {
  Args a;
  const char* env_dir = std::getenv("RELAIS_BENCH_DIR");
  a.dir = env_dir != nullptr ? env_dir : "/var/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--out") {
      a.out = v;
    } else if (k == "--events") {
      a.events = std::max<size_t>(1, std::stoul(v));
    } else if (k == "--producers") {
      a.producers = std::max<size_t>(1, std::stoul(v));
    } else if (k == "--dir") {
      a.dir = v;
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(1);
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "option %s needs a value\n", argv[argc - 1]);
    std::exit(1);
  }
  return a;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Row {
  std::string engine;
  double append_per_s = 0;
  double append_p50_ms = 0;
  double append_p99_ms = 0;
  double consume_per_s = 0;      // fetch + ack
  double read_per_s = 0;         // sequential Read, 256 per call
  double read_getmsg_per_s = 0;  // the same with one js_GetMsg per record (JetStream only)
  std::string error;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

// Reads the whole stream from seq 1 in Reads of 256; records/s, 0 on error (in `error`).
double MeasureRead(broker::StreamLog& log, size_t events, std::string* error) {
  const int64_t t0 = base::MonotonicMicros();
  uint64_t next = 1;
  while (next <= events) {
    auto r = log.Read(next, 256);
    if (!r || r->empty() || r->front().seq != next) {
      *error = "read: " + (r ? std::string("short or out of order") : r.error().ToString());
      return 0;
    }
    next = r->back().seq + 1;
  }
  return static_cast<double>(events) / (static_cast<double>(base::MonotonicMicros() - t0) / 1e6);
}

void Measure(broker::StreamLog& log, const Args& args, Row* row) {
  const base::Bytes data(1024, 0x5a);
  std::vector<std::vector<double>> latencies(args.producers);
  std::vector<std::string> errors(args.producers);
  const int64_t t0 = base::MonotonicMicros();
  std::vector<std::thread> threads;
  for (size_t p = 0; p < args.producers; ++p) {
    threads.emplace_back([&, p] {
      for (size_t i = p; i < args.events; i += args.producers) {
        broker::LogMessage m{"bench-" + std::to_string(i),
                             "relais.bench.t75.referral",
                             {{"Relais-Schema", "1"}},
                             data};
        const int64_t s = base::MonotonicMicros();
        auto r = log.Append(m);
        if (!r) {
          errors[p] = r.error().ToString();
          return;
        }
        latencies[p].push_back(static_cast<double>(base::MonotonicMicros() - s) / 1000.0);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double append_s = static_cast<double>(base::MonotonicMicros() - t0) / 1e6;
  for (const auto& e : errors) {
    if (!e.empty()) row->error = "append: " + e;
  }
  if (!row->error.empty()) return;
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  row->append_per_s = static_cast<double>(args.events) / append_s;
  row->append_p50_ms = Percentile(all, 0.5);
  row->append_p99_ms = Percentile(all, 0.99);

  auto cursor = log.OpenCursor({"bench", "", std::chrono::seconds(60), 5});
  if (!cursor) {
    row->error = "cursor: " + cursor.error().ToString();
    return;
  }
  const int64_t t1 = base::MonotonicMicros();
  size_t acked = 0;
  while (acked < args.events) {
    auto batch = (*cursor)->Fetch(256, std::chrono::milliseconds(1000));
    if (!batch) {
      row->error = "fetch: " + batch.error().ToString();
      return;
    }
    if (batch->empty() && base::MonotonicMicros() - t1 > 120'000'000) {
      row->error = "fetch: stalled";
      return;
    }
    for (const auto& d : *batch) {
      if (auto s = (*cursor)->Ack(d.record.seq); !s) {
        row->error = "ack: " + s.error().ToString();
        return;
      }
      ++acked;
    }
  }
  row->consume_per_s =
      static_cast<double>(args.events) / (static_cast<double>(base::MonotonicMicros() - t1) / 1e6);
  row->read_per_s = MeasureRead(log, args.events, &row->error);
}

Row RunEngine(const std::string& engine, int nodes, const Args& args) {
  Row row;
  row.engine = engine;
  setenv("TMPDIR", args.dir.c_str(), 1);
  testing::TempDir dir;
  std::unique_ptr<testing::NatsCluster> cluster;
  base::Result<std::unique_ptr<broker::StreamLog>> log =
      base::FailStop("stream_failed", "not opened");
  if (nodes == 0) {
    log = journal::OpenSqliteStreamLog({dir.path() / "stream.db"});
  } else {
    auto started = testing::NatsCluster::Start(nodes, dir.path());
    if (!started) {
      row.error = started.error().ToString();
      return row;
    }
    cluster = std::move(*started);
    jetstream::JetStreamOptions o;
    o.urls = cluster->urls();
    o.stream = "RELAIS_BENCH";
    o.subjects = {"relais.bench.>"};
    o.replicas = nodes;
    log = jetstream::OpenJetStreamLog(o);
    if (log) {
      Measure(**log, args, &row);
      o.consumer_reads = false;
      auto baseline = jetstream::OpenJetStreamLog(o);
      if (!baseline) {
        row.error = baseline.error().ToString();
      } else if (row.error.empty()) {
        row.read_getmsg_per_s = MeasureRead(**baseline, args.events, &row.error);
      }
      return row;
    }
  }
  if (!log) {
    row.error = log.error().ToString();
    return row;
  }
  Measure(**log, args, &row);
  return row;
}

int Run(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  const std::string load_before = LoadAverage();
  std::vector<Row> rows;
  for (const auto& [engine, nodes] : std::vector<std::pair<std::string, int>>{
           {"sqlite", 0}, {"jetstream_r1", 1}, {"jetstream_r3", 3}}) {
    std::printf("%s...\n", engine.c_str());
    std::fflush(stdout);
    rows.push_back(RunEngine(engine, nodes, args));
  }
  const Row& base_row = rows.front();
  std::printf("\n%-14s %12s %10s %10s %14s %10s %10s %10s %12s %8s\n", "engine", "appends/s", "p50",
              "p99", "fetch+ack/s", "append x", "consume x", "read/s", "getmsg r/s", "read x");
  std::ostringstream j;
  j << "{\n  \"benchmark\": \"stream_log\",\n  \"events\": " << args.events
    << ",\n  \"producers\": " << args.producers << ",\n  \"rows\": [";
  bool failed = false;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    if (!r.error.empty()) {
      std::printf("%-14s FAILED: %s\n", r.engine.c_str(), r.error.c_str());
      failed = true;
      continue;
    }
    const double ax = base_row.append_per_s > 0 ? r.append_per_s / base_row.append_per_s : 0;
    const double cx = base_row.consume_per_s > 0 ? r.consume_per_s / base_row.consume_per_s : 0;
    // read x: consumer-backed Read against one js_GetMsg per record, same stream, same run.
    const double rx = r.read_getmsg_per_s > 0 ? r.read_per_s / r.read_getmsg_per_s : 0;
    std::printf("%-14s %12.0f %8.2fms %8.2fms %14.0f %9.2fx %9.2fx %10.0f %12.0f %7.1fx\n",
                r.engine.c_str(), r.append_per_s, r.append_p50_ms, r.append_p99_ms, r.consume_per_s,
                ax, cx, r.read_per_s, r.read_getmsg_per_s, rx);
    j << (i > 0 ? "," : "") << "\n    {\"engine\": \"" << r.engine
      << "\", \"appends_per_s\": " << r.append_per_s << ", \"append_p50_ms\": " << r.append_p50_ms
      << ", \"append_p99_ms\": " << r.append_p99_ms << ", \"fetch_ack_per_s\": " << r.consume_per_s
      << ", \"append_ratio_to_sqlite\": " << ax << ", \"consume_ratio_to_sqlite\": " << cx
      << ", \"read_per_s\": " << r.read_per_s << ", \"read_getmsg_per_s\": " << r.read_getmsg_per_s
      << ", \"read_ratio_to_getmsg\": " << rx << "}";
  }
  const std::string load_after = LoadAverage();
  std::printf("\n%zu events of 1 KiB, %zu producers; load before %s, after %s\n", args.events,
              args.producers, load_before.c_str(), load_after.c_str());
  j << "\n  ],\n  \"load_before\": \"" << load_before << "\",\n  \"load_after\": \"" << load_after
    << "\"\n}\n";
  if (!args.out.empty()) std::ofstream(args.out) << j.str();
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace relais::bench

int main(int argc, char** argv) { return relais::bench::Run(argc, argv); }
