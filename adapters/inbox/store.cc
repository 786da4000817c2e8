// The only file of adapters/inbox that includes sqlite3.h.
#include "adapters/inbox/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include "adapters/sdk/json.h"
#include "crypto/random.h"

namespace relais::inbox {

namespace {

constexpr int kStoreVersion = 1;
constexpr std::string_view kKeyCheck = "relais-inbox-key-check-v1";

const char* const kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS events(
  event_id BLOB PRIMARY KEY, seq INTEGER NOT NULL, direction INTEGER NOT NULL,
  case_ref TEXT NOT NULL, kind TEXT NOT NULL, emitter TEXT NOT NULL,
  received_at INTEGER NOT NULL, due_at INTEGER NOT NULL,
  sealed_header BLOB NOT NULL, sealed_body BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS events_case ON events(case_ref, received_at);
CREATE TABLE IF NOT EXISTS purges(case_ref TEXT PRIMARY KEY, purged_at INTEGER NOT NULL,
  events_deleted INTEGER NOT NULL, receipt_seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS staff(login TEXT PRIMARY KEY, password_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notified(case_ref TEXT NOT NULL, what TEXT NOT NULL,
  PRIMARY KEY(case_ref, what));
)sql";

base::Error SqlError(sqlite3* db, std::string_view what) {
  int code = sqlite3_errcode(db);
  std::string msg = std::string(what) + ": " + sqlite3_errmsg(db);
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED) return base::RetryLater("store_busy", msg);
  return base::FailStop("store_failed", msg);
}

// One prepared statement, finalised on destruction.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  void Bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, base::ByteView blob) {
    sqlite3_bind_blob(stmt_, i, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Text(int col) {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, sqlite3_column_bytes(stmt_, col)) : std::string();
  }
  base::Bytes Blob(int col) {
    auto p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
    return p ? base::Bytes(p, p + sqlite3_column_bytes(stmt_, col)) : base::Bytes();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

base::Bytes Associated(base::ByteView event_id, char field) {
  base::Bytes ad;
  base::AppendLengthPrefixed(ad, base::AsBytes("relais-inbox-v1"));
  base::AppendLengthPrefixed(ad, event_id);
  base::AppendLengthPrefixed(ad, base::AsBytes(std::string_view(&field, 1)));
  return ad;
}

base::Result<std::optional<base::Bytes>> ReadMeta(sqlite3* db, const char* name) {
  Stmt s(db, "SELECT value FROM meta WHERE name = ?");
  if (!s.ok()) return SqlError(db, "read meta");
  s.Bind(1, std::string_view(name));
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<base::Bytes>();
  if (rc != SQLITE_ROW) return SqlError(db, "read meta");
  return std::optional<base::Bytes>(s.Blob(0));
}

base::Status WriteMeta(sqlite3* db, const char* name, base::ByteView value) {
  Stmt s(db, "INSERT OR REPLACE INTO meta(name, value) VALUES(?, ?)");
  if (!s.ok()) return SqlError(db, "write meta");
  s.Bind(1, std::string_view(name));
  s.Bind(2, value);
  if (s.Step() != SQLITE_DONE) return SqlError(db, "write meta");
  return base::Ok();
}

}  // namespace

base::Result<std::unique_ptr<Store>> Store::Open(const std::filesystem::path& path,
                                                 const StoreKeySource& key, bool create) {
  if (key.key_file.empty() == key.passphrase.empty()) {
    return base::InvalidInput("bad_store_key", "give either a store key file or a passphrase");
  }
  std::error_code ec;
  bool exists = std::filesystem::exists(path, ec);
  if (!exists && !create) {
    return base::NotFound("no_store", path.string() + " does not exist (run `relais-inbox init`)");
  }
  if (!exists) {  // create it 0600 before SQLite does, so no other user can ever read it
    int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return base::FailStop("store_failed", "cannot create " + path.string());
    ::close(fd);
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr) !=
      SQLITE_OK) {
    base::Error e = SqlError(db, "open " + path.string());
    sqlite3_close(db);
    return e;
  }
  std::unique_ptr<Store> store(new Store(db, crypto::AtRestKey()));
  sqlite3_busy_timeout(db, 10000);
  RELAIS_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  RELAIS_RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  RELAIS_RETURN_IF_ERROR(store->Exec("PRAGMA secure_delete=ON"));
  RELAIS_RETURN_IF_ERROR(store->Exec(kSchema));
  RELAIS_RETURN_IF_ERROR(store->InitKey(key, !exists));
  return store;
}

Store::~Store() { sqlite3_close(db_); }

base::Status Store::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    return SqlError(db_, "exec");
  }
  return base::Ok();
}

