// relais_bench_journal: durable append throughput of the journal with group commit, against a
// plain SQLite insert loop with the same settings, rows and batch size, measured in the same run.
//
//   relais_bench_journal [--out FILE.json] [--rows N] [--producers P] [--batch B] [--dir DIR]
//
// Rows are ~1.2 KiB as stored (header, signature, digests, sealed body, wraps, ids). Case refs
// follow a pool of 2,000 open cases, one event in five opening a new case. Producers keep
// 2*B/P appends in flight each, like a broker with many publishers. The database lives under
// DIR (default $RELAIS_BENCH_DIR or /var/tmp), which must be a real disk, not tmpfs.
#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "broker/journal/integrity.h"
#include "broker/journal/journal.h"
#include "broker/journal/page_checksum.h"
#include "broker/journal/testing/events.h"
#include "broker/journal/testing/plain_baseline.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "crypto/sign.h"

namespace relais::journal {
namespace {

constexpr size_t kTargetRowBytes = 1229;  // 1.2 KiB
constexpr long kTmpfsMagic = 0x01021994;

struct Args {
  std::string out;
  size_t rows = 200'000;
  size_t producers = 4;
  size_t batch = 256;
  std::string dir;
  std::string only;  // run only the journal variant whose name starts with this (profiling)
};

struct Measurement {
  std::string name;
  double rows_per_s = 0;
  double mean_batch = 0;
  int64_t commit_p50_us = 0, commit_p99_us = 0;
  int64_t append_p50_us = -1, append_p99_us = -1;  // -1: not applicable (baseline)
  double write_us_per_row = 0;  // journal: writer time inside the transaction, before COMMIT
  double writer_busy = 0;       // journal: share of the run the writer spent in transactions
  double cpu_us_per_row = 0;    // journal: writer thread CPU time per row (batch incl. commit)
  double catchup_share = 0;     // journal: share of the run spent finishing WAL checkpoints
};

int64_t Percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

std::vector<AppendRequest> MakeRows(size_t n) {
  testing::EventSpec probe;
  probe.body_size = 0;
  const size_t overhead = testing::StoredBytes(testing::MakeRequest(probe));
  std::mt19937_64 rng(42);
  std::vector<std::string> open_cases(2000);
  for (auto& c : open_cases) c = crypto::NewCaseRef();
  std::vector<AppendRequest> rows;
  rows.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string& slot = open_cases[rng() % open_cases.size()];
    if (rng() % 5 == 0) slot = crypto::NewCaseRef();
    testing::EventSpec spec;
    spec.case_ref = slot;
    spec.body_size = kTargetRowBytes - overhead;
    spec.emitted_at = 1'764'000'000'000 + static_cast<int64_t>(i);
    rows.push_back(testing::MakeRequest(spec));
  }
  return rows;
}

Measurement RunJournal(const std::string& name, const std::filesystem::path& dir,
                       const std::vector<AppendRequest>& rows, const Args& args,
                       WalCheckpointing wal, int wal_frames, bool derived, bool checksums = true) {
  base::SystemClock clock;
  crypto::SigningKeyPair key = crypto::GenerateSigningKeyPair();
  JournalOptions options;
  options.path = dir / (name + ".db");
  options.max_batch = args.batch;
  options.wal_checkpointing = wal;
  options.wal_checkpoint_frames = wal_frames;
  options.page_checksums = checksums;
  std::vector<int64_t> commit_us;
  std::vector<size_t> batch_sizes;
  int64_t write_us = 0, cpu_us = 0, catchup_us = 0;
  options.on_batch = [&](const BatchStats& s) {
    cpu_us += s.cpu_us;
    catchup_us += s.wal_catchup_us;
    commit_us.push_back(s.commit_us);
    batch_sizes.push_back(s.appends);
    write_us += s.write_us;
  };
  auto journal = Journal::Open(options, clock, &key.secret_key);
  if (!journal) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), journal.error().ToString().c_str());
    std::exit(1);
  }
  std::vector<int64_t> latency(rows.size());
  std::atomic<int64_t> last_done{0};
  std::atomic<size_t> failures{0};
  // Each producer keeps up to `window` appends in flight and refills in bursts: completions
  // wake it only when half the window has drained, as a broker would hand completions back to
  // its I/O thread in bulk rather than with one wake-up per event.
  const int window = static_cast<int>(std::max<size_t>(2, 2 * args.batch / args.producers));
  const int64_t start = base::MonotonicMicros();
  std::vector<std::thread> producers;
  // Owned here, not by the producers: a completion may still notify after its producer left.
  std::vector<std::atomic<int>> in_flight_of(args.producers);
  for (size_t t = 0; t < args.producers; ++t) {
    producers.emplace_back([&, t] {
      std::atomic<int>& in_flight = in_flight_of[t];
      auto wait_below = [&](int limit) {
        for (int v = in_flight.load(); v >= limit; v = in_flight.load()) in_flight.wait(v);
      };
      for (size_t i = t; i < rows.size(); i += args.producers) {
        wait_below(window);
        AppendRequest request = rows[i];
        if (derived) request.mutations = testing::DeriveFromHeader(request.header);
        const int64_t queued = base::MonotonicMicros();
        in_flight.fetch_add(1);
        (*journal)->Append(std::move(request), [&, i, queued](base::Result<AppendResult> r) {
          const int64_t now = base::MonotonicMicros();
          if (!r) ++failures;
          latency[i] = now - queued;
          last_done = now;
          const int left = in_flight.fetch_sub(1) - 1;
          if (left == window / 2 || left == 0) in_flight.notify_one();
        });
      }
      wait_below(1);  // our last appends are durable
    });
  }
  for (auto& p : producers) p.join();
  const int64_t elapsed = last_done.load() - start;
  (void)(*journal)->Close();
  if (failures.load() != 0)
    std::fprintf(stderr, "%s: %zu appends failed\n", name.c_str(), failures.load());
  Measurement m{name, 1e6 * static_cast<double>(rows.size()) / static_cast<double>(elapsed)};
  m.mean_batch =
      static_cast<double>(std::accumulate(batch_sizes.begin(), batch_sizes.end(), size_t{0})) /
      static_cast<double>(std::max<size_t>(1, batch_sizes.size()));
  m.commit_p50_us = Percentile(commit_us, 0.50);
  m.commit_p99_us = Percentile(commit_us, 0.99);
  m.append_p50_us = Percentile(latency, 0.50);
  m.append_p99_us = Percentile(latency, 0.99);
  m.write_us_per_row = static_cast<double>(write_us) / static_cast<double>(rows.size());
  m.cpu_us_per_row = static_cast<double>(cpu_us) / static_cast<double>(rows.size());
  m.catchup_share = static_cast<double>(catchup_us) / static_cast<double>(elapsed);
  m.writer_busy = static_cast<double>(
                      write_us + std::accumulate(commit_us.begin(), commit_us.end(), int64_t{0})) /
                  static_cast<double>(elapsed);
  return m;
}

