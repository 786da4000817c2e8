// The retry loop of the JetStream mode's threads (forwarder, audit writer): an operation that
// answers kRetryLater (election, failover, no quorum) is called again after a growing back-off,
// until it answers anything else or the thread is asked to stop.
#ifndef RELAIS_BROKER_STREAM_RETRY_H_
#define RELAIS_BROKER_STREAM_RETRY_H_

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

#include "base/status.h"

namespace relais::broker {

// Calls `op` until it answers anything but kRetryLater; between calls waits on `cv` (under `mu`)
// from `min` doubling up to `max`, and returns the last answer at once when `stop` becomes true.
// `on_retry` (may be empty) runs before each wait.
template <typename T, typename Op>
base::Result<T> RetryWhileLater(Op op, std::mutex& mu, std::condition_variable& cv,
                                const bool& stop, std::chrono::milliseconds min,
                                std::chrono::milliseconds max,
                                const std::function<void()>& on_retry = {}) {
  auto backoff = min;
  while (true) {
    base::Result<T> r = op();
    if (r || r.error().kind != base::ErrorKind::kRetryLater) return r;
    if (on_retry) on_retry();
    std::unique_lock lock(mu);
    if (cv.wait_for(lock, backoff, [&stop] { return stop; })) return r;
    backoff = std::min(backoff * 2, max);
  }
}

}  // namespace relais::broker

#endif  // RELAIS_BROKER_STREAM_RETRY_H_