base::Status Store::InitKey(const StoreKeySource& source, bool created) {
  RELAIS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto check = ReadMeta(db_, "key_check");
  auto salt = ReadMeta(db_, "salt");
  if (!check || !salt) {
    (void)Exec("ROLLBACK");
    return !check ? check.error() : salt.error();
  }
  bool fresh = !check->has_value();
  if (fresh && !created) {
    // An empty file someone else created; treat it as new only if it has no events.
    Stmt s(db_, "SELECT COUNT(*) FROM events");
    if (!s.ok() || s.Step() != SQLITE_ROW || s.Int(0) != 0) {
      (void)Exec("ROLLBACK");
      return base::Corruption("store_failed", "store without a key check but with events");
    }
  }
  if (!source.passphrase.empty()) {
    base::Bytes s = salt->has_value() ? **salt : crypto::NewAtRestSalt();
    auto k = crypto::DeriveAtRestKey(source.passphrase, s, crypto::KdfStrength::kModerate);
    if (!k) {
      (void)Exec("ROLLBACK");
      return k.error();
    }
    key_ = std::move(*k);
    if (!salt->has_value()) (void)WriteMeta(db_, "salt", s);
  } else {
    auto k = crypto::LoadAtRestKeyFile(source.key_file);
    if (!k) {
      (void)Exec("ROLLBACK");
      return k.error();
    }
    key_ = std::move(*k);
  }
  if (fresh) {
    base::Bytes sealed = crypto::SealAtRest(key_, base::AsBytes(kKeyCheck), base::AsBytes("meta"));
    base::Bytes version = base::ToBytes(std::to_string(kStoreVersion));
    base::Bytes kdf = base::ToBytes(source.passphrase.empty() ? "key_file" : "argon2id_moderate");
    for (auto [name, value] : {std::pair{"key_check", &sealed}, std::pair{"version", &version},
                               std::pair{"kdf", &kdf}}) {
      if (auto st = WriteMeta(db_, name, *value); !st) {
        (void)Exec("ROLLBACK");
        return st;
      }
    }
    return Exec("COMMIT");
  }
  (void)Exec("COMMIT");
  if (!crypto::OpenAtRest(key_, **check, base::AsBytes("meta"))) {
    return base::NotAuthorised("wrong_store_key",
                               "this passphrase or key file does not open this inbox store");
  }
  return base::Ok();
}

base::Result<bool> Store::PutEvent(const StoredEvent& event) {
  const schema::Header& h = event.header;
  Stmt s(db_,
         "INSERT OR IGNORE INTO events(event_id, seq, direction, case_ref, kind, emitter, "
         "received_at, due_at, sealed_header, sealed_body) VALUES(?,?,?,?,?,?,?,?,?,?)");
  if (!s.ok()) return SqlError(db_, "insert event");
  s.Bind(1, base::ByteView(h.event_id));
  s.Bind(2, static_cast<int64_t>(event.seq));
  s.Bind(3, static_cast<int64_t>(event.direction));
  s.Bind(4, std::string_view(h.case_ref));
  s.Bind(5, std::string_view(schema::EventKindName(h.kind)));
  s.Bind(6, std::string_view(h.emitter));
  s.Bind(7, static_cast<int64_t>(event.received_at));
  s.Bind(8, static_cast<int64_t>(h.due_at));
  s.Bind(9, base::ByteView(crypto::SealAtRest(key_, base::AsBytes(sdk::HeaderToJson(h)),
                                              Associated(h.event_id, 'h'))));
  s.Bind(10,
         base::ByteView(crypto::SealAtRest(key_, base::AsBytes(sdk::EventBodyToJson(event.body)),
                                           Associated(h.event_id, 'b'))));
  if (s.Step() != SQLITE_DONE) return SqlError(db_, "insert event");
  return sqlite3_changes(db_) > 0;
}

