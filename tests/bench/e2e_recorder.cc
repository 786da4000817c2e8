#include "tests/bench/e2e_recorder.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "base/clock.h"
#include "tests/bench/e2e_systems.h"

namespace relais::bench {

Recorder::Recorder(size_t events, size_t subscribers)
    : submitted_(events), acked_(events), delivered_(subscribers) {
  for (auto& d : delivered_) d = std::vector<std::atomic<int64_t>>(events);
}

void Recorder::Submitted(size_t i) {
  submitted_[i].store(base::MonotonicMicros(), std::memory_order_relaxed);
}

void Recorder::Acked(size_t i) {
  int64_t expected = 0;
  acked_[i].compare_exchange_strong(expected, base::MonotonicMicros());
}

void Recorder::Failed(size_t i) {
  ++failures_;
  // A failed publish counts as done (with its failure reported) so that the phase ends.
  int64_t expected = 0;
  acked_[i].compare_exchange_strong(expected, base::MonotonicMicros());
}

void Recorder::Delivered(size_t s, size_t i) {
  int64_t expected = 0;
  delivered_[s][i].compare_exchange_strong(expected, base::MonotonicMicros());
}

bool Recorder::WaitDone(size_t begin, size_t end, bool to_subscribers,
                        std::chrono::seconds timeout) const {
  const int64_t give_up = base::MonotonicMicros() + timeout.count() * 1'000'000;
  size_t next = begin;  // everything before `next` is done
  while (true) {
    while (next < end) {
      bool done = acked(next) != 0;
      for (size_t s = 0; done && to_subscribers && s < subscribers(); ++s) {
        done = delivered(s, next) != 0;
      }
      if (!done) break;
      ++next;
    }
    if (next == end) return true;
    if (base::MonotonicMicros() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

int64_t Percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

PhaseResult ComputePhase(const Recorder& r, size_t begin, size_t end, bool to_subscribers) {
  PhaseResult p;
  p.events = end - begin;
  int64_t first = INT64_MAX, last = 0, last_ack = 0;
  std::vector<int64_t> ack, delivery;
  ack.reserve(p.events);
  delivery.reserve(p.events * r.subscribers());
  for (size_t i = begin; i < end; ++i) {
    const int64_t sent = r.submitted(i);
    if (sent == 0) continue;
    first = std::min(first, sent);
    if (r.acked(i) != 0) {
      ack.push_back(r.acked(i) - sent);
      last_ack = std::max(last_ack, r.acked(i));
    }
    for (size_t s = 0; to_subscribers && s < r.subscribers(); ++s) {
      if (r.delivered(s, i) == 0) continue;
      delivery.push_back(r.delivered(s, i) - sent);
      last = std::max(last, r.delivered(s, i));
    }
  }
  last = std::max(last, last_ack);
  if (last_ack > first) p.acked_per_s = static_cast<double>(p.events) * 1e6 / (last_ack - first);
  if (last > first) {
    p.elapsed_s = static_cast<double>(last - first) / 1e6;
    p.events_per_s = static_cast<double>(p.events) / p.elapsed_s;
  }
  p.ack_p50_us = Percentile(ack, 0.50);
  p.ack_p99_us = Percentile(ack, 0.99);
  p.ack_p999_us = Percentile(ack, 0.999);
  p.delivery_p50_us = Percentile(delivery, 0.50);
  p.delivery_p99_us = Percentile(delivery, 0.99);
  return p;
}

namespace {

// utime + stime of a /proc/.../stat line, in microseconds.
int64_t StatCpuUs(const std::string& stat_path) {
  std::ifstream in(stat_path);
  std::string line;
  std::getline(in, line);
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(line.substr(paren + 2));
  std::string f;
  int64_t utime = 0, stime = 0;
  for (int n = 3; fields >> f; ++n) {  // field 3 is the state
    if (n == 14) utime = std::stoll(f);
    if (n == 15) {
      stime = std::stoll(f);
      break;
    }
  }
  static const int64_t ticks = sysconf(_SC_CLK_TCK);
  return (utime + stime) * 1'000'000 / ticks;
}

int64_t StatusKib(const std::string& status_path, const std::string& key) {
  std::ifstream in(status_path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1));
  }
  return 0;
}

}  // namespace

ProcSample SampleProcess(pid_t pid) {
  ProcSample s;
  const std::string dir = "/proc/" + std::to_string(pid);
  s.cpu_us = StatCpuUs(dir + "/stat");
  s.rss_kib = StatusKib(dir + "/status", "VmRSS");
  s.hwm_kib = StatusKib(dir + "/status", "VmHWM");
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(dir + "/task", ec)) {
    std::ifstream comm(task.path() / "comm");
    std::string name;
    std::getline(comm, name);
    s.thread_cpu_us[name] += StatCpuUs((task.path() / "stat").string());
  }
  return s;
}

std::string Uptime() {
  FILE* p = popen("uptime", "r");
  if (p == nullptr) return "";
  char buf[256] = {};
  const size_t n = fread(buf, 1, sizeof buf - 1, p);
  pclose(p);
  std::string s(buf, n);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  size_t start = s.find_first_not_of(' ');
  return start == std::string::npos ? "" : s.substr(start);
}

int64_t DirectoryBytes(const std::string& path) {
  int64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(path, ec)) {
    if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
  }
  return total;
}

double CpuPerEvent(const ProcSample& before, const ProcSample& after, size_t events) {
  return static_cast<double>(after.cpu_us - before.cpu_us) / static_cast<double>(events);
}

std::map<std::string, double> ThreadCpuPerEvent(const ProcSample& before, const ProcSample& after,
                                                size_t events) {
  std::map<std::string, double> out;
  for (const auto& [thread, us] : after.thread_cpu_us) {
    const auto it = before.thread_cpu_us.find(thread);
    const int64_t was = it == before.thread_cpu_us.end() ? 0 : it->second;
    out[thread] = static_cast<double>(us - was) / static_cast<double>(events);
  }
  return out;
}

PhaseResult TimedPhase(const LoadSpec& spec, Recorder& recorder, pid_t server,
                       std::atomic<int64_t>& t0, const PhaseSpec& phase,
                       const PublisherFn& publisher, SystemResult* out) {
  std::latch connected(static_cast<ptrdiff_t>(spec.publishers)), go(1);
  std::vector<std::thread> threads;
  for (size_t p = 0; p < spec.publishers; ++p) {
    threads.emplace_back([&, p] { publisher(p, connected, go); });
  }
  connected.wait();
  const ProcSample before = SampleProcess(server);
  const ProcSample clients_before = SampleProcess(getpid());
  t0 = base::MonotonicMicros();
  go.count_down();
  for (auto& t : threads) t.join();
  const bool complete = recorder.WaitDone(phase.begin, phase.end, phase.to_subscribers,
                                          std::chrono::seconds(spec.phase_timeout_s));
  const ProcSample after = SampleProcess(server);
  const ProcSample clients_after = SampleProcess(getpid());
  PhaseResult r = ComputePhase(recorder, phase.begin, phase.end, phase.to_subscribers);
  r.system = phase.system;
  r.phase = phase.name;
  r.offered_per_s = phase.rate;
  r.complete = complete;
  r.server_cpu_us_per_event = CpuPerEvent(before, after, phase.end - phase.begin);
  r.client_cpu_us_per_event = CpuPerEvent(clients_before, clients_after, phase.end - phase.begin);
  if (phase.name == "saturation") {
    out->thread_cpu_us_per_event = ThreadCpuPerEvent(before, after, phase.end - phase.begin);
  }
  return r;
}

}  // namespace relais::bench
