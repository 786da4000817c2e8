// Cross-process tests of `relais doctor` and `relais backup`: a deployment made with the real
// CLI, served by a real relaisd, checked by the real `relais` binary.
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "broker/journal/reader.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// The output lines whose check column is `check` ("OK    broker    ..." -> check "broker").
std::vector<std::string> LinesOf(const std::string& output, const std::string& check) {
  std::vector<std::string> lines;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string level, name;
    words >> level >> name;
    if (name == check) lines.push_back(line);
  }
  return lines;
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

class DoctorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    deployment_ = std::make_unique<Deployment>(dir_.path());
    AddHospitalAndAssociations(*deployment_, {"assoc-a"});
    deployment_->Sign();
    broker_ = std::make_unique<BrokerProcess>(*deployment_,
                                              std::vector<std::string>{"--checkpoint-every", "1"});
    broker_->Start();
    auto hospital_id = deployment_->Identity("hospital");
    auto hospital = ConnectClient(*deployment_, hospital_id, broker_->endpoint());
    for (int i = 0; i < 3; ++i) {
      auto outcome = hospital->Publish(MakeReferral(*deployment_, hospital_id, {"assoc-a"}),
                                       sdk::DeadlineAfter(10s));
      ASSERT_TRUE(outcome) << outcome.error().ToString();
    }
    // What relaisd.service gives them (UMask=0077, StateDirectoryMode=0700).
    state_dir_ = broker_->journal().parent_path();
    fs::permissions(state_dir_, fs::perms::owner_all);
    for (const std::string suffix : {"", "-wal", "-shm"}) {
      fs::path p = broker_->journal().string() + suffix;
      if (fs::exists(p)) fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
    }
  }

  CommandResult Doctor(const std::string& agency, std::vector<std::string> extra) {
    std::vector<std::string> argv = {RelaisBin(),       "doctor",
                                     "--key",           deployment_->KeyFile(agency).string(),
                                     "--registry",      deployment_->RegistryFile().string(),
                                     "--authority-pub", deployment_->AuthorityPub().string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  std::vector<std::string> Everything() {
    return {"--broker",    broker_->endpoint(), "--journal", broker_->journal().string(),
            "--state-dir", state_dir_.string(), "--full"};
  }

  // Free share of the state directory's filesystem, as doctor computes it.
  double FreePercent() {
    struct statvfs vfs;
    EXPECT_EQ(::statvfs(state_dir_.c_str(), &vfs), 0);
    return 100.0 * static_cast<double>(vfs.f_bavail) / static_cast<double>(vfs.f_blocks);
  }

  TempDir dir_;
  std::unique_ptr<Deployment> deployment_;
  std::unique_ptr<BrokerProcess> broker_;
  fs::path state_dir_;
};

TEST_F(DoctorTest, HealthyDeploymentIsAllOk) {
  CommandResult r = Doctor("assoc-a", Everything());
  // The machine's own disk decides the disk line: a nearly full disk must warn, not fail.
  const bool disk_low = FreePercent() < 10;
  EXPECT_EQ(r.exit_code, disk_low ? 1 : 0) << r.output;
  for (const char* check :
       {"key", "registry", "keys", "agency", "broker", "journal", "state-dir"}) {
    auto lines = LinesOf(r.output, check);
    ASSERT_EQ(lines.size(), 1u) << check << "\n" << r.output;
    EXPECT_TRUE(StartsWith(lines[0], "OK ")) << lines[0];
  }
  auto disk = LinesOf(r.output, "disk");
  ASSERT_EQ(disk.size(), 1u) << r.output;  // journal and state dir share one filesystem
  EXPECT_TRUE(StartsWith(disk[0], disk_low ? "WARN " : "OK ")) << disk[0];
  // The journal line counts what a real relaisd wrote: 3 referrals (plus broker events).
  auto journal = LinesOf(r.output, "journal")[0];
  EXPECT_NE(journal.find("hash chain intact"), std::string::npos) << journal;
  EXPECT_NE(journal.find("emitter signatures verified"), std::string::npos) << journal;
  EXPECT_EQ(journal.find(" 0 entries"), std::string::npos) << journal;
  // The broker probe works with the broker's own key too (the operator's usual run).
  CommandResult as_broker = Doctor(deployment_->broker_id(), {"--broker", broker_->endpoint()});
  EXPECT_TRUE(StartsWith(LinesOf(as_broker.output, "broker").at(0), "OK ")) << as_broker.output;
}

TEST_F(DoctorTest, GroupReadableKeyFailsWithTheFix) {
  fs::path key = deployment_->KeyFile("assoc-a");
  fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                           fs::perms::others_read);
  CommandResult r = Doctor("assoc-a", Everything());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  auto lines = LinesOf(r.output, "key");
  ASSERT_EQ(lines.size(), 1u) << r.output;
  EXPECT_TRUE(StartsWith(lines[0], "FAIL ")) << lines[0];
  EXPECT_NE(lines[0].find("mode 0644"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("fix: chmod 600 " + key.string()), std::string::npos) << lines[0];
  // The registry checks still run from the .pub beside it; the broker probe cannot.
  EXPECT_TRUE(StartsWith(LinesOf(r.output, "agency").at(0), "OK ")) << r.output;
  EXPECT_TRUE(StartsWith(LinesOf(r.output, "broker").at(0), "SKIP ")) << r.output;
  // No secret from the key file appears in the output.
  std::string key_text;
  {
    CommandResult cat = RunCommand({"sed", "-n", "s/^sign-secret: //p", key.string()});
    key_text = cat.output.substr(0, 32);
  }
  ASSERT_FALSE(key_text.empty());
  EXPECT_EQ(r.output.find(key_text), std::string::npos);
}

TEST_F(DoctorTest, UnreachableBrokerFails) {
  const std::string endpoint = "tcp://127.0.0.1:" + std::to_string(FreePort());
  CommandResult r = Doctor("assoc-a", {"--broker", endpoint});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  auto lines = LinesOf(r.output, "broker");
  ASSERT_EQ(lines.size(), 1u) << r.output;
  EXPECT_TRUE(StartsWith(lines[0], "FAIL ")) << lines[0];
  EXPECT_NE(lines[0].find("no answer from " + endpoint), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("systemctl status relaisd"), std::string::npos) << lines[0];
}

TEST_F(DoctorTest, StoppedBrokerFails) {
  broker_->Stop();
  CommandResult r = Doctor("assoc-a", {"--broker", broker_->endpoint()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(StartsWith(LinesOf(r.output, "broker").at(0), "FAIL ")) << r.output;
}

TEST_F(DoctorTest, RevokedAgencyFails) {
  deployment_->Revoke("assoc-a");
  deployment_->Sign();
  CommandResult r = Doctor("assoc-a", {});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  auto lines = LinesOf(r.output, "agency");
  ASSERT_EQ(lines.size(), 1u) << r.output;
  EXPECT_TRUE(StartsWith(lines[0], "FAIL ")) << lines[0];
  EXPECT_NE(lines[0].find("revoked"), std::string::npos) << lines[0];
}

TEST_F(DoctorTest, AgencyMissingFromRegistryFails) {
  deployment_->KeygenOnly("stranger");
  CommandResult r = Doctor("stranger", {});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(LinesOf(r.output, "agency").at(0).find("FAIL  agency    agency stranger is not in"),
            std::string::npos)
      << r.output;
}

TEST_F(DoctorTest, RegistryExpiringSoonWarns) {
  // The harness signs 30-day editions: within a 40-day warning window.
  CommandResult r = Doctor("assoc-a", {"--registry-warn-days", "40", "--disk-warn-percent", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  auto lines = LinesOf(r.output, "registry");
  ASSERT_EQ(lines.size(), 1u) << r.output;
  EXPECT_TRUE(StartsWith(lines[0], "WARN ")) << lines[0];
  EXPECT_NE(lines[0].find("relais registry sign"), std::string::npos) << lines[0];
}

TEST_F(DoctorTest, KeysEndingSoonWarn) {
  // Registry keys are valid 365 days from `registry add`.
  CommandResult r = Doctor("assoc-a", {"--key-warn-days", "400"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  auto lines = LinesOf(r.output, "keys");
  ASSERT_EQ(lines.size(), 1u) << r.output;
  EXPECT_TRUE(StartsWith(lines[0], "WARN ")) << lines[0];
  EXPECT_NE(lines[0].find("assoc-a ("), std::string::npos) << lines[0];
}

TEST_F(DoctorTest, LowDiskSpaceWarns) {
  CommandResult r =
      Doctor("assoc-a", {"--state-dir", state_dir_.string(), "--disk-warn-percent", "100"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(StartsWith(LinesOf(r.output, "disk").at(0), "WARN ")) << r.output;
}

TEST_F(DoctorTest, OpenStateDirWarns) {
  fs::permissions(state_dir_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
  CommandResult r =
      Doctor("assoc-a", {"--state-dir", state_dir_.string(), "--disk-warn-percent", "0"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  auto lines = LinesOf(r.output, "state-dir");
  ASSERT_EQ(lines.size(), 1u) << r.output;
  EXPECT_NE(lines[0].find("fix: chmod 700 " + state_dir_.string()), std::string::npos) << lines[0];
}

TEST_F(DoctorTest, TamperedJournalFails) {
  broker_->Stop();
  CommandResult sql =
      RunCommand({"sqlite3", broker_->journal().string(),
                  "UPDATE entries SET received_at = received_at + 1 WHERE seq = 2;"});
  ASSERT_EQ(sql.exit_code, 0) << sql.output;
  CommandResult r = Doctor("assoc-a", {"--journal", broker_->journal().string()});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  auto lines = LinesOf(r.output, "journal");
  ASSERT_EQ(lines.size(), 1u) << r.output;
  EXPECT_TRUE(StartsWith(lines[0], "FAIL ")) << lines[0];
  // A plain `sqlite3` edit does not keep the page checksums (docs/journal-format.md §1.1): the
  // damaged page is found before the chain is read.
  EXPECT_NE(lines[0].find("journal_corrupt"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("relais audit verify"), std::string::npos) << lines[0];
}

TEST_F(DoctorTest, BackupOfLiveJournalIsPrivateAndVerifies) {
  fs::path copy = dir_.path() / "backup.db";
  CommandResult r = RunCommand({RelaisBin(), "backup", broker_->journal().string(), copy.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("chain intact"), std::string::npos) << r.output;
  struct stat st;
  ASSERT_EQ(::stat(copy.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto original = journal::JournalReader::Open({.path = broker_->journal(), .vfs = {}});
  auto backup = journal::JournalReader::Open({.path = copy, .vfs = {}});
  ASSERT_TRUE(original && backup);
  auto head = (*original)->GetHead();
  auto backup_head = (*backup)->GetHead();
  ASSERT_TRUE(head && backup_head);
  EXPECT_GE(backup_head->seq, 3u);
  EXPECT_LE(backup_head->seq, head->seq);
  // An existing destination is refused, and left alone.
  CommandResult again =
      RunCommand({RelaisBin(), "backup", broker_->journal().string(), copy.string()});
  EXPECT_EQ(again.exit_code, 1) << again.output;
  EXPECT_NE(again.output.find("dest_exists"), std::string::npos) << again.output;
  // The copy passes the auditor's full verification.
  CommandResult verify = RunCommand({RelaisBin(), "audit", "verify", copy.string(), "--registry",
                                     deployment_->RegistryFile().string(), "--authority-pub",
                                     deployment_->AuthorityPub().string()});
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
}

}  // namespace
}  // namespace relais::testing
