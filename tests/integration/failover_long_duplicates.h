// What each receiver of tests/integration/failover_long_test.cc saw, and its duplicate
// deliveries classified by cause. Test-only.
#ifndef RELAIS_TESTS_INTEGRATION_FAILOVER_LONG_DUPLICATES_H_
#define RELAIS_TESTS_INTEGRATION_FAILOVER_LONG_DUPLICATES_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace relais::testing {

using Clock = std::chrono::steady_clock;

struct DeliveryRecord {
  Clock::time_point at;
  std::string endpoint;   // the client's endpoint when it came
  bool ack_sent = false;  // false: dropped by the SDK as an ack of an earlier session
  Clock::time_point ack_at;
};

// What one receiver saw, by event id. Guarded by mu.
struct ReceiverLog {
  std::mutex mu;
  std::map<std::string, std::vector<DeliveryRecord>> by_event;
  size_t deliveries = 0;
  size_t errors = 0;
  uint64_t failovers = 0;
  uint64_t stale_acks = 0;
};

// Duplicates of one receiver, by kind.
struct Duplicates {
  size_t unacked = 0;          // no ack of the event had reached a broker before the redelivery
  size_t ack_lost_on_a = 0;    // acked only to relaisd a, at most `window` before its SIGKILL
  double oldest_lost_ack = 0;  // of those, the earliest ack: seconds before the SIGKILL
  size_t unexplained = 0;
  std::vector<std::string> unexplained_ids;
};

// Each delivery after an event's first, for one receiver, classified by the acks that came before
// it; `window`: how long before relaisd a's SIGKILL an ack given to it may have been lost.
inline Duplicates Classify(ReceiverLog& log, const std::string& a_endpoint,
                           Clock::time_point a_killed, Clock::duration window) {
  Duplicates out;
  std::lock_guard lock(log.mu);
  for (const auto& [id, ds] : log.by_event) {
    for (size_t k = 1; k < ds.size(); ++k) {
      bool sent = false, all_to_a_near_kill = true;
      double oldest = 0;
      for (size_t j = 0; j < k; ++j) {
        if (!ds[j].ack_sent || ds[j].ack_at >= ds[k].at) continue;
        sent = true;
        oldest = std::max(oldest, std::chrono::duration<double>(a_killed - ds[j].ack_at).count());
        if (ds[j].endpoint != a_endpoint || ds[j].ack_at < a_killed - window) {
          all_to_a_near_kill = false;
        }
      }
      if (!sent) {
        ++out.unacked;
      } else if (all_to_a_near_kill) {
        ++out.ack_lost_on_a;
        out.oldest_lost_ack = std::max(out.oldest_lost_ack, oldest);
      } else {
        ++out.unexplained;
        if (out.unexplained_ids.size() < 10) out.unexplained_ids.push_back(id);
      }
    }
  }
  return out;
}

}  // namespace relais::testing

#endif  // RELAIS_TESTS_INTEGRATION_FAILOVER_LONG_DUPLICATES_H_
