#include "broker/journal/testing/fixture.h"

#include <sqlite3.h>

#include "broker/journal/checkpoint.h"
#include "broker/journal/checksum_vfs.h"

namespace relais::journal::testing {

namespace {

// Raw edits model an operator who keeps the page checksums valid (they are not secret): what must
// catch them is the chain and the checkpoints, not the checksums.
int OpenWithChecksums(const std::filesystem::path& path, sqlite3** db) {
  const std::string vfs = internal::ChecksumVfsOver("");
  return sqlite3_open_v2(path.c_str(), db, SQLITE_OPEN_READWRITE, vfs.c_str());
}

}  // namespace

JournalOptions JournalFixture::Options() const {
  JournalOptions o;
  o.path = db_path();
  o.max_wait = std::chrono::microseconds(200);
  return o;
}

std::unique_ptr<Journal> JournalFixture::Open(JournalOptions options) {
  auto journal = Journal::Open(std::move(options), clock_, &broker_.secret_key);
  EXPECT_TRUE(journal.has_value()) << (journal ? "" : journal.error().ToString());
  return journal ? std::move(journal).value() : nullptr;
}

std::unique_ptr<JournalReader> JournalFixture::Reader() {
  auto reader = JournalReader::Open(ReaderOptions{db_path(), ""});
  EXPECT_TRUE(reader.has_value()) << (reader ? "" : reader.error().ToString());
  return reader ? std::move(reader).value() : nullptr;
}

KeySet JournalFixture::BrokerKeys() const {
  KeySet keys;
  keys.Add("broker", broker_.public_key);
  return keys;
}

AppendResult JournalFixture::AppendOk(Journal& journal, AppendRequest request) {
  auto result = journal.AppendAsync(std::move(request)).get();
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().ToString());
  return result ? *result : AppendResult{};
}

std::vector<AppendResult> JournalFixture::AppendMany(Journal& journal, int n, EventSpec spec) {
  std::vector<AppendResult> out;
  for (int i = 0; i < n; ++i) {
    AppendRequest request = MakeRequest(spec);
    request.mutations = DeriveFromHeader(request.header);
    out.push_back(AppendOk(journal, std::move(request)));
  }
  return out;
}

void JournalFixture::ExecRaw(const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(OpenWithChecksums(db_path(), &db), SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

void JournalFixture::CorruptColumn(uint64_t seq, const std::string& column) {
  sqlite3* db = nullptr;
  ASSERT_EQ(OpenWithChecksums(db_path(), &db), SQLITE_OK);
  sqlite3_stmt* read = nullptr;
  const std::string select =
      "SELECT " + column + ", typeof(" + column + ") FROM entries WHERE seq = ?1";
  ASSERT_EQ(sqlite3_prepare_v2(db, select.c_str(), -1, &read, nullptr), SQLITE_OK);
  sqlite3_bind_int64(read, 1, static_cast<int64_t>(seq));
  ASSERT_EQ(sqlite3_step(read), SQLITE_ROW) << "no entry " << seq;
  const std::string type = reinterpret_cast<const char*>(sqlite3_column_text(read, 1));
  sqlite3_stmt* write = nullptr;
  const std::string update = "UPDATE entries SET " + column + " = ?1 WHERE seq = ?2";
  ASSERT_EQ(sqlite3_prepare_v2(db, update.c_str(), -1, &write, nullptr), SQLITE_OK);
  if (type == "integer") {
    // seq is the primary key: move it far away instead of onto the next row.
    int64_t delta = column == "seq" ? 1'000'000 : 1;
    sqlite3_bind_int64(write, 1, sqlite3_column_int64(read, 0) + delta);
  } else {
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(read, 0));
    std::string bytes(reinterpret_cast<const char*>(p), sqlite3_column_bytes(read, 0));
    ASSERT_FALSE(bytes.empty()) << column << " is empty";
    bytes[bytes.size() / 2] ^= 0x01;
    if (type == "text") {
      sqlite3_bind_text(write, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_blob(write, 1, bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    }
  }
  sqlite3_bind_int64(write, 2, static_cast<int64_t>(seq));
  EXPECT_EQ(sqlite3_step(write), SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(write);
  sqlite3_finalize(read);
  sqlite3_close(db);
}

}  // namespace relais::journal::testing
