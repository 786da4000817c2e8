// Injectable time. Deadline logic asks a Clock, never the system directly, so tests drive time.
//
// Times are milliseconds since the Unix epoch, UTC (the same unit as the envelope's emittedAt and
// dueAt). Implementations are thread-safe.
#ifndef RELAIS_BASE_CLOCK_H_
#define RELAIS_BASE_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace relais::base {

using TimeMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs NowMs() const = 0;
};

// Wall clock (CLOCK_REALTIME).
class SystemClock final : public Clock {
 public:
  TimeMs NowMs() const override;
};

// Time that moves only when told to: for tests and for the broker's test-only clock option.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeMs start) : now_(start) {}
  TimeMs NowMs() const override { return now_.load(); }
  void Set(TimeMs t) { now_.store(t); }
  void Advance(TimeMs delta) { now_.fetch_add(delta); }

 private:
  std::atomic<TimeMs> now_;
};

// Test-only: the time written in a file (an ISO 8601 time or integer ms since the epoch), re-read
// whenever the file changes. Lets cross-process tests move a broker's clock without sleeping.
// Until the file exists or when it is unreadable, the last good value (or `start`) is used.
class FileClock final : public Clock {
 public:
  FileClock(std::string path, TimeMs start);
  TimeMs NowMs() const override;

 private:
  std::string path_;
  mutable std::atomic<TimeMs> now_;
  mutable std::atomic<int64_t> mtime_ns_{-1};
};

// Monotonic microseconds, for measuring durations (latency, timeouts), never for deadlines.
int64_t MonotonicMicros();

constexpr TimeMs kMsPerSecond = 1000;
constexpr TimeMs kMsPerHour = 3600 * kMsPerSecond;
constexpr TimeMs kMsPerDay = 24 * kMsPerHour;

// Calls `done` every 5 ms until it returns true or `timeout` has passed; returns its last answer.
// For waits on another thread's progress (tests, shutdown), not for timing.
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout);

}  // namespace relais::base

#endif  // RELAIS_BASE_CLOCK_H_