base::Result<bool> Store::HasEvent(base::ByteView event_id) {
  Stmt s(db_, "SELECT 1 FROM events WHERE event_id = ?");
  if (!s.ok()) return SqlError(db_, "find event");
  s.Bind(1, event_id);
  int rc = s.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(db_, "find event");
  return rc == SQLITE_ROW;
}

base::Result<StoredEvent> Store::DecodeRow(base::ByteView event_id, base::ByteView sealed_header,
                                           base::ByteView sealed_body) {
  RELAIS_ASSIGN_OR_RETURN(auto header_json,
                          crypto::OpenAtRest(key_, sealed_header, Associated(event_id, 'h')));
  RELAIS_ASSIGN_OR_RETURN(auto body_json,
                          crypto::OpenAtRest(key_, sealed_body, Associated(event_id, 'b')));
  StoredEvent e;
  auto header = sdk::HeaderFromJson(base::ToString(header_json));
  auto body = sdk::EventBodyFromJson(base::ToString(body_json));
  if (!header || !body) {
    return base::Corruption("store_failed", "a stored event does not decode: " +
                                                (header ? body.error() : header.error()).code);
  }
  e.header = std::move(*header);
  e.body = std::move(*body);
  return e;
}

base::Result<std::vector<StoredEvent>> Store::Events(const std::string& case_ref) {
  Stmt s(db_,
         "SELECT event_id, seq, direction, received_at, sealed_header, sealed_body FROM events "
         "WHERE ?1 = '' OR case_ref = ?1 ORDER BY received_at, seq");
  if (!s.ok()) return SqlError(db_, "list events");
  s.Bind(1, std::string_view(case_ref));
  std::vector<StoredEvent> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    base::Bytes id = s.Blob(0);
    RELAIS_ASSIGN_OR_RETURN(StoredEvent e, DecodeRow(id, s.Blob(4), s.Blob(5)));
    e.seq = static_cast<uint64_t>(s.Int(1));
    e.direction = s.Int(2) == 1 ? Direction::kOut : Direction::kIn;
    e.received_at = s.Int(3);
    out.push_back(std::move(e));
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "list events");
  return out;
}

base::Result<uint64_t> Store::Purge(const std::string& case_ref, base::TimeMs now) {
  RELAIS_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  Stmt del(db_, "DELETE FROM events WHERE case_ref = ?");
  Stmt notified(db_, "DELETE FROM notified WHERE case_ref = ?");
  Stmt trace(db_,
             "INSERT INTO purges(case_ref, purged_at, events_deleted) VALUES(?1, ?2, ?3) "
             "ON CONFLICT(case_ref) DO UPDATE SET events_deleted = events_deleted + ?3");
  if (!del.ok() || !notified.ok() || !trace.ok()) {
    (void)Exec("ROLLBACK");
    return SqlError(db_, "purge");
  }
  del.Bind(1, std::string_view(case_ref));
  notified.Bind(1, std::string_view(case_ref));
  if (del.Step() != SQLITE_DONE) {
    base::Error e = SqlError(db_, "purge");
    (void)Exec("ROLLBACK");
    return e;
  }
  uint64_t deleted = static_cast<uint64_t>(sqlite3_changes(db_));
  trace.Bind(1, std::string_view(case_ref));
  trace.Bind(2, static_cast<int64_t>(now));
  trace.Bind(3, static_cast<int64_t>(deleted));
  if (notified.Step() != SQLITE_DONE || trace.Step() != SQLITE_DONE) {
    base::Error e = SqlError(db_, "purge");
    (void)Exec("ROLLBACK");
    return e;
  }
  RELAIS_RETURN_IF_ERROR(Exec("COMMIT"));
  // secure_delete zeroed the freed pages in the database file; old page images may remain in the
  // WAL until it is checkpointed and truncated (docs/lifecycle.md §4, PLATFORM-NOTES).
  RELAIS_RETURN_IF_ERROR(Exec("PRAGMA wal_checkpoint(TRUNCATE)"));
  return deleted;
}

