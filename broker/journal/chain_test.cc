// The hash chain: its byte grammar, and detection of every kind of tampering at the right seq.
#include "broker/journal/chain.h"

#include <gtest/gtest.h>

#include "broker/journal/testing/events.h"
#include "broker/journal/testing/fixture.h"
#include "crypto/hash.h"

namespace relais::journal {
namespace {

using testing::MakeRequest;

TEST(EntryHashTest, InputIsTheDocumentedFixedWidthLayout) {
  crypto::Init();
  crypto::Digest prev;
  for (size_t i = 0; i < prev.size(); ++i) prev[i] = static_cast<uint8_t>(0xa0 + i % 16);
  base::Bytes sig(64, 0x51), body_digest(32, 0xb0), wraps_digest(32, 0xc0);
  crypto::Digest header_hash = crypto::Blake2b(base::AsBytes("header"));
  ChainLink link{0x0102030405060708ull, 0x1112131415161718ll, header_hash, sig,
                 body_digest,           wraps_digest};
  base::Bytes input = EntryHashInput(prev, link);
  ASSERT_EQ(input.size(), 208u);
  EXPECT_TRUE(std::equal(prev.begin(), prev.end(), input.begin()));
  EXPECT_EQ(base::HexEncode(base::ByteView(input).subspan(32, 16)),
            "01020304050607081112131415161718");
  EXPECT_TRUE(std::equal(header_hash.begin(), header_hash.end(), input.begin() + 48));
  EXPECT_EQ(input[80], 0x51);
  EXPECT_EQ(input[143], 0x51);
  EXPECT_EQ(input[144], 0xb0);
  EXPECT_EQ(input[176], 0xc0);
  EXPECT_EQ(EntryHash(prev, link), crypto::Blake2b(input));
}

TEST(EntryHashTest, NegativeReceivedAtIsTwosComplementBigEndian) {
  crypto::Init();
  base::Bytes sig(64), d(32);
  ChainLink link{1, -2, crypto::Digest{}, sig, d, d};
  base::Bytes input = EntryHashInput(kGenesisHash, link);
  EXPECT_EQ(base::HexEncode(base::ByteView(input).subspan(40, 8)), "fffffffffffffffe");
}

class ChainTest : public testing::JournalFixture {
 protected:
  // Ten entries without checkpoints (no key), so that Open verifies from seq 1; closed.
  void MakeJournal(int n = 10) {
    auto journal = Journal::Open(Options(), clock_, nullptr);
    ASSERT_TRUE(journal.has_value());
    AppendMany(**journal, n);
    ASSERT_TRUE((*journal)->Close().has_value());
  }
  std::optional<ChainFault> FirstFault() {
    auto report = Reader()->VerifyChain();
    EXPECT_TRUE(report.has_value());
    return report ? report->fault : std::nullopt;
  }
};

TEST_F(ChainTest, AnUntouchedJournalVerifiesAndTheFirstHashFollowsTheGrammar) {
  MakeJournal();
  auto reader = Reader();
  auto report = reader->VerifyChain();
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->fault.has_value());
  EXPECT_EQ(report->rows, 10u);
  EXPECT_EQ(report->verified, *reader->GetHead());
  auto first = reader->Get(1);
  const StoredEntry& e = **first;
  ChainLink link{1,
                 e.received_at,
                 crypto::Blake2b(e.envelope.header),
                 e.envelope.signature,
                 e.envelope.body_digest,
                 e.envelope.wraps_digest};
  EXPECT_EQ(EntryHash(kGenesisHash, link), e.entry_hash);
}

TEST_F(ChainTest, VerifiesARangeStartingFromAStoredHash) {
  MakeJournal();
  auto report = Reader()->VerifyChain(4, 7);
  ASSERT_TRUE(report.has_value());
  EXPECT_FALSE(report->fault.has_value());
  EXPECT_EQ(report->rows, 3u);
  EXPECT_EQ(report->verified.seq, 7u);
  auto beyond = Reader()->VerifyChain(0, 12);
  ASSERT_TRUE(beyond->fault.has_value());
  EXPECT_EQ(beyond->fault->seq, 11u);
}

// One modified byte (or integer) in any stored column is found at that seq.
class ColumnTamperTest : public ChainTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ColumnTamperTest, DetectedAtTheModifiedSeq) {
  MakeJournal();
  CorruptColumn(6, GetParam());
  auto fault = FirstFault();
  ASSERT_TRUE(fault.has_value());
  EXPECT_EQ(fault->seq, 6u) << fault->reason;
  // Open verifies the tail (here: all of it) and refuses, naming the seq.
  auto reopened = Journal::Open(Options(), clock_, &broker_.secret_key);
  ASSERT_FALSE(reopened.has_value());
  EXPECT_EQ(reopened.error().code, "chain_broken");
  EXPECT_EQ(reopened.error().kind, base::ErrorKind::kCorruption);
  EXPECT_NE(reopened.error().message.find("first bad seq 6:"), std::string::npos)
      << reopened.error().message;
}

