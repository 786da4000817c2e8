// Named crash points (issue 11, durability): relaisd_test_hooks, a relaisd built with
// RELAIS_CRASH_POINTS, aborts at one named step of the publish path (RELAIS_CRASH_AT=<point>:<n>,
// base/crash_point.h) while a pipelined publisher and two acking subscribers run. The test checks
// that it died there (SIGABRT and the hook's "crash point <point> reached" line on stderr),
// restarts it without the variable under the same load, and then checks from the journal
// (tests/fault/fault_load.h, the crash loop's checker):
//   - every publish acked `ok` is journaled at the seq its ack named;
//   - no seq gap, no event id twice, the chain verifies, SQLite's integrity check passes;
//   - every journaled referral reaches both recipients: an event that was not acked may or may
//     not be journaled, but never half (a row without its deliveries, or undeliverable).
// One gtest test per point. RELAIS_CRASH_POINT_COUNT (default 100): the passage that aborts.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <string>

#include "base/crash_point.h"
#include "tests/fault/fault_load.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> kRecipients = {"assoc-a", "assoc-b"};

int CrashCount() {
  const char* v = std::getenv("RELAIS_CRASH_POINT_COUNT");
  return v != nullptr && *v != '\0' ? std::atoi(v) : 100;
}

class CrashPointTest : public ::testing::TestWithParam<std::string_view> {};

TEST_P(CrashPointTest, AbortHereLosesNoAckedEventAndLeavesNoHalfEvent) {
  const std::string point(GetParam());
  const int count = CrashCount();
  crypto::Init();
  TempDir dir;
  Deployment deployment(dir.path());
  AddHospitalAndAssociations(deployment, kRecipients);
  deployment.Sign();
  BrokerProcess broker(deployment, {"--ack-timeout-ms", "2000"});
  broker.set_binary(RelaisdTestHooksBin());
  broker.set_env({"RELAIS_CRASH_AT=" + point + ":" + std::to_string(count)});
  broker.Start();

  LoadRun load(deployment, broker.endpoint(), kRecipients);

  // It dies at the point, and nowhere else.
  auto exit = broker.process()->Wait(60s);
  ASSERT_TRUE(exit.has_value()) << "relaisd never reached " << point << " " << count << " times";
  const std::string log_text = broker.process()->Log();
  EXPECT_EQ(*exit, 128 + SIGABRT) << log_text;
  EXPECT_NE(log_text.find("crash point " + point + " reached"), std::string::npos) << log_text;
  const size_t acked_before = load.Acked();

  // Restarted without the crash point, under the same load, until more is acked.
  broker.set_env({});
  broker.Start();
  EXPECT_TRUE(load.WaitAcked(acked_before + 200, 30s)) << "publishing did not resume";
  load.StopPublishing();

  auto reader = journal::JournalReader::Open({broker.journal(), ""});
  ASSERT_TRUE(reader) << reader.error().ToString();
  JournalScan scan = ScanJournal(**reader);
  EXPECT_EQ(load.CatchUp(scan.referral_seqs, 60s), 0u)
      << "journaled referrals that never reached a recipient";
  load.StopReceiving();

  const PublisherLog& log = load.log();
  EXPECT_TRUE(load.subscriber_errors().empty()) << load.subscriber_errors().front();
  EXPECT_TRUE(log.fatal.empty()) << log.fatal.front();
  ExpectAckedAreJournaled(**reader, log);
  ExpectJournalSound(**reader, scan);
  std::printf(
      "crash point %s:%d: %zu publishes acked before the abort, %zu in all (%llu re-sent by the "
      "SDK); %llu journal rows, each referral delivered to %zu recipients\n",
      point.c_str(), count, acked_before, log.ok.size(),
      static_cast<unsigned long long>(log.resends), static_cast<unsigned long long>(scan.rows),
      kRecipients.size());
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, CrashPointTest, ::testing::ValuesIn(base::kCrashPoints),
                         [](const ::testing::TestParamInfo<std::string_view>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace relais::testing
