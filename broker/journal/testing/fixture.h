// A GoogleTest fixture for journal tests: a temp dir, a manual clock, a broker key, and helpers
// to open journals and readers and to tamper with the database file behind the journal's back.
#ifndef RELAIS_BROKER_JOURNAL_TESTING_FIXTURE_H_
#define RELAIS_BROKER_JOURNAL_TESTING_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "broker/journal/journal.h"
#include "broker/journal/reader.h"
#include "broker/journal/testing/events.h"
#include "crypto/secret.h"
#include "crypto/sign.h"

namespace relais::journal::testing {

class JournalFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { crypto::Init(); }

  JournalOptions Options() const;
  std::filesystem::path db_path() const { return dir_.path() / "journal.db"; }
  std::unique_ptr<Journal> Open(JournalOptions options);
  std::unique_ptr<Journal> Open() { return Open(Options()); }
  std::unique_ptr<JournalReader> Reader();
  KeySet BrokerKeys() const;

  // Appends and waits; fails the test on error.
  AppendResult AppendOk(Journal& journal, AppendRequest request);
  // Appends `n` events of `spec` (fresh event ids), one at a time, with derived mutations.
  std::vector<AppendResult> AppendMany(Journal& journal, int n, EventSpec spec = {});

  // Runs SQL on the database file with a plain SQLite connection through the checksum VFS (so
  // page checksums stay valid; the journal must be closed).
  void ExecRaw(const std::string& sql);
  // Flips one byte in the middle of a blob/text column of entry `seq`, or adds 1 to an integer
  // column, with a plain SQLite connection through the checksum VFS.
  void CorruptColumn(uint64_t seq, const std::string& column);

  TempDir dir_;
  base::ManualClock clock_{1'764'000'000'000};
  crypto::SigningKeyPair broker_ = crypto::GenerateSigningKeyPair();
};

}  // namespace relais::journal::testing

#endif  // RELAIS_BROKER_JOURNAL_TESTING_FIXTURE_H_
