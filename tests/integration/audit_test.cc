// Cross-process tests of `relais audit verify`: a journal written by a real relaisd, checked by
// the real CLI, then tampered with the sqlite3 command-line tool as an attacker with file access
// would.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "broker/journal/checkpoint.h"
#include "broker/journal/reader.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;

class AuditVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    deployment_ = std::make_unique<Deployment>(dir_.path());
    AddHospitalAndAssociations(*deployment_, {"assoc-a", "assoc-b"});
    deployment_->Sign();
    broker_ = std::make_unique<BrokerProcess>(*deployment_,
                                              std::vector<std::string>{"--checkpoint-every", "1"});
    broker_->Start();
    auto hospital_id = deployment_->Identity("hospital");
    auto hospital = ConnectClient(*deployment_, hospital_id, broker_->endpoint());
    for (int i = 0; i < kReferrals; ++i) {
      auto envelope = MakeReferral(*deployment_, hospital_id, {"assoc-a", "assoc-b"});
      auto outcome = hospital->Publish(envelope, sdk::DeadlineAfter(10s));
      ASSERT_TRUE(outcome) << outcome.error().ToString();
      referral_seqs_.push_back(static_cast<int>(outcome->seq));
    }
  }

  uint64_t HeadSeq() {
    auto reader = journal::JournalReader::Open({.path = broker_->journal(), .vfs = {}});
    EXPECT_TRUE(reader);
    if (!reader) return 0;
    auto head = (*reader)->GetHead();
    EXPECT_TRUE(head);
    return head ? head->seq : 0;
  }

  static std::string At(int seq) { return "seq " + std::to_string(seq) + " "; }

  CommandResult Verify(std::vector<std::string> extra = {}, bool with_registry = true) {
    std::vector<std::string> argv = {RelaisBin(), "audit", "verify", broker_->journal().string()};
    if (with_registry) {
      argv.insert(argv.end(), {"--registry", deployment_->RegistryFile().string(),
                               "--authority-pub", deployment_->AuthorityPub().string()});
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  // Flips the first byte of one stored column of one entry, through the sqlite3 CLI.
  void FlipFirstByte(const std::string& column, int seq) {
    broker_->Stop();
    std::string sql = "UPDATE entries SET " + column + " = (CASE WHEN substr(" + column +
                      ", 1, 1) = X'00' THEN X'01' ELSE X'00' END) || substr(" + column +
                      ", 2) WHERE seq = " + std::to_string(seq) + ";";
    CommandResult r = RunCommand({"sqlite3", broker_->journal().string(), sql});
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  static constexpr int kReferrals = 3;
  TempDir dir_;
  std::unique_ptr<Deployment> deployment_;
  std::unique_ptr<BrokerProcess> broker_;
  std::vector<int> referral_seqs_;  // journal seqs of the referrals, in publish order
};

TEST_F(AuditVerifyTest, UntouchedJournalVerifiesWhileBrokerRuns) {
  CommandResult r = Verify();
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("verified " + std::to_string(HeadSeq()) + " entries"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(": OK"), std::string::npos) << r.output;
}

TEST_F(AuditVerifyTest, ChainOnlyWithoutRegistrySaysSignaturesUnchecked) {
  CommandResult r = Verify({}, /*with_registry=*/false);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("signatures not checked"), std::string::npos) << r.output;
}

TEST_F(AuditVerifyTest, ModifiedBodyDigestIsReportedAtItsSeq) {
  const int seq = referral_seqs_[1];
  FlipFirstByte("body_digest", seq);
  CommandResult r = Verify();
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(At(seq) + "(referral): chain_broken"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(At(seq) + "(referral): bad_signature"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(At(referral_seqs_[0])), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(At(referral_seqs_[2])), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("problems"), std::string::npos) << r.output;
}

TEST_F(AuditVerifyTest, ModifiedSealedBodyIsReportedEvenWithoutRegistry) {
  const int seq = referral_seqs_[2];
  FlipFirstByte("body", seq);
  CommandResult r = Verify({}, /*with_registry=*/false);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(At(seq) + "(referral): chain_broken"), std::string::npos) << r.output;
}

TEST_F(AuditVerifyTest, DeletedEntryIsReportedAtItsSeqOnce) {
  const int seq = referral_seqs_[0];
  broker_->Stop();
  CommandResult del = RunCommand({"sqlite3", broker_->journal().string(),
                                  "DELETE FROM entries WHERE seq = " + std::to_string(seq) + ";"});
  ASSERT_EQ(del.exit_code, 0) << del.output;
  CommandResult r = Verify();
  EXPECT_EQ(r.exit_code, 2) << r.output;
  const std::string missing = At(seq) + "(no entry): chain_broken: entry missing";
  auto first = r.output.find(missing);
  EXPECT_NE(first, std::string::npos) << r.output;
  EXPECT_EQ(r.output.find(missing, first + 1), std::string::npos) << r.output;
}

TEST_F(AuditVerifyTest, ModifiedSignatureIsReportedAtItsSeq) {
  const int seq = referral_seqs_[0];
  FlipFirstByte("signature", seq);
  CommandResult r = Verify();
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(At(seq) + "(referral): bad_signature"), std::string::npos) << r.output;
}

TEST_F(AuditVerifyTest, RewrittenEntryHashFailsTheExportedCheckpointFile) {
  auto reader = journal::JournalReader::Open({.path = broker_->journal(), .vfs = {}});
  ASSERT_TRUE(reader);
  auto last = (*reader)->LastCheckpoint();
  ASSERT_TRUE(last && last->has_value());
  std::string file = (dir_.path() / "exported.checkpoint").string();
  ASSERT_TRUE(journal::WriteCheckpointFile(file, {.checkpoint = **last, .witnesses = {}}));
  const int seq = static_cast<int>((*last)->seq);
  reader->reset();

  CommandResult ok = Verify({"--checkpoints", file});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;

  FlipFirstByte("entry_hash", seq);
  CommandResult r = Verify({"--checkpoints", file});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("checkpoint file " + file + " at seq " + std::to_string(seq)),
            std::string::npos)
      << r.output;
}

TEST_F(AuditVerifyTest, CheckpointFilesWithoutRegistryAreAUsageError) {
  CommandResult r = Verify({"--checkpoints", "x.checkpoint"}, /*with_registry=*/false);
  EXPECT_EQ(r.exit_code, 1) << r.output;
}

TEST_F(AuditVerifyTest, MissingJournalIsAUsageError) {
  CommandResult r = RunCommand({RelaisBin(), "audit", "verify", "/nonexistent/journal.db"});
  EXPECT_EQ(r.exit_code, 1) << r.output;
}

}  // namespace
}  // namespace relais::testing
