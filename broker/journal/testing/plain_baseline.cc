#include "broker/journal/testing/plain_baseline.h"

#include <sqlite3.h>

#include <map>
#include <string>

#include "base/clock.h"
#include "broker/journal/schema_sql.h"
#include "crypto/random.h"
#include "crypto/seal.h"

namespace relais::journal::testing {

namespace {

// What each INSERT binds, computed before the clock starts.
struct Row {
  const AppendRequest* request;
  base::Bytes wraps;
  base::Bytes entry_hash;
  int64_t case_no;
  base::Bytes blob;  // kBlobOnly: every stored byte, concatenated
};

std::vector<Row> PrepareRows(const std::vector<AppendRequest>& rows, PlainTable table) {
  std::vector<Row> out;
  out.reserve(rows.size());
  std::map<std::string, int64_t> case_numbers;
  for (const AppendRequest& r : rows) {
    Row row{&r, crypto::CanonicalWraps(r.envelope.wraps), crypto::RandomBytes(32), 0, {}};
    auto [it, inserted] = case_numbers.try_emplace(r.header.case_ref, case_numbers.size() + 1);
    row.case_no = it->second;
    if (table == PlainTable::kBlobOnly) {
      for (const base::Bytes* b : std::initializer_list<const base::Bytes*>{
               &r.envelope.header, &r.envelope.signature, &r.envelope.body_digest,
               &r.envelope.wraps_digest, &r.envelope.body, &row.wraps, &row.entry_hash,
               &r.header.event_id}) {
        row.blob.insert(row.blob.end(), b->begin(), b->end());
      }
    }
    out.push_back(std::move(row));
  }
  return out;
}

base::Status Check(int rc, sqlite3* db, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE) return base::Ok();
  return base::FailStop("baseline_failed", std::string(what) + ": " + sqlite3_errmsg(db));
}

void BindRow(sqlite3_stmt* s, const Row& row, int64_t seq, PlainTable table) {
  auto blob = [s](int i, const base::Bytes& b) {
    sqlite3_bind_blob(s, i, b.data(), static_cast<int>(b.size()), SQLITE_STATIC);
  };
  sqlite3_bind_int64(s, 1, seq);
  if (table == PlainTable::kBlobOnly) {
    blob(2, row.blob);
    return;
  }
  const AppendRequest& r = *row.request;
  sqlite3_bind_int64(s, 2, 1'764'000'000'000 + seq);
  blob(3, r.header.event_id);
  sqlite3_bind_int64(s, 4, static_cast<int64_t>(r.header.kind));
  sqlite3_bind_text(s, 5, r.header.case_ref.data(), static_cast<int>(r.header.case_ref.size()),
                    SQLITE_STATIC);
  sqlite3_bind_text(s, 6, r.header.emitter.data(), static_cast<int>(r.header.emitter.size()),
                    SQLITE_STATIC);
  sqlite3_bind_int64(s, 7, r.header.due_at);
  blob(8, r.envelope.header);
  blob(9, r.envelope.signature);
  blob(10, r.envelope.body_digest);
  blob(11, r.envelope.wraps_digest);
  blob(12, r.envelope.body);
  blob(13, row.wraps);
  blob(14, row.entry_hash);
  sqlite3_bind_int64(s, 15, row.case_no);
}

}  // namespace

base::Result<PlainInsertResult> RunPlainInsertLoop(const std::filesystem::path& path,
                                                   const std::vector<AppendRequest>& rows,
                                                   size_t batch, PlainTable table) {
  const std::vector<Row> prepared = PrepareRows(rows, table);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    return base::FailStop("baseline_failed", "cannot open " + path.string());
  }
  std::string setup =
      std::string("PRAGMA journal_mode=WAL;") + internal::WriteConnectionPragmas() +
      (table == PlainTable::kBlobOnly ? "CREATE TABLE entries (seq INTEGER PRIMARY KEY, data BLOB);"
                                      : internal::SchemaSql());
  base::Status st = Check(sqlite3_exec(db, setup.c_str(), nullptr, nullptr, nullptr), db, "setup");
  const char* insert = table == PlainTable::kBlobOnly
                           ? "INSERT INTO entries VALUES (?1, ?2)"
                           : "INSERT INTO entries(seq, received_at, event_id, kind, case_ref, "
                             "emitter, due_at, header, signature, body_digest, wraps_digest, "
                             "body, wraps, entry_hash, case_no) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                             "?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
  sqlite3_stmt* stmt = nullptr;
  if (st) st = Check(sqlite3_prepare_v2(db, insert, -1, &stmt, nullptr), db, "prepare");
  PlainInsertResult result;
  const int64_t start = base::MonotonicMicros();
  for (size_t i = 0; st && i < prepared.size();) {
    st = Check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db, "begin");
    for (size_t n = 0; st && n < batch && i < prepared.size(); ++n, ++i) {
      BindRow(stmt, prepared[i], static_cast<int64_t>(i + 1), table);
      st = Check(sqlite3_step(stmt), db, "insert");
      sqlite3_reset(stmt);
    }
    const int64_t commit_start = base::MonotonicMicros();
    if (st) st = Check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
    result.commit_us.push_back(base::MonotonicMicros() - commit_start);
  }
  result.total_us = base::MonotonicMicros() - start;
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (!st) return std::move(st).error();
  return result;
}

}  // namespace relais::journal::testing
