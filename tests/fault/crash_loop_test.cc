// Crash loop (issue 11, durability): a real relaisd under a continuous pipelined publish load and
// three live subscribers is killed with SIGKILL at random moments and restarted, many times. Then a
// checker proves, from the journal the broker left behind (journal::JournalReader):
//   - every publish acknowledged `ok` is journaled, at the seq the ack named;
//   - no event id is journaled twice (retries after a crash are deduplicated), no seq gap;
//   - the hash chain verifies from genesis;
//   - every journaled referral eventually reaches each of the three recipients.
// It prints the restart time (SIGKILL to `relaisd_ready`) p50/p99/max as a measurement.
//
// Cycles: RELAIS_CRASH_CYCLES (default 200; the `long` variant runs 10,000), uptime before each
// kill uniform in [RELAIS_CRASH_MIN_UP_MS, RELAIS_CRASH_MAX_UP_MS] (default 40-200 ms), seed
// RELAIS_CRASH_SEED (default: random, printed so that a failure can be replayed).
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "tests/fault/fault_load.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

const std::vector<std::string> kRecipients = {"assoc-a", "assoc-b", "assoc-c"};

// Prints (and records as gtest properties) what was measured: load, kills, restart times.
void PrintMeasurements(int cycles, double loop_s, const PublisherLog& log, const JournalScan& scan,
                       const std::vector<uint64_t>& restart_ms) {
  std::printf(
      "crash loop: %d kills in %.1f s; %zu publishes acked ok, %llu submitted, %llu timed out, "
      "%llu re-sent after a crash; %llu journal rows (%zu referrals), each delivered to %zu "
      "recipients\n",
      cycles, loop_s, log.ok.size(), static_cast<unsigned long long>(log.submitted),
      static_cast<unsigned long long>(log.timeouts), static_cast<unsigned long long>(log.resends),
      static_cast<unsigned long long>(scan.rows), scan.referral_seqs.size(), kRecipients.size());
  std::printf("restart time (SIGKILL to relaisd_ready): p50 %llu ms, p99 %llu ms, max %llu ms\n",
              static_cast<unsigned long long>(Percentile(restart_ms, 0.50)),
              static_cast<unsigned long long>(Percentile(restart_ms, 0.99)),
              static_cast<unsigned long long>(Percentile(restart_ms, 1.0)));
  ::testing::Test::RecordProperty("restart_p50_ms", static_cast<int>(Percentile(restart_ms, 0.50)));
  ::testing::Test::RecordProperty("restart_p99_ms", static_cast<int>(Percentile(restart_ms, 0.99)));
  ::testing::Test::RecordProperty("acked_ok", static_cast<int>(log.ok.size()));
}

TEST(CrashLoop, AckedEventsSurviveRandomKillsAndReachEveryRecipient) {
  const int cycles = EnvInt("RELAIS_CRASH_CYCLES", 200);
  const int min_up = EnvInt("RELAIS_CRASH_MIN_UP_MS", 40);
  const int max_up = std::max(min_up, EnvInt("RELAIS_CRASH_MAX_UP_MS", 200));
  const auto seed =
      static_cast<uint32_t>(EnvInt("RELAIS_CRASH_SEED", static_cast<int>(std::random_device{}())));
  std::printf("crash loop: %d cycles, uptime %d-%d ms, RELAIS_CRASH_SEED=%u\n", cycles, min_up,
              max_up, seed);
  std::mt19937 rng(seed);

  crypto::Init();
  TempDir dir;
  Deployment deployment(dir.path());
  AddHospitalAndAssociations(deployment, kRecipients);
  deployment.Sign();
  // A short ack timeout so that deliveries whose ack died with a broker come back quickly.
  BrokerProcess broker(deployment, {"--ack-timeout-ms", "2000"});
  broker.Start();

  std::atomic<bool> stop_publishing{false};
  std::atomic<bool> stop_receiving{false};
  PublisherLog publisher_log;
  std::mutex mu;
  std::map<std::string, std::set<uint64_t>> seen;
  std::vector<std::string> subscriber_errors;
  for (const auto& agency : kRecipients) seen[agency];  // no map insertion once threads run
  PublisherOptions publisher_options;
  publisher_options.recipients = kRecipients;
  std::thread publisher([&] {
    RunPublisher(FilesOf(deployment, "hospital", broker.endpoint()), publisher_options,
                 stop_publishing, publisher_log);
  });
  std::vector<std::thread> subscribers;
  for (const auto& agency : kRecipients) {
    subscribers.emplace_back([&, agency] {
      RunSubscriber(
          FilesOf(deployment, agency, broker.endpoint()), agency, stop_receiving, mu,
          [&seen, agency](uint64_t seq) { seen[agency].insert(seq); }, subscriber_errors);
    });
  }

  std::vector<uint64_t> restart_ms;
  std::uniform_int_distribution<int> uptime(min_up, max_up);
  const auto loop_start = Clock::now();
  for (int i = 0; i < cycles; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(uptime(rng)));  // a random moment
    auto killed_at = Clock::now();
    broker.Kill();
    broker.Start();
    restart_ms.push_back(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at).count()));
  }
  const double loop_s = std::chrono::duration<double>(Clock::now() - loop_start).count();
  stop_publishing = true;
  publisher.join();

  // Eventually every journaled referral reaches every recipient.
  auto reader = journal::JournalReader::Open({broker.journal(), ""});
  ASSERT_TRUE(reader) << reader.error().ToString();
  JournalScan scan = ScanJournal(**reader);
  const std::set<uint64_t>& referral_seqs = scan.referral_seqs;
  auto missing = [&] {
    std::lock_guard lock(mu);
    return MissingDeliveries(referral_seqs, seen, kRecipients);
  };
  auto catch_up_end = Clock::now() + 120s;
  while (missing() > 0 && Clock::now() < catch_up_end) std::this_thread::sleep_for(50ms);
  stop_receiving = true;
  for (auto& t : subscribers) t.join();

  // The checker.
  EXPECT_TRUE(subscriber_errors.empty()) << subscriber_errors.front();
  EXPECT_TRUE(publisher_log.fatal.empty()) << publisher_log.fatal.front();
  ExpectJournalSound(**reader, scan);
  EXPECT_GT(publisher_log.ok.size(), static_cast<size_t>(cycles)) << "too little load to prove it";
  EXPECT_GT(publisher_log.resends, 0u) << "no kill ever hit a publish in flight";
  ExpectAckedAreJournaled(**reader, publisher_log);
  EXPECT_EQ(missing(), 0u) << "journaled referrals that never reached a recipient";

  PrintMeasurements(cycles, loop_s, publisher_log, scan, restart_ms);
}

}  // namespace
}  // namespace relais::testing
