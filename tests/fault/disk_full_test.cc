// Disk faults across processes (issue 11, durability): relaisd_test_hooks opens its journal
// through the fault-injecting SQLite VFS (broker/journal/testing/fault_vfs), whose mode the test
// switches by rewriting a control file (--test-fault-file; re-read at most every 50 ms), while a
// pipelined publisher and two acking subscribers run (tests/fault/fault_load.h).
//   - `full` (writes fail with SQLITE_FULL): a probe publish on a raw DEALER gets a `transient`
//     ack with code `disk_full`; back to `ok`: a probe is acked ok again, without a restart.
//   - `fsync_error` (syncs fail) and `eio` (writes fail with an I/O error): relaisd stops
//     (fail-stop: it exits with status 3); restarted with `ok` it recovers.
// Then the crash loop's checker: everything acked ok is journaled once, the chain verifies, every
// journaled referral reaches both recipients. The refusal, resume and stop latencies are printed
// and recorded as gtest properties; they are asserted only against generous bounds (5 s, 30 s),
// never against the targets (1 s, 10 s), since timings on a shared CI machine are noise.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

#include "adapters/sdk/envelope_builder.h"
#include "schema/codec.h"
#include "tests/fault/fault_load.h"
#include "tests/harness/harness.h"
#include "tests/security/raw_dealer.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kRecipients = {"assoc-a", "assoc-b"};

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

class DiskFaultVfsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    deployment_ = std::make_unique<Deployment>(dir_.path());
    AddHospitalAndAssociations(*deployment_, kRecipients);
    deployment_->Sign();
    control_ = dir_.path() / "fault-mode";
    SetMode("ok");
    broker_ = std::make_unique<BrokerProcess>(
        *deployment_,
        std::vector<std::string>{"--ack-timeout-ms", "2000", "--test-fault-file", control_});
    broker_->set_binary(RelaisdTestHooksBin());
    broker_->Start();
    hospital_ = deployment_->Identity("hospital");
    broker_curve_ = *sdk::BrokerCurveKey(deployment_->Registry(), base::SystemClock().NowMs());
  }

  void SetMode(const std::string& mode) {
    std::ofstream(control_.string() + ".tmp") << mode << "\n";
    std::filesystem::rename(control_.string() + ".tmp", control_);
  }

  // Publishes one fresh referral on `dealer` and returns the code of its ack ("ok", or the
  // transient/fatal code); "" when no ack came within `timeout`. Probes acked ok are recorded.
  std::string Probe(RawDealer& dealer, std::chrono::milliseconds timeout) {
    auto envelope = MakeReferral(*deployment_, hospital_, kRecipients);
    auto id = schema::DecodeHeader(envelope.header)->event_id;
    if (!dealer.Send(schema::EncodeFrame(schema::Frame(schema::Publish{envelope})))) return "";
    auto end = Clock::now() + timeout;
    while (Clock::now() < end) {
      auto frame = dealer.Receive(50ms);
      if (!frame) continue;
      auto* ack = std::get_if<schema::PublishAck>(&*frame);
      if (ack == nullptr || ack->event_id != id) continue;
      if (ack->status != schema::AckStatus::kOk) return ack->code;
      probes_ok_.ok[base::HexEncode(id)] = ack->seq;
      return "ok";
    }
    return "";
  }

  // Probes until an ack with `code` comes; returns the milliseconds since `since`, or -1 after
  // `timeout`. Other answers are collected in `others` (code -> count).
  int64_t ProbeUntil(RawDealer& dealer, const std::string& code, Clock::time_point since,
                     std::chrono::milliseconds timeout, std::map<std::string, int>& others) {
    while (Clock::now() < since + timeout) {
      std::string got = Probe(dealer, 2s);
      if (got == code) return MsSince(since);
      ++others[got.empty() ? "no_answer" : got];
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }

  std::unique_ptr<RawDealer> Raw() {
    return std::make_unique<RawDealer>(broker_->endpoint(), broker_curve_,
                                       hospital_.pub.curve_public, hospital_.curve_secret.View());
  }

  // Stops the load and runs the checker; `fatal_allowed` is the only fatal code the publisher
  // may have seen ("" for none).
  void StopAndCheck(LoadRun& load, const std::string& fatal_allowed) {
    load.StopPublishing();
    auto reader = journal::JournalReader::Open({broker_->journal(), ""});
    ASSERT_TRUE(reader) << reader.error().ToString();
    JournalScan scan = ScanJournal(**reader);
    EXPECT_EQ(load.CatchUp(scan.referral_seqs, 60s), 0u)
        << "journaled referrals that never reached a recipient";
    load.StopReceiving();
    EXPECT_TRUE(load.subscriber_errors().empty()) << load.subscriber_errors().front();
    for (const auto& code : load.log().fatal) EXPECT_EQ(code, fatal_allowed);
    ExpectAckedAreJournaled(**reader, load.log());
    ExpectAckedAreJournaled(**reader, probes_ok_);
    ExpectJournalSound(**reader, scan);
    rows_ = scan.rows;
  }

  TempDir dir_;
  std::filesystem::path control_;
  std::unique_ptr<Deployment> deployment_;
  std::unique_ptr<BrokerProcess> broker_;
  crypto::AgencyIdentity hospital_;
  base::Bytes broker_curve_;
  PublisherLog probes_ok_;
  uint64_t rows_ = 0;
};