base::Status Store::MarkPurgeReceipt(const std::string& case_ref, uint64_t seq) {
  Stmt s(db_, "UPDATE purges SET receipt_seq = ? WHERE case_ref = ?");
  if (!s.ok()) return SqlError(db_, "purge receipt");
  s.Bind(1, static_cast<int64_t>(seq));
  s.Bind(2, std::string_view(case_ref));
  if (s.Step() != SQLITE_DONE) return SqlError(db_, "purge receipt");
  return base::Ok();
}

base::Result<std::vector<PurgeTrace>> Store::Purges() {
  Stmt s(db_,
         "SELECT case_ref, purged_at, events_deleted, receipt_seq FROM purges ORDER BY purged_at");
  if (!s.ok()) return SqlError(db_, "list purges");
  std::vector<PurgeTrace> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back(
        {s.Text(0), s.Int(1), static_cast<uint64_t>(s.Int(2)), static_cast<uint64_t>(s.Int(3))});
  }
  if (rc != SQLITE_DONE) return SqlError(db_, "list purges");
  return out;
}

base::Status Store::SetStaff(const std::string& login, const std::string& password_hash) {
  Stmt s(db_, "INSERT OR REPLACE INTO staff(login, password_hash) VALUES(?, ?)");
  if (!s.ok()) return SqlError(db_, "set staff");
  s.Bind(1, std::string_view(login));
  s.Bind(2, std::string_view(password_hash));
  if (s.Step() != SQLITE_DONE) return SqlError(db_, "set staff");
  return base::Ok();
}

base::Status Store::RemoveStaff(const std::string& login) {
  Stmt s(db_, "DELETE FROM staff WHERE login = ?");
  if (!s.ok()) return SqlError(db_, "remove staff");
  s.Bind(1, std::string_view(login));
  if (s.Step() != SQLITE_DONE) return SqlError(db_, "remove staff");
  if (sqlite3_changes(db_) == 0) return base::NotFound("no_staff", "no such login: " + login);
  return base::Ok();
}

base::Result<std::optional<std::string>> Store::StaffHash(const std::string& login) {
  Stmt s(db_, "SELECT password_hash FROM staff WHERE login = ?");
  if (!s.ok()) return SqlError(db_, "find staff");
  s.Bind(1, std::string_view(login));
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return SqlError(db_, "find staff");
  return std::optional<std::string>(s.Text(0));
}

base::Result<std::vector<std::string>> Store::StaffLogins() {
  Stmt s(db_, "SELECT login FROM staff ORDER BY login");
  if (!s.ok()) return SqlError(db_, "list staff");
  std::vector<std::string> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(s.Text(0));
  if (rc != SQLITE_DONE) return SqlError(db_, "list staff");
  return out;
}

base::Result<bool> Store::MarkNotified(const std::string& case_ref, const std::string& what) {
  Stmt s(db_, "INSERT OR IGNORE INTO notified(case_ref, what) VALUES(?, ?)");
  if (!s.ok()) return SqlError(db_, "mark notified");
  s.Bind(1, std::string_view(case_ref));
  s.Bind(2, std::string_view(what));
  if (s.Step() != SQLITE_DONE) return SqlError(db_, "mark notified");
  return sqlite3_changes(db_) > 0;
}

}  // namespace relais::inbox
