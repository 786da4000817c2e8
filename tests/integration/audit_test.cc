// Cross-process tests of `relais audit verify`: a journal written by a real relaisd, checked by
// the real CLI, then tampered with the sqlite3 command-line tool as an attacker with file access
// would, who also recomputes the page checksums (TamperJournal; a naive edit is refused as
// journal_corrupt, see doctor_test.cc).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "broker/journal/chain.h"
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
    CommandResult r = TamperJournal(broker_->journal(), sql);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  // Runs SQL on the journal with the sqlite3 command-line tool (the broker stopped first).
  void Sql(const std::string& sql) {
    broker_->Stop();
    CommandResult r = TamperJournal(broker_->journal(), sql);
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }

  // Exports the journal's last stored checkpoint to a file, as an operator would for witnesses.
  std::string ExportLastCheckpoint(int& seq) {
    auto reader = journal::JournalReader::Open({.path = broker_->journal(), .vfs = {}});
    EXPECT_TRUE(reader);
    auto last = (*reader)->LastCheckpoint();
    EXPECT_TRUE(last && last->has_value());
    std::string file = (dir_.path() / "exported.checkpoint").string();
    EXPECT_TRUE(journal::WriteCheckpointFile(file, {.checkpoint = **last, .witnesses = {}}));
    seq = static_cast<int>((*last)->seq);
    return file;
  }

  // Recomputes the entry hash of every entry from `seq` on, as an attacker rewriting the tail
  // would, through sqlite3.
  void RechainFrom(int seq) {
    broker_->Stop();
    auto reader = journal::JournalReader::Open({.path = broker_->journal(), .vfs = {}});
    ASSERT_TRUE(reader);
    std::vector<journal::StoredEntry> entries;
    ASSERT_TRUE((*reader)->ForEachFrom(
        1,
        [&](const journal::StoredEntry& e) {
          entries.push_back(e);
          return true;
        },
        journal::ReadScope::kMetadata));
    reader->reset();
    crypto::Digest prev = journal::kGenesisHash;
    std::string sql;
    for (const auto& e : entries) {
      journal::ChainLink link{e.seq,
                              e.received_at,
                              crypto::Blake2b(e.envelope.header),
                              e.envelope.signature,
                              e.envelope.body_digest,
                              e.envelope.wraps_digest};
      crypto::Digest hash = journal::EntryHash(prev, link);
      if (static_cast<int>(e.seq) >= seq) {
        sql += "UPDATE entries SET entry_hash = X'" + base::HexEncode(crypto::View(hash)) +
               "' WHERE seq = " + std::to_string(e.seq) + ";";
      }
      prev = static_cast<int>(e.seq) >= seq ? hash : e.entry_hash;
    }
    Sql(sql);
  }

  // A registry signed by the same authority with the broker and `hospital_pub` as "hospital"
  // (keys valid from now on), or without the hospital when `hospital_pub` is empty.
  std::string OtherRegistry(const std::string& name, const std::string& hospital_pub) {
    const std::string reg = (dir_.path() / (name + ".bin")).string();
    const std::string auth_key = (deployment_->dir() / "keys" / "authority.key").string();
    auto run = [](std::vector<std::string> args) {
      args.insert(args.begin(), RelaisBin());
      CommandResult r = RunCommand(args);
      EXPECT_EQ(r.exit_code, 0) << r.output;
    };
    run({"registry", "init", "--authority-key", auth_key, "--out", reg});
    run({"registry", "add", reg, "--pub",
         (deployment_->dir() / "keys" / "broker-test.pub").string(), "--kind", "broker", "--name",
         "Broker", "--territory", "75"});
    if (!hospital_pub.empty()) {
      run({"registry", "add", reg, "--pub", hospital_pub, "--kind", "hospital", "--name",
           "Hospital", "--territory", "75"});
    }
    run({"registry", "sign", reg, "--authority-key", auth_key});
    return reg;
  }

  CommandResult VerifyWith(const std::string& registry) {
    return RunCommand({RelaisBin(), "audit", "verify", broker_->journal().string(), "--registry",
                       registry, "--authority-pub", deployment_->AuthorityPub().string()});
  }

  // Problem lines (those starting with "seq ", "checkpoint") of a verify output.
  static size_t ProblemLines(const std::string& output) {
    size_t n = 0, pos = 0;
    while (pos < output.size()) {
      size_t end = output.find('\n', pos);
      if (end == std::string::npos) end = output.size();
      std::string line = output.substr(pos, end - pos);
      if (line.rfind("seq ", 0) == 0 || line.rfind("checkpoint", 0) == 0) ++n;
      pos = end + 1;
    }
    return n;
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
  EXPECT_NE(r.output.find(At(seq) + "(referral): modified_row: chain_broken"), std::string::npos)
      << r.output;
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
  EXPECT_NE(r.output.find(At(seq) + "(referral): modified_row: chain_broken"), std::string::npos)
      << r.output;
}