Measurement RunPlain(const std::string& name, const std::filesystem::path& dir,
                     const std::vector<AppendRequest>& rows, size_t batch,
                     testing::PlainTable table) {
  auto result = testing::RunPlainInsertLoop(dir / (name + ".db"), rows, batch, table);
  if (!result) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), result.error().ToString().c_str());
    std::exit(1);
  }
  Measurement m{name,
                1e6 * static_cast<double>(rows.size()) / static_cast<double>(result->total_us)};
  m.mean_batch = static_cast<double>(batch);
  m.commit_p50_us = Percentile(result->commit_us, 0.50);
  m.commit_p99_us = Percentile(result->commit_us, 0.99);
  return m;
}

Args Parse(int argc, char** argv) {
  Args a;
  const char* env_dir = std::getenv("RELAIS_BENCH_DIR");
  a.dir = env_dir != nullptr ? env_dir : "/var/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--out") {
      a.out = v;
    } else if (k == "--rows") {
      a.rows = std::stoul(v);
    } else if (k == "--producers") {
      a.producers = std::stoul(v);
    } else if (k == "--batch") {
      a.batch = std::stoul(v);
    } else if (k == "--dir") {
      a.dir = v;
    } else if (k == "--only") {
      a.only = v;
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(1);
    }
  }
  return a;
}

std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five;
  in >> one >> five;
  return one + " " + five;
}

// The start-up scrub (every page read and its checksum verified) over a journal the benchmark
// wrote: from the page cache, then after asking the kernel to drop this file's cached pages.
struct ScrubSpeed {
  double mib = 0, hot_mib_s = 0, cold_mib_s = 0;
  double checksum_ns_per_page = 0;  // PageChecksum alone, 4 KiB page in L1
};

