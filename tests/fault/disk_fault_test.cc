// Write errors under a real relaisd (issue 11, disk faults), without root: relaisd runs with a
// file size limit (RLIMIT_FSIZE, SIGXFSZ ignored, set by a bash wrapper before exec), so that once
// its journal's WAL reaches the limit every write past it fails with EFBIG, which SQLite reports
// as an I/O error. Asserted: the broker stops accepting publishes (fail-stop: it exits, or refuses
// every further publish) instead of acknowledging what it could not store; every publish acked ok
// before is in the journal; a restart without the limit recovers cleanly (chain verifies, no
// duplicate, publishing resumes, retried publishes are deduplicated).
// Disk-full (ENOSPC, transient `disk_full`) is covered at the journal level by
// broker/journal/fault_test.cc (fault-injecting VFS): relaisd has no test option to use that VFS.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "broker/journal/reader.h"
#include "schema/codec.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;

TEST(DiskFault, WriteErrorsStopTheBrokerWithoutLosingAckedEventsAndARestartRecovers) {
  crypto::Init();
  TempDir dir;
  Deployment deployment(dir.path());
  AddHospitalAndAssociations(deployment, {"assoc-a"});
  deployment.Sign();
  // A plain broker creates the journal (and proves the set-up), then stops.
  BrokerProcess broker(deployment);
  broker.Start();
  broker.Stop();

  // The same broker (same port, journal and flags as BrokerProcess) with a 3 MiB file size limit.
  const int port = FreePort();
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  std::vector<std::string> argv = {"/bin/bash",
                                   "-c",
                                   "trap '' XFSZ; ulimit -f 3072; exec \"$0\" \"$@\"",
                                   RelaisdBin(),
                                   "--listen",
                                   endpoint,
                                   "--journal",
                                   broker.journal().string(),
                                   "--registry",
                                   deployment.RegistryFile().string(),
                                   "--authority-pub",
                                   deployment.AuthorityPub().string(),
                                   "--key",
                                   deployment.KeyFile(deployment.broker_id()).string(),
                                   "--metrics-listen",
                                   "off",
                                   "--checkpoint-every",
                                   "100000"};
  auto limited = Process::Start(argv, dir.path() / "relaisd.limited.log");
  ASSERT_TRUE(limited);
  ASSERT_TRUE((*limited)->WaitForLog("relaisd_ready", 20s)) << (*limited)->Log();

  auto hospital_id = deployment.Identity("hospital");
  std::vector<schema::Envelope> envelopes;
  for (int i = 0; i < 3000; ++i)
    envelopes.push_back(MakeReferral(deployment, hospital_id, {"assoc-a"}));
  std::map<std::string, uint64_t> ok;
  std::map<std::string, int> refusals;
  {
    auto hospital = ConnectClient(deployment, hospital_id, endpoint);
    size_t next = 0;
    auto end = std::chrono::steady_clock::now() + 60s;
    bool stopped = false;  // stop submitting once the broker refused or went away
    while (std::chrono::steady_clock::now() < end &&
           ((!stopped && next < envelopes.size()) || hospital->PublishesInFlight() > 0)) {
      stopped = stopped || !refusals.empty() || !(*limited)->Running();
      if (!stopped && next < envelopes.size() && hospital->PublishesInFlight() < 32) {
        (void)hospital->SubmitPublish(envelopes[next++], sdk::DeadlineAfter(3s));
        continue;
      }
      for (auto& r : hospital->PollAcks(20ms)) {
        if (r.outcome) {
          ok[base::HexEncode(r.event_id)] = r.outcome->seq;
        } else {
          ++refusals[r.outcome.error().code];
        }
      }
    }
  }
  std::string summary;
  for (const auto& [code, n] : refusals) summary += code + "=" + std::to_string(n) + " ";
  const bool exited = (*limited)->Wait(10s).has_value();
  std::printf(
      "disk fault: %zu of %zu publishes acked ok before the limit; not acked: %s; "
      "relaisd %s\n",
      ok.size(), envelopes.size(), summary.c_str(), exited ? "exited (fail-stop)" : "ran on");
  EXPECT_LT(ok.size(), envelopes.size()) << "the limit was never reached: the test proves nothing";
  EXPECT_GT(ok.size(), 0u);
  EXPECT_FALSE(refusals.empty());
  EXPECT_TRUE(exited) << "relaisd kept running after a write error: " << summary;
  limited->reset();  // SIGKILL if still running

  // Restart without the limit: everything acked is there, the chain verifies, and the publisher
  // publishing everything again gets the acked ones as duplicates with their original seq.
  broker.Start();
  auto hospital = ConnectClient(deployment, hospital_id, broker.endpoint());
  auto results = hospital->PublishMany(envelopes, 64, sdk::DeadlineAfter(60s));
  size_t duplicates = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i]) << results[i].error().ToString();
    auto id = base::HexEncode(schema::DecodeHeader(envelopes[i].header)->event_id);
    auto it = ok.find(id);
    if (it != ok.end()) {
      EXPECT_TRUE(results[i]->duplicate);
      EXPECT_EQ(results[i]->seq, it->second);
      ++duplicates;
    }
  }
  EXPECT_EQ(duplicates, ok.size());
  auto reader = journal::JournalReader::Open({broker.journal(), ""});
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->GetHead()->seq, envelopes.size());  // each event exactly once
  auto chain = (*reader)->VerifyChain();
  ASSERT_TRUE(chain);
  EXPECT_FALSE(chain->fault.has_value());
  EXPECT_TRUE((*reader)->IntegrityCheck());
}

}  // namespace
}  // namespace relais::testing
