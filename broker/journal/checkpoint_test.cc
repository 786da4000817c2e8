// Checkpoints: the signed message, the export file, witnesses, when the journal writes them, and
// the audit that catches a rewritten or truncated history.
#include "broker/journal/checkpoint.h"

#include <gtest/gtest.h>

#include "broker/journal/audit.h"
#include "broker/journal/testing/events.h"
#include "broker/journal/testing/fixture.h"

namespace relais::journal {
namespace {

using testing::MakeRequest;

crypto::Digest SomeHash(uint8_t fill) {
  crypto::Digest d;
  d.fill(fill);
  return d;
}

class CheckpointFormatTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { crypto::Init(); }
  KeySet Keys(const crypto::SigningKeyPair& kp, const std::string& owner) {
    KeySet keys;
    keys.Add(owner, kp.public_key);
    return keys;
  }
  crypto::SigningKeyPair broker_ = crypto::GenerateSigningKeyPair();
  crypto::SigningKeyPair witness_ = crypto::GenerateSigningKeyPair();
  crypto::SigningKeyPair other_ = crypto::GenerateSigningKeyPair();
};

TEST_F(CheckpointFormatTest, MessageIsDomainSeqHashTime) {
  base::Bytes m = CheckpointMessage(0x0102, SomeHash(0xee), -1);
  ASSERT_EQ(m.size(), 20u + 8 + 32 + 8);
  EXPECT_EQ(base::ToString(base::ByteView(m).subspan(0, 20)), "relais-checkpoint-v1");
  EXPECT_EQ(base::HexEncode(base::ByteView(m).subspan(20, 8)), "0000000000000102");
  EXPECT_EQ(m[28], 0xee);
  EXPECT_EQ(base::HexEncode(base::ByteView(m).subspan(60, 8)), "ffffffffffffffff");
}

TEST_F(CheckpointFormatTest, SignedCheckpointVerifiesOnlyUnderItsKeyAndContent) {
  Checkpoint cp = SignCheckpoint(42, SomeHash(1), 1000, broker_.secret_key);
  EXPECT_EQ(cp.key_id, crypto::KeyId(broker_.public_key));
  EXPECT_TRUE(VerifyCheckpoint(cp, Keys(broker_, "broker")).has_value());
  EXPECT_EQ(VerifyCheckpoint(cp, Keys(other_, "broker")).error().code, "unknown_checkpoint_key");
  Checkpoint moved = cp;
  moved.seq = 43;
  EXPECT_EQ(VerifyCheckpoint(moved, Keys(broker_, "broker")).error().code,
            "bad_checkpoint_signature");
}

TEST_F(CheckpointFormatTest, FileRoundTripsWithWitnesses) {
  CheckpointFile file{SignCheckpoint(7, SomeHash(2), 1'764'000'000'000, broker_.secret_key), {}};
  ASSERT_TRUE(
      Countersign(file, "siao-75", witness_.secret_key, 1'764'000'001'000, Keys(broker_, "broker"))
          .has_value());
  std::string text = FormatCheckpointFile(file);
  EXPECT_EQ(text.rfind("relais-checkpoint-v1\n", 0), 0u);
  auto parsed = ParseCheckpointFile(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(*parsed, file);
  EXPECT_TRUE(VerifyWitnesses(*parsed, Keys(witness_, "siao-75"), 1).has_value());
}

TEST_F(CheckpointFormatTest, ParseRejectsMalformedFilesNamingTheLine) {
  CheckpointFile file{SignCheckpoint(7, SomeHash(2), 5, broker_.secret_key), {}};
  const std::string good = FormatCheckpointFile(file);
  auto replace = [&](const std::string& from, const std::string& to) {
    std::string t = good;
    t.replace(t.find(from), from.size(), to);
    return t;
  };
  const std::vector<std::string> bad = {
      "",
      replace("relais-checkpoint-v1", "relais-checkpoint-v2"),
      replace("seq 7", "seq seven"),
      replace("seq 7", "seq 0"),
      replace("head-hash ", "head-hash 00"),
      replace("time 5", "time 5.0"),
      replace("key-id ", "key-id x"),
      replace("signature ", "signature 0"),
      good + "witness siao-75 0011223344556677 5\n",
      good + "extra line\n",
      std::string(kMaxCheckpointFileBytes + 1, '#'),
  };
  for (const std::string& text : bad) {
    auto parsed = ParseCheckpointFile(text);
    ASSERT_FALSE(parsed.has_value()) << text;
    EXPECT_EQ(parsed.error().code, "bad_checkpoint_file");
    EXPECT_NE(parsed.error().message.find("line "), std::string::npos);
  }
}

TEST_F(CheckpointFormatTest, AcceptsCommentsAndCrLf) {
  CheckpointFile file{SignCheckpoint(7, SomeHash(2), 5, broker_.secret_key), {}};
  std::string text = "# exported for the DPO\n" + FormatCheckpointFile(file);
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  auto parsed = ParseCheckpointFile(crlf);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(*parsed, file);
}

TEST_F(CheckpointFormatTest, WitnessRefusesToCountersignWhatTheBrokerDidNotSign) {
  CheckpointFile file{SignCheckpoint(7, SomeHash(2), 5, other_.secret_key), {}};
  auto st = Countersign(file, "siao-75", witness_.secret_key, 9, Keys(broker_, "broker"));
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code, "unknown_checkpoint_key");
  EXPECT_TRUE(file.witnesses.empty());
}

TEST_F(CheckpointFormatTest, WitnessChecksCatchForgeriesAndCountDistinctAgencies) {
  CheckpointFile file{SignCheckpoint(7, SomeHash(2), 5, broker_.secret_key), {}};
  KeySet broker = Keys(broker_, "broker");
  ASSERT_TRUE(Countersign(file, "siao-75", witness_.secret_key, 9, broker).has_value());
  KeySet witnesses = Keys(witness_, "siao-75");
  EXPECT_EQ(VerifyWitnesses(file, witnesses, 2).error().code, "too_few_witnesses");
  EXPECT_EQ(VerifyWitnesses(file, Keys(other_, "siao-75"), 0).error().code, "unknown_witness_key");
  EXPECT_EQ(VerifyWitnesses(file, Keys(witness_, "asso-abri"), 0).error().code,
            "unknown_witness_key");  // a key is trusted for one agency only
  CheckpointFile forged = file;
  forged.witnesses[0].witnessed_at += 1;
  EXPECT_EQ(VerifyWitnesses(forged, witnesses, 1).error().code, "bad_witness_signature");
  CheckpointFile other_head = file;
  other_head.checkpoint.head_hash = SomeHash(3);
  EXPECT_EQ(VerifyWitnesses(other_head, witnesses, 1).error().code, "bad_witness_signature");
  // The same witness twice still counts once.
  ASSERT_TRUE(Countersign(file, "siao-75", witness_.secret_key, 10, broker).has_value());
  EXPECT_EQ(VerifyWitnesses(file, witnesses, 2).error().code, "too_few_witnesses");
}

class JournalCheckpointTest : public testing::JournalFixture {
 protected:
  std::vector<uint64_t> CheckpointSeqs() {
    std::vector<uint64_t> seqs;
    auto checkpoints = Reader()->Checkpoints();
    for (const Checkpoint& cp : *checkpoints) seqs.push_back(cp.seq);
    return seqs;
  }
};

TEST_F(JournalCheckpointTest, WrittenEveryNRowsSignedWithTheBrokerKey) {
  JournalOptions options = Options();
  options.checkpoint_every_rows = 4;
  auto journal = Open(options);
  AppendMany(*journal, 9);
  EXPECT_EQ(CheckpointSeqs(), (std::vector<uint64_t>{4, 8}));
  auto reader = Reader();
  auto checkpoints = reader->Checkpoints();
  for (const Checkpoint& cp : *checkpoints) {
    EXPECT_TRUE(reader->CheckCheckpoint(cp, BrokerKeys()).has_value());
  }
  ASSERT_TRUE(journal->Close().has_value());
  EXPECT_EQ(CheckpointSeqs(), (std::vector<uint64_t>{4, 8, 9}));  // a final one on close
}

TEST_F(JournalCheckpointTest, WrittenWhenTheIntervalHasPassed) {
  auto journal = Open();
  AppendMany(*journal, 2);
  EXPECT_TRUE(CheckpointSeqs().empty());
  clock_.Advance(61'000);
  AppendMany(*journal, 1);
  EXPECT_EQ(CheckpointSeqs(), (std::vector<uint64_t>{3}));
  auto last = Reader()->LastCheckpoint();
  EXPECT_EQ((*last)->time, clock_.NowMs());
}

TEST_F(JournalCheckpointTest, CheckpointNowWritesOnlyWhenTheHeadMoved) {
  auto journal = Open();
  EXPECT_FALSE(journal->CheckpointNow()->has_value());
  AppendMany(*journal, 2);
  auto cp = journal->CheckpointNow();
  ASSERT_TRUE(cp.has_value() && cp->has_value());
  EXPECT_EQ((*cp)->seq, 2u);
  EXPECT_EQ((*cp)->head_hash, journal->head().hash);
  EXPECT_EQ(**journal->CheckpointNow(), **cp);
  EXPECT_EQ(CheckpointSeqs().size(), 1u);
}

TEST_F(JournalCheckpointTest, WithoutAKeyNoCheckpointIsWritten) {
  auto journal = Journal::Open(Options(), clock_, nullptr);
  ASSERT_TRUE(journal.has_value());
  AppendMany(**journal, 3);
  EXPECT_EQ((*journal)->CheckpointNow().error().code, "no_checkpoint_key");
  ASSERT_TRUE((*journal)->Close().has_value());
  EXPECT_TRUE(CheckpointSeqs().empty());
}

class AuditTest : public testing::JournalFixture {
 protected:
  static constexpr const char* kWitness = "siao-75";
  AuditOptions Trust(size_t min_witnesses = 1) {
    AuditOptions o;
    o.broker_keys = BrokerKeys();
    o.witness_keys.Add(kWitness, witness_.public_key);
    o.min_witnesses = min_witnesses;
    return o;
  }
  // The broker exports its latest checkpoint; the witness countersigns it.
  CheckpointFile ExportAndWitness(Journal& journal) {
    auto cp = journal.CheckpointNow();
    EXPECT_TRUE(cp.has_value() && cp->has_value());
    CheckpointFile file{**cp, {}};
    EXPECT_TRUE(
        Countersign(file, kWitness, witness_.secret_key, clock_.NowMs(), BrokerKeys()).has_value());
    auto path = dir_.path() / "checkpoint.txt";
    EXPECT_TRUE(WriteCheckpointFile(path, file).has_value());
    auto back = ReadCheckpointFile(path);
    EXPECT_TRUE(back.has_value());
    return *back;
  }
  crypto::SigningKeyPair witness_ = crypto::GenerateSigningKeyPair();
};

TEST_F(AuditTest, AnHonestJournalPassesWithItsWitnessedCheckpoint) {
  auto journal = Open();
  AppendMany(*journal, 12);
  CheckpointFile file = ExportAndWitness(*journal);
  AppendMany(*journal, 3);
  auto report = AuditJournal(*Reader(), {file}, Trust());
  ASSERT_TRUE(report.has_value()) << report.error().ToString();
  EXPECT_EQ(report->entries, 15u);
  EXPECT_EQ(report->head.seq, 15u);
  EXPECT_EQ(report->checkpoint_files, 1u);
  EXPECT_EQ(report->witness_signatures, 1u);
  EXPECT_GE(report->journal_checkpoints, 1u);
}

TEST_F(AuditTest, ARewrittenTailIsDetectedAgainstTheExportedCheckpoint) {
  // The operator keeps seq 1..10, then replaces everything after with other events, re-signing
  // the journal's own checkpoints with the broker key. Only the exported, witnessed checkpoint
  // still remembers the original history.
  auto journal = Open();
  AppendMany(*journal, 10);
  ASSERT_TRUE(journal->Close().has_value());
  std::filesystem::copy_file(db_path(), dir_.path() / "fork.db");
  journal = Open();
  AppendMany(*journal, 10);
  CheckpointFile witnessed = ExportAndWitness(*journal);
  ASSERT_EQ(witnessed.checkpoint.seq, 20u);
  ASSERT_TRUE(journal->Close().has_value());
  std::filesystem::rename(dir_.path() / "fork.db", db_path());
  journal = Open();  // the forked journal is internally consistent
  AppendMany(*journal, 10, {.case_ref = "c-other"});
  ASSERT_TRUE(journal->Close().has_value());

  auto reader = Reader();
  EXPECT_FALSE(reader->VerifyChain()->fault.has_value());
  auto audit = AuditJournal(*reader, {witnessed}, Trust());
  ASSERT_FALSE(audit.has_value());
  EXPECT_EQ(audit.error().code, "checkpoint_mismatch");
  EXPECT_EQ(audit.error().kind, base::ErrorKind::kCorruption);
  EXPECT_NE(audit.error().message.find("seq 20"), std::string::npos);
}

TEST_F(AuditTest, ATruncatedJournalIsDetectedAgainstTheExportedCheckpoint) {
  auto journal = Open();
  AppendMany(*journal, 8);
  CheckpointFile witnessed = ExportAndWitness(*journal);
  ASSERT_TRUE(journal->Close().has_value());
  ExecRaw("DELETE FROM entries WHERE seq > 5; DELETE FROM checkpoints WHERE seq > 5;");
  auto audit = AuditJournal(*Reader(), {witnessed}, Trust());
  ASSERT_FALSE(audit.has_value());
  EXPECT_EQ(audit.error().code, "journal_truncated");
}

TEST_F(AuditTest, RequiresTheConfiguredNumberOfWitnesses) {
  auto journal = Open();
  AppendMany(*journal, 3);
  CheckpointFile file = ExportAndWitness(*journal);
  auto audit = AuditJournal(*Reader(), {file}, Trust(2));
  ASSERT_FALSE(audit.has_value());
  EXPECT_EQ(audit.error().code, "too_few_witnesses");
}

TEST_F(AuditTest, ReportsTheFirstBadSeqOfABrokenChain) {
  auto journal = Open();
  AppendMany(*journal, 6);
  ASSERT_TRUE(journal->Close().has_value());
  CorruptColumn(2, "signature");
  auto audit = AuditJournal(*Reader(), {}, Trust(0));
  ASSERT_FALSE(audit.has_value());
  EXPECT_EQ(audit.error().code, "chain_broken");
  EXPECT_NE(audit.error().message.find("first bad seq 2:"), std::string::npos);
}

}  // namespace
}  // namespace relais::journal