ScrubSpeed MeasureScrub(const std::filesystem::path& db) {
  ScrubSpeed speed;
  auto rate = [&](const base::Result<internal::ScrubStats>& r) {
    if (!r) {
      std::fprintf(stderr, "scrub: %s\n", r.error().ToString().c_str());
      return 0.0;
    }
    speed.mib = static_cast<double>(r->bytes) / (1 << 20);
    return r->micros > 0 ? speed.mib * 1e6 / static_cast<double>(r->micros) : 0.0;
  };
  speed.hot_mib_s = rate(internal::ScrubPages(db.string(), nullptr, 0));
  int fd = ::open(db.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
  speed.cold_mib_s = rate(internal::ScrubPages(db.string(), nullptr, 0));
  std::vector<uint8_t> page(4096, 0x5a);
  constexpr int kPages = 200'000;
  uint64_t sink = 0;
  const int64_t start = base::MonotonicMicros();
  for (int i = 0; i < kPages; ++i) {
    page[i % 4000] = static_cast<uint8_t>(i);
    sink += internal::PageChecksum(page.data(), page.size(), static_cast<uint64_t>(i) + 1);
  }
  speed.checksum_ns_per_page =
      1000.0 * static_cast<double>(base::MonotonicMicros() - start) / kPages;
  volatile uint64_t keep = sink;  // the checksums are used
  (void)keep;
  return speed;
}

void Report(const std::vector<Measurement>& ms, const Args& args, double ratio,
            const std::string& load, bool tmpfs, double checksum_ratio, const ScrubSpeed& scrub) {
  std::printf("\n%-34s %10s %8s %11s %11s %11s %11s\n", "variant", "rows/s", "batch", "commit p50",
              "commit p99", "append p50", "append p99");
  for (const Measurement& m : ms) {
    std::printf("%-34s %10.0f %8.1f %9lldus %9lldus", m.name.c_str(), m.rows_per_s, m.mean_batch,
                static_cast<long long>(m.commit_p50_us), static_cast<long long>(m.commit_p99_us));
    if (m.append_p50_us >= 0) {
      std::printf(" %9lldus %9lldus %6.1fus %5.0f%%\n", static_cast<long long>(m.append_p50_us),
                  static_cast<long long>(m.append_p99_us), m.write_us_per_row, 100 * m.writer_busy);
    } else {
      std::printf(" %11s %11s %8s %6s\n", "-", "-", "-", "-");
    }
  }
  std::printf(
      "\njournal / plain insert loop (same schema, batch %.0f): %.2fx   load before: %s%s\n",
      ms[4].mean_batch, ratio, load.c_str(), tmpfs ? "   WARNING: tmpfs" : "");
  std::printf("journal with / without page checksums: %.2fx\n", checksum_ratio);
  std::printf(
      "start-up scrub of %.0f MiB: %.0f MiB/s from the page cache, %.0f MiB/s from disk; "
      "page checksum %.0f ns per 4 KiB page\n",
      scrub.mib, scrub.hot_mib_s, scrub.cold_mib_s, scrub.checksum_ns_per_page);
  if (args.out.empty()) return;
  std::ostringstream j;
  j << "{\n  \"benchmark\": \"journal\",\n  \"rows\": " << args.rows
    << ",\n  \"row_bytes\": " << kTargetRowBytes << ",\n  \"producers\": " << args.producers
    << ",\n  \"max_batch\": " << args.batch << ",\n  \"synchronous\": \"FULL\""
    << ",\n  \"load_before\": \"" << load << "\",\n  \"tmpfs\": " << (tmpfs ? "true" : "false")
    << ",\n  \"ratio_journal_to_plain\": " << ratio
    << ",\n  \"ratio_checksums_on_to_off\": " << checksum_ratio
    << ",\n  \"scrub_mib\": " << scrub.mib << ",\n  \"scrub_hot_mib_per_s\": " << scrub.hot_mib_s
    << ",\n  \"scrub_cold_mib_per_s\": " << scrub.cold_mib_s
    << ",\n  \"checksum_ns_per_page\": " << scrub.checksum_ns_per_page << ",\n  \"results\": [\n";
  for (size_t i = 0; i < ms.size(); ++i) {
    const Measurement& m = ms[i];
    j << "    {\"name\": \"" << m.name << "\", \"rows_per_s\": " << m.rows_per_s
      << ", \"mean_batch\": " << m.mean_batch << ", \"commit_p50_us\": " << m.commit_p50_us
      << ", \"commit_p99_us\": " << m.commit_p99_us;
    if (m.append_p50_us >= 0) {
      j << ", \"append_p50_us\": " << m.append_p50_us << ", \"append_p99_us\": " << m.append_p99_us;
    }
    j << "}" << (i + 1 < ms.size() ? ",\n" : "\n");
  }
  j << "  ]\n}\n";
  std::ofstream(args.out) << j.str();
}

int Run(int argc, char** argv) {
  Args args = Parse(argc, argv);
  crypto::Init();
  std::filesystem::path dir = std::filesystem::path(args.dir) /
                              ("relais-bench-journal-" + std::to_string(base::MonotonicMicros()));
  std::filesystem::create_directories(dir);
  struct statfs fs;
  const bool tmpfs = statfs(dir.c_str(), &fs) == 0 && fs.f_type == kTmpfsMagic;
  if (tmpfs) std::fprintf(stderr, "warning: %s is tmpfs; fsync costs nothing there\n", dir.c_str());
  const std::string load = LoadAverage();
  std::printf("generating %zu rows of %zu bytes...\n", args.rows, kTargetRowBytes);
  const std::vector<AppendRequest> rows = MakeRows(args.rows);

  std::vector<Measurement> ms;
  if (!args.only.empty()) {
    const bool derived = args.only.find("derived") != std::string::npos;
    const bool inline_wal = args.only.find("inline") != std::string::npos;
    const bool checksums = args.only.find("nochecksum") == std::string::npos;
    Measurement m =
        RunJournal("journal-" + args.only, dir, rows, args,
                   inline_wal ? WalCheckpointing::kInline : WalCheckpointing::kBackground, 1000,
                   derived, checksums);
    std::printf(
        "%s: %.0f rows/s, writer %.1f us/row in transaction (%.1f us/row CPU), "
        "commit p50 %lld us p99 %lld us, append p99 %lld us, WAL catch-up %.1f%% of the run\n",
        m.name.c_str(), m.rows_per_s, m.write_us_per_row, m.cpu_us_per_row,
        static_cast<long long>(m.commit_p50_us), static_cast<long long>(m.commit_p99_us),
        static_cast<long long>(m.append_p99_us), 100 * m.catchup_share);
    std::filesystem::remove_all(dir);
    return 0;
  }
  ms.push_back(RunJournal("journal (background wal ckpt)", dir, rows, args,
                          WalCheckpointing::kBackground, 1000, false));
  const ScrubSpeed scrub = MeasureScrub(dir / "journal (background wal ckpt).db");
  ms.push_back(RunJournal("journal (inline wal ckpt 1000)", dir, rows, args,
                          WalCheckpointing::kInline, 1000, false));
  ms.push_back(RunJournal("journal (inline wal ckpt 10000)", dir, rows, args,
                          WalCheckpointing::kInline, 10000, false));
  ms.push_back(RunJournal("journal + derived (2 dlv, case)", dir, rows, args,
                          WalCheckpointing::kBackground, 1000, true));
  const size_t batch = std::max<size_t>(1, static_cast<size_t>(ms[0].mean_batch + 0.5));
  ms.push_back(RunPlain("plain insert loop (same schema)", dir, rows, batch,
                        testing::PlainTable::kJournalSchema));
  ms.push_back(
      RunPlain("plain insert loop (blob table)", dir, rows, batch, testing::PlainTable::kBlobOnly));
  ms.push_back(RunJournal("journal (no page checksums)", dir, rows, args,
                          WalCheckpointing::kBackground, 1000, false, /*checksums=*/false));
  const double ratio = ms[0].rows_per_s / ms[4].rows_per_s;
  const double checksum_ratio = ms[0].rows_per_s / ms[6].rows_per_s;
  Report(ms, args, ratio, load, tmpfs, checksum_ratio, scrub);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return 0;
}

}  // namespace
}  // namespace relais::journal

int main(int argc, char** argv) { return relais::journal::Run(argc, argv); }