TEST_F(DiskFaultVfsTest, FullDiskRefusesPublishesAsTransientAndTheyResumeWithoutRestart) {
  auto dealer = Raw();
  ASSERT_EQ(Probe(*dealer, 10s), "ok");
  LoadRun load(*deployment_, broker_->endpoint(), kRecipients);
  ASSERT_TRUE(load.WaitAcked(300, 30s));

  std::map<std::string, int> others;
  auto full_at = Clock::now();
  SetMode("full");
  const int64_t refusal_ms = ProbeUntil(*dealer, "disk_full", full_at, 5s, others);
  ASSERT_GE(refusal_ms, 0) << "no disk_full within 5 s";
  std::this_thread::sleep_for(1s);  // the publisher keeps hitting the full disk meanwhile
  EXPECT_EQ(Probe(*dealer, 5s), "disk_full");
  const size_t acked_while_full = load.Acked();
  ASSERT_TRUE(broker_->process()->Running()) << "a full disk must not stop the broker";

  auto ok_at = Clock::now();
  SetMode("ok");
  const int64_t resume_ms = ProbeUntil(*dealer, "ok", ok_at, 30s, others);
  ASSERT_GE(resume_ms, 0) << "publishes did not resume within 30 s";
  EXPECT_TRUE(load.WaitAcked(acked_while_full + 300, 60s)) << "the publisher did not resume";
  const uint64_t transient_acks = [&] {
    load.StopPublishing();
    return load.log().transient_acks;
  }();
  EXPECT_GT(transient_acks, 0u) << "the pipelined publisher never met the full disk";
  StopAndCheck(load, "");
  EXPECT_TRUE(broker_->process()->Running());
  std::string other_answers;
  for (const auto& [code, n] : others) other_answers += code + "=" + std::to_string(n) + " ";
  std::printf(
      "disk full: refused (transient disk_full) %lld ms after the switch, accepted again %lld ms "
      "after space returned (targets 1,000 / 10,000 ms); %zu acked ok in all, %llu transient "
      "acks retried by the SDK; probes' other answers: %s; %llu journal rows\n",
      static_cast<long long>(refusal_ms), static_cast<long long>(resume_ms), load.log().ok.size(),
      static_cast<unsigned long long>(transient_acks), other_answers.c_str(),
      static_cast<unsigned long long>(rows_));
  RecordProperty("refusal_ms", static_cast<int>(refusal_ms));
  RecordProperty("resume_ms", static_cast<int>(resume_ms));
}

class DiskIoErrorTest : public DiskFaultVfsTest,
                        public ::testing::WithParamInterface<std::string> {};

TEST_P(DiskIoErrorTest, IoErrorStopsTheBrokerAndARestartRecovers) {
  const std::string mode = GetParam();
  LoadRun load(*deployment_, broker_->endpoint(), kRecipients);
  ASSERT_TRUE(load.WaitAcked(300, 30s));

  auto fault_at = Clock::now();
  SetMode(mode);
  auto exit = broker_->process()->Wait(30s);
  const int64_t stop_ms = MsSince(fault_at);
  ASSERT_TRUE(exit.has_value()) << "relaisd kept running after " << mode;
  EXPECT_EQ(*exit, 3) << broker_->process()->Log();
  // The writer's or the WAL checkpointer's connection may meet the fault first; either way the
  // broker stops with journal_failed.
  const std::string stopped_log = broker_->process()->Log();
  EXPECT_NE(stopped_log.find("relaisd_failed"), std::string::npos) << stopped_log;
  EXPECT_NE(stopped_log.find("journal_failed"), std::string::npos) << stopped_log;
  const size_t acked_at_stop = load.Acked();

  SetMode("ok");
  auto restart_at = Clock::now();
  broker_->Start();
  const int64_t restart_ms = MsSince(restart_at);
  EXPECT_TRUE(load.WaitAcked(acked_at_stop + 300, 60s)) << "publishing did not resume";
  StopAndCheck(load, "journal_failed");
  std::printf(
      "%s: relaisd stopped (exit 3) %lld ms after the fault; restarted in %lld ms; %zu acked ok "
      "before the stop, %zu in all, %zu refused journal_failed; %llu journal rows\n",
      mode.c_str(), static_cast<long long>(stop_ms), static_cast<long long>(restart_ms),
      acked_at_stop, load.log().ok.size(), load.log().fatal.size(),
      static_cast<unsigned long long>(rows_));
  RecordProperty("stop_ms", static_cast<int>(stop_ms));
}

INSTANTIATE_TEST_SUITE_P(Modes, DiskIoErrorTest, ::testing::Values("fsync_error", "eio"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace relais::testing
