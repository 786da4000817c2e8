// Shared pieces of relais_bench_e2e (tests/bench/e2e_bench.cc): the per-event timestamps of a
// run (submitted, durably acked, received by each subscriber), the figures of one phase computed
// from them, and samples of a server process's CPU time and memory from /proc.
//
// Benchmark code, not a test. Events of a run are numbered 0..N-1 across all its phases; a phase
// is a contiguous range of them.
#ifndef RELAIS_TESTS_BENCH_E2E_RECORDER_H_
#define RELAIS_TESTS_BENCH_E2E_RECORDER_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace relais::bench {

// Timestamps (base::MonotonicMicros, 0 = not yet) written by publisher and subscriber threads.
class Recorder {
 public:
  Recorder(size_t events, size_t subscribers);
  size_t events() const { return submitted_.size(); }
  size_t subscribers() const { return delivered_.size(); }

  void Submitted(size_t i);
  void Acked(size_t i);
  void Failed(size_t i);
  // Subscriber `s` received event i (first time only; later copies are ignored).
  void Delivered(size_t s, size_t i);
  // Waits until every event of [begin, end) is acked and, when `to_subscribers`, received by
  // every subscriber. False on timeout.
  bool WaitDone(size_t begin, size_t end, bool to_subscribers, std::chrono::seconds timeout) const;

  int64_t submitted(size_t i) const { return submitted_[i].load(std::memory_order_relaxed); }
  int64_t acked(size_t i) const { return acked_[i].load(std::memory_order_relaxed); }
  int64_t delivered(size_t s, size_t i) const {
    return delivered_[s][i].load(std::memory_order_relaxed);
  }
  size_t failures() const { return failures_.load(); }

 private:
  std::vector<std::atomic<int64_t>> submitted_;
  std::vector<std::atomic<int64_t>> acked_;
  std::vector<std::vector<std::atomic<int64_t>>> delivered_;
  std::atomic<size_t> failures_{0};
};

// The figures of one phase.
struct PhaseResult {
  std::string system;  // "relais" or "jetstream"
  std::string phase;   // "fixed_load", "saturation", "backlog_fill", "saturation_with_backlog"
  size_t events = 0;
  double offered_per_s = 0;  // 0: as fast as possible
  double elapsed_s = 0;      // first submit to the last ack/receipt of the phase
  double events_per_s = 0;   // fully acked (and received by every subscriber when it has any)
  double acked_per_s = 0;    // durably acked only: first submit to the last ack of the phase
  int64_t ack_p50_us = 0, ack_p99_us = 0, ack_p999_us = 0;  // publish to durable ack
  int64_t delivery_p50_us = 0, delivery_p99_us = 0;         // publish to receipt (each subscriber)
  double server_cpu_us_per_event = 0;                       // utime+stime of the server process
  // utime+stime of the benchmark's own process (publishers, subscribers and their libraries)
  double client_cpu_us_per_event = 0;
  bool complete = true;  // false when the phase timed out
};

PhaseResult ComputePhase(const Recorder& r, size_t begin, size_t end, bool to_subscribers);

// utime+stime (microseconds), VmRSS and VmHWM (KiB) of a process, and CPU per thread name.
struct ProcSample {
  int64_t cpu_us = 0;
  int64_t rss_kib = 0;
  int64_t hwm_kib = 0;
  std::map<std::string, int64_t> thread_cpu_us;  // by /proc/<pid>/task/<tid>/comm
};
ProcSample SampleProcess(pid_t pid);
// CPU time per event between two samples: the whole process, and by thread name.
double CpuPerEvent(const ProcSample& before, const ProcSample& after, size_t events);
std::map<std::string, double> ThreadCpuPerEvent(const ProcSample& before, const ProcSample& after,
                                                size_t events);

int64_t Percentile(std::vector<int64_t> v, double p);
std::string Uptime();  // the output of `uptime`, trimmed
int64_t DirectoryBytes(const std::string& path);

}  // namespace relais::bench

#endif  // RELAIS_TESTS_BENCH_E2E_RECORDER_H_
