#include "base/crash_point.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <string>

#include "base/log.h"

namespace relais::base {

namespace {

// The one armed point. Process-wide on purpose: the points sit deep in the broker and the
// journal, and threading a test hook through every constructor would cost production code more
// than this test-only global (written once by main before any thread starts, then read-only).
std::string g_point;
std::atomic<long> g_remaining{0};

}  // namespace

Status ArmCrashPoint(std::string_view spec) {
  g_point.clear();
  g_remaining.store(0);
  if (spec.empty()) return Ok();
  std::string_view point = spec;
  long n = 1;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    point = spec.substr(0, colon);
    std::string_view count = spec.substr(colon + 1);
    auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
    if (ec != std::errc() || end != count.data() + count.size() || n < 1) {
      return InvalidInput("bad_crash_point", "RELAIS_CRASH_AT: the count must be an integer >= 1");
    }
  }
  if (std::find(std::begin(kCrashPoints), std::end(kCrashPoints), point) ==
      std::end(kCrashPoints)) {
    return InvalidInput("bad_crash_point",
                        "RELAIS_CRASH_AT: unknown crash point '" + std::string(point) + "'");
  }
  g_point = std::string(point);
  g_remaining.store(n);
  return Ok();
}

void ReachCrashPoint(std::string_view point) {
  if (g_remaining.load(std::memory_order_relaxed) <= 0 || point != g_point) return;
  if (g_remaining.fetch_sub(1) != 1) return;
  FlushLogBatch();  // the lines this thread logged before it
  std::string line = "crash point " + g_point + " reached\n";
  (void)!write(STDERR_FILENO, line.data(), line.size());
  rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  std::abort();
}

}  // namespace relais::base