TEST_F(AuditVerifyTest, DeletedEntryIsReportedAtItsSeqOnce) {
  const int seq = referral_seqs_[0];
  broker_->Stop();
  CommandResult del = TamperJournal(broker_->journal(),
                                    "DELETE FROM entries WHERE seq = " + std::to_string(seq) + ";");
  ASSERT_EQ(del.exit_code, 0) << del.output;
  CommandResult r = Verify();
  EXPECT_EQ(r.exit_code, 2) << r.output;
  const std::string missing = At(seq) + "(no entry): missing_row: chain_broken: entry missing";
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

TEST_F(AuditVerifyTest, SwappedRowsAreReportedAsReorderedAtBothSeqs) {
  const int a = referral_seqs_[0], b = referral_seqs_[1];
  ASSERT_EQ(b, a + 1);
  Sql("UPDATE entries SET seq = -1 WHERE seq = " + std::to_string(a) +
      "; UPDATE entries SET seq = " + std::to_string(a) + " WHERE seq = " + std::to_string(b) +
      "; UPDATE entries SET seq = " + std::to_string(b) + " WHERE seq = -1;");
  CommandResult r = Verify({}, /*with_registry=*/false);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(At(a) +
                          "(referral): reordered_rows: chain_broken: holds the entry "
                          "chained at seq " +
                          std::to_string(b)),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find(At(b) +
                          "(referral): reordered_rows: chain_broken: holds the entry "
                          "chained at seq " +
                          std::to_string(a)),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find(At(referral_seqs_[2]) + "(referral): "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("modified_row"), std::string::npos) << r.output;
}

TEST_F(AuditVerifyTest, ModifiedHeaderColumnIsAModifiedRow) {
  const int seq = referral_seqs_[2];
  Sql("UPDATE entries SET emitter = 'assoc-a' WHERE seq = " + std::to_string(seq) + ";");
  CommandResult r = Verify();
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(At(seq) + "(referral): modified_row: chain_broken: emitter does not "
                                    "match the header"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(ProblemLines(r.output), 1u) << r.output;
}

TEST_F(AuditVerifyTest, RewrittenTailIsCaughtByTheStoredCheckpointsAtEachSeq) {
  const int seq = referral_seqs_[1];
  Sql("UPDATE entries SET received_at = received_at + 1 WHERE seq = " + std::to_string(seq) + ";");
  RechainFrom(seq);
  CommandResult r = Verify();
  EXPECT_EQ(r.exit_code, 2) << r.output;
  // The chain itself verifies again; each checkpoint from the rewritten seq on does not.
  EXPECT_EQ(r.output.find("chain_broken"), std::string::npos) << r.output;
  const uint64_t head = HeadSeq();
  for (uint64_t s = seq; s <= head; ++s) {
    EXPECT_NE(r.output.find("checkpoint at seq " + std::to_string(s) +
                            " (referral): rewritten_tail: checkpoint_mismatch"),
              std::string::npos)
        << r.output;
  }
  EXPECT_EQ(ProblemLines(r.output), head - seq + 1) << r.output;
}

TEST_F(AuditVerifyTest, RewrittenTailWithItsCheckpointsDeletedNeedsAnExportedCheckpoint) {
  int exported = 0;
  const std::string file = ExportLastCheckpoint(exported);
  const int seq = referral_seqs_[1];
  Sql("UPDATE entries SET received_at = received_at + 1 WHERE seq = " + std::to_string(seq) +
      "; DELETE FROM checkpoints WHERE seq >= " + std::to_string(seq) + ";");
  RechainFrom(seq);
  CommandResult alone = Verify();
  EXPECT_EQ(alone.exit_code, 0) << "what the journal alone cannot prove: " << alone.output;
  CommandResult r = Verify({"--checkpoints", file});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("checkpoint file " + file + " at seq " + std::to_string(exported) +
                          " (referral): rewritten_tail: checkpoint_mismatch"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(ProblemLines(r.output), 1u) << r.output;
}

TEST_F(AuditVerifyTest, TruncatedTailIsCaughtByAnExportedCheckpoint) {
  int exported = 0;
  const std::string file = ExportLastCheckpoint(exported);
  Sql("DELETE FROM entries WHERE seq >= " + std::to_string(exported) +
      "; DELETE FROM checkpoints WHERE seq >= " + std::to_string(exported) + ";");
  CommandResult r = Verify({"--checkpoints", file});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("checkpoint file " + file + " at seq " + std::to_string(exported) +
                          " (no entry): rewritten_tail: journal_truncated"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(ProblemLines(r.output), 1u) << r.output;
}

TEST_F(AuditVerifyTest, UnknownKeyUnknownEmitterAndKeyNotValidAtReception) {
  broker_->Stop();
  // The hospital registered with another key: its entries name a key the registry lacks.
  const std::string other_keys = (dir_.path() / "other-keys").string();
  std::filesystem::create_directories(other_keys);
  ASSERT_EQ(
      RunCommand({RelaisBin(), "keygen", "--agency", "hospital", "--out", other_keys}).exit_code,
      0);
  CommandResult unknown_key =
      VerifyWith(OtherRegistry("reg-other-key", other_keys + "/hospital.pub"));
  // The hospital's own key, registered only now: not valid when its entries were received.
  CommandResult late = VerifyWith(
      OtherRegistry("reg-late", (deployment_->dir() / "keys" / "hospital.pub").string()));
  CommandResult no_hospital = VerifyWith(OtherRegistry("reg-no-hospital", ""));
  for (int seq : referral_seqs_) {
    EXPECT_NE(unknown_key.output.find(At(seq) + "(referral): unknown_key: key "), std::string::npos)
        << unknown_key.output;
    EXPECT_NE(late.output.find(At(seq) + "(referral): key_not_valid: key "), std::string::npos)
        << late.output;
    EXPECT_NE(no_hospital.output.find(At(seq) + "(referral): unknown_emitter: emitter hospital"),
              std::string::npos)
        << no_hospital.output;
  }
  for (const auto* r : {&unknown_key, &late, &no_hospital}) {
    EXPECT_EQ(r->exit_code, 2) << r->output;
    EXPECT_EQ(ProblemLines(r->output), static_cast<size_t>(kReferrals)) << r->output;
  }
}

TEST_F(AuditVerifyTest, ExportedCountersignedCheckpointVerifiesAndAForgedWitnessIsReported) {
  const std::string file = (dir_.path() / "witnessed.checkpoint").string();
  CommandResult exported = RunCommand(
      {RelaisBin(), "audit", "export-checkpoint", broker_->journal().string(), "--out", file});
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  CommandResult signed_by_a = RunCommand({RelaisBin(), "audit", "countersign", file, "--key",
                                          deployment_->KeyFile("assoc-a").string(), "--registry",
                                          deployment_->RegistryFile().string(), "--authority-pub",
                                          deployment_->AuthorityPub().string()});
  ASSERT_EQ(signed_by_a.exit_code, 0) << signed_by_a.output;
  EXPECT_NE(signed_by_a.output.find("assoc-a countersigned"), std::string::npos);
  auto parsed = journal::ReadCheckpointFile(file);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->witnesses.size(), 1u);
  const int seq = static_cast<int>(parsed->checkpoint.seq);
  CommandResult ok = Verify({"--checkpoints", file});
  EXPECT_EQ(ok.exit_code, 0) << ok.output;

  parsed->witnesses[0].signature[0] ^= 1;  // a forged or damaged witness line
  ASSERT_TRUE(journal::WriteCheckpointFile(file, *parsed));
  CommandResult r = Verify({"--checkpoints", file});
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("checkpoint file " + file + " at seq " + std::to_string(seq) +
                          " (referral): bad_witness_signature"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(ProblemLines(r.output), 1u) << r.output;
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