INSTANTIATE_TEST_SUITE_P(EveryColumn, ColumnTamperTest,
                         ::testing::Values("seq", "received_at", "event_id", "kind", "case_ref",
                                           "emitter", "due_at", "header", "signature",
                                           "body_digest", "wraps_digest", "body", "wraps",
                                           "entry_hash", "case_no"));

TEST_F(ChainTest, ADeletedRowIsDetectedAtItsSeq) {
  MakeJournal();
  ExecRaw("DELETE FROM entries WHERE seq = 4");
  auto fault = FirstFault();
  ASSERT_TRUE(fault.has_value());
  EXPECT_EQ(fault->seq, 4u);
  EXPECT_NE(fault->reason.find("missing"), std::string::npos);
}

TEST_F(ChainTest, ARowErasedOnlyHalfwayIsReported) {
  MakeJournal();
  ExecRaw("UPDATE entries SET body = NULL WHERE seq = 3");
  auto fault = FirstFault();
  ASSERT_TRUE(fault.has_value());
  EXPECT_EQ(fault->seq, 3u);
}

TEST_F(ChainTest, AConsistentlyRewrittenTailVerifiesOnItsOwn) {
  // The chain alone cannot see a rewrite that recomputes every later hash: checkpoints can
  // (checkpoint_test.cc). Here: swapping two entries' order breaks the chain at the first.
  MakeJournal();
  ExecRaw(
      "UPDATE entries SET seq = 100 WHERE seq = 5; UPDATE entries SET seq = 5 WHERE seq = 6;"
      "UPDATE entries SET seq = 6 WHERE seq = 100;");
  auto fault = FirstFault();
  ASSERT_TRUE(fault.has_value());
  EXPECT_EQ(fault->seq, 5u);
}

TEST_F(ChainTest, OpenVerifiesOnlyFromTheLastCheckpoint) {
  JournalOptions options = Options();
  options.checkpoint_every_rows = 5;
  {
    auto journal = Open(options);
    AppendMany(*journal, 12);  // checkpoints at 5 and 10; Close adds one at 12
  }
  // Damage before the last checkpoint goes unnoticed by Open (an audit finds it) ...
  CorruptColumn(3, "body");
  EXPECT_NE(Open(options), nullptr);
  auto fault = FirstFault();
  ASSERT_TRUE(fault.has_value());
  EXPECT_EQ(fault->seq, 3u);
}

TEST_F(ChainTest, OpenRefusesATailThatDisagreesWithTheLastCheckpoint) {
  JournalOptions options = Options();
  options.checkpoint_every_rows = 5;
  {
    auto journal = Open(options);
    AppendMany(*journal, 7);  // checkpoint at 5, and at 7 on close
  }
  CorruptColumn(7, "entry_hash");
  auto reopened = Journal::Open(options, clock_, &broker_.secret_key);
  ASSERT_FALSE(reopened.has_value());
  EXPECT_EQ(reopened.error().code, "checkpoint_mismatch");
  EXPECT_NE(reopened.error().message.find("seq 7"), std::string::npos);
}

TEST_F(ChainTest, OpenRefusesACheckpointWithABadSignature) {
  {
    auto journal = Open();
    AppendMany(*journal, 3);
  }
  ExecRaw("UPDATE checkpoints SET time = time + 1");
  auto reopened = Journal::Open(Options(), clock_, &broker_.secret_key);
  ASSERT_FALSE(reopened.has_value());
  EXPECT_EQ(reopened.error().code, "bad_checkpoint_signature");
}

TEST_F(ChainTest, OpenRefusesACheckpointByAnUnknownKey) {
  {
    auto journal = Open();
    AppendMany(*journal, 3);
  }
  crypto::SigningKeyPair other = crypto::GenerateSigningKeyPair();
  auto reopened = Journal::Open(Options(), clock_, &other.secret_key);
  ASSERT_FALSE(reopened.has_value());
  EXPECT_EQ(reopened.error().code, "unknown_checkpoint_key");
  // Trusting the old key (key rotation) opens it.
  JournalOptions options = Options();
  options.checkpoint_keys = BrokerKeys();
  EXPECT_TRUE(Journal::Open(options, clock_, &other.secret_key).has_value());
}

}  // namespace
}  // namespace relais::journal
