#include "adapters/hospital/store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <sstream>

namespace relais::hospital {

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS cases(
  id INTEGER PRIMARY KEY,
  case_ref TEXT NOT NULL UNIQUE,
  first_case_ref TEXT NOT NULL,
  patient_id TEXT,
  visit_number TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL DEFAULT '',
  open INTEGER NOT NULL,
  consent_id TEXT NOT NULL DEFAULT '',
  recipients TEXT NOT NULL DEFAULT '',
  purposes TEXT NOT NULL DEFAULT '',
  consent_method TEXT NOT NULL DEFAULT '',
  consent_collected_at INTEGER NOT NULL DEFAULT 0,
  consent_valid_until INTEGER NOT NULL DEFAULT 0,
  state INTEGER NOT NULL DEFAULT 0,
  due_at INTEGER NOT NULL DEFAULT 0,
  acceptor TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS cases_patient ON cases(patient_id) WHERE open = 1;
CREATE TABLE IF NOT EXISTS dedup(
  sender TEXT NOT NULL, facility TEXT NOT NULL, control_id TEXT NOT NULL,
  event_id BLOB, ack_code TEXT NOT NULL, received_at INTEGER NOT NULL,
  PRIMARY KEY(sender, facility, control_id));
CREATE TABLE IF NOT EXISTS outbox(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  case_ref TEXT NOT NULL,
  event_id BLOB NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  envelope BLOB NOT NULL,
  queued_at INTEGER NOT NULL,
  failed_code TEXT);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(case_ref, id) WHERE failed_code IS NULL;
)sql";

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? "," : "") + v[i];
  return out;
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

base::Error StoreError(sqlite3* db, std::string_view what) {
  return base::RetryLater("store_failed",
                          "local store: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

// A prepared statement, finalized on destruction. Bind indexes are 1-based.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  bool ok() const { return stmt_ != nullptr; }
  Stmt& Text(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Int(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& Blob(int i, const base::Bytes& v) {
    if (v.empty()) {
      sqlite3_bind_null(stmt_, i);
    } else {
      sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    return *this;
  }
  int Step() { return sqlite3_step(stmt_); }
  std::string ColText(int i) {
    auto* p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, i)) : "";
  }
  int64_t ColInt(int i) { return sqlite3_column_int64(stmt_, i); }
  base::Bytes ColBlob(int i) {
    auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, i));
    return p ? base::Bytes(p, p + sqlite3_column_bytes(stmt_, i)) : base::Bytes();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

constexpr const char* kCaseColumns =
    "id, case_ref, first_case_ref, patient_id, visit_number, actor, open, consent_id, "
    "recipients, purposes, consent_method, consent_collected_at, consent_valid_until, state, "
    "due_at, acceptor";

CaseRecord ReadCase(Stmt& s) {
  CaseRecord c;
  c.id = s.ColInt(0);
  c.case_ref = s.ColText(1);
  c.first_case_ref = s.ColText(2);
  c.patient_id = s.ColText(3);
  c.visit_number = s.ColText(4);
  c.actor = s.ColText(5);
  c.open = s.ColInt(6) != 0;
  c.consent_id = s.ColText(7);
  c.recipients = SplitList(s.ColText(8));
  c.purposes = SplitList(s.ColText(9));
  c.consent_method = s.ColText(10);
  c.consent_collected_at = s.ColInt(11);
  c.consent_valid_until = s.ColInt(12);
  c.state = static_cast<ReferralState>(s.ColInt(13));
  c.due_at = s.ColInt(14);
  c.acceptor = s.ColText(15);
  return c;
}

}  // namespace

const char* ReferralStateName(ReferralState s) {
  switch (s) {
    case ReferralState::kNone:
      return "none";
    case ReferralState::kReferred:
      return "referred";
    case ReferralState::kAccepted:
      return "accepted";
    case ReferralState::kHandedOver:
      return "handed_over";
    case ReferralState::kCancelled:
      return "cancelled";
  }
  return "invalid";
}

base::Result<std::unique_ptr<LocalStore>> LocalStore::Open(const std::filesystem::path& path) {
  sqlite3* raw = nullptr;
  mode_t old = umask(077);  // the file and its -wal/-shm are created 0600
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  umask(old);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
    sqlite3_close(raw);
    return base::RetryLater("store_open_failed",
                            "cannot open the local store " + path.string() + ": " + msg);
  }
  std::unique_ptr<LocalStore> store(new LocalStore(raw));
  sqlite3_busy_timeout(raw, 10000);
  RELAIS_RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  RELAIS_RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  RELAIS_RETURN_IF_ERROR(store->Exec("PRAGMA secure_delete=ON"));
  RELAIS_RETURN_IF_ERROR(store->Exec("PRAGMA foreign_keys=ON"));
  RELAIS_RETURN_IF_ERROR(store->Exec(kSchema));
  return store;
}

LocalStore::~LocalStore() { sqlite3_close(db_); }

base::Status LocalStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return base::RetryLater("store_failed", "local store: " + msg);
  }
  return base::Ok();
}

base::Status LocalStore::Begin() { return Exec("BEGIN IMMEDIATE"); }
base::Status LocalStore::Commit() { return Exec("COMMIT"); }
void LocalStore::Rollback() {
  if (!sqlite3_get_autocommit(db_)) (void)Exec("ROLLBACK");
}

base::Status LocalStore::Savepoint() { return Exec("SAVEPOINT message"); }
base::Status LocalStore::ReleaseSavepoint() { return Exec("RELEASE message"); }
base::Status LocalStore::RollbackToSavepoint() {
  RELAIS_RETURN_IF_ERROR(Exec("ROLLBACK TO message"));
  return Exec("RELEASE message");
}

base::Status LocalStore::InsertCase(CaseRecord& c) {
  {
    Stmt s(db_,
           "SELECT 1 FROM cases WHERE open = 1 AND patient_id = ?1 AND (visit_number = ?2 OR "
           "visit_number = '' OR ?2 = '')");
    if (!s.ok()) return StoreError(db_, "find case");
    s.Text(1, c.patient_id).Text(2, c.visit_number);
    if (s.Step() == SQLITE_ROW) {
      return base::InvalidInput("case_exists",
                                "an open case already exists for this patient and visit");
    }
  }
  Stmt s(db_,
         "INSERT INTO cases(case_ref, first_case_ref, patient_id, visit_number, actor, open) "
         "VALUES(?1, ?1, ?2, ?3, ?4, 1)");
  if (!s.ok()) return StoreError(db_, "insert case");
  s.Text(1, c.case_ref).Text(2, c.patient_id).Text(3, c.visit_number).Text(4, c.actor);
  if (s.Step() != SQLITE_DONE) return StoreError(db_, "insert case");
  c.id = sqlite3_last_insert_rowid(db_);
  c.first_case_ref = c.case_ref;
  return base::Ok();
}

base::Status LocalStore::UpdateCase(const CaseRecord& c) {
  Stmt s(db_,
         "UPDATE cases SET case_ref=?2, patient_id=?3, visit_number=?4, actor=?5, open=?6, "
         "consent_id=?7, recipients=?8, purposes=?9, consent_method=?10, "
         "consent_collected_at=?11, consent_valid_until=?12, state=?13, due_at=?14, acceptor=?15 "
         "WHERE id=?1");
  if (!s.ok()) return StoreError(db_, "update case");
  s.Int(1, c.id).Text(2, c.case_ref);
  if (c.open) {
    s.Text(3, c.patient_id);
  }  // a closed case keeps no patient id (NULL)
  s.Text(4, c.open ? c.visit_number : "").Text(5, c.actor).Int(6, c.open ? 1 : 0);
  s.Text(7, c.consent_id).Text(8, Join(c.recipients)).Text(9, Join(c.purposes));
  s.Text(10, c.consent_method).Int(11, c.consent_collected_at).Int(12, c.consent_valid_until);
  s.Int(13, static_cast<int>(c.state)).Int(14, c.due_at).Text(15, c.acceptor);
  if (s.Step() != SQLITE_DONE) return StoreError(db_, "update case");
  return base::Ok();
}

base::Result<std::optional<CaseRecord>> LocalStore::FindOpenCase(const std::string& patient_id,
                                                                 const std::string& visit) {
  std::string sql = std::string("SELECT ") + kCaseColumns +
                    " FROM cases WHERE open = 1 AND patient_id = ?1 AND (visit_number = ?2 OR "
                    "visit_number = '') ORDER BY visit_number DESC LIMIT 1";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return StoreError(db_, "find case");
  s.Text(1, patient_id).Text(2, visit);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<CaseRecord>(ReadCase(s));
  if (rc != SQLITE_DONE) return StoreError(db_, "find case");
  return std::optional<CaseRecord>();
}

base::Result<std::optional<CaseRecord>> LocalStore::FindCaseByRef(const std::string& case_ref) {
  std::string sql = std::string("SELECT ") + kCaseColumns +
                    " FROM cases WHERE case_ref = ?1 OR first_case_ref = ?1 LIMIT 1";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return StoreError(db_, "find case");
  s.Text(1, case_ref);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<CaseRecord>(ReadCase(s));
  if (rc != SQLITE_DONE) return StoreError(db_, "find case");
  return std::optional<CaseRecord>();
}

base::Result<std::vector<CaseRecord>> LocalStore::ListCases() {
  std::string sql = std::string("SELECT ") + kCaseColumns + " FROM cases ORDER BY id";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return StoreError(db_, "list cases");
  std::vector<CaseRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(ReadCase(s));
  if (rc != SQLITE_DONE) return StoreError(db_, "list cases");
  return out;
}

base::Result<std::optional<DedupEntry>> LocalStore::FindDedup(const std::string& sender,
                                                              const std::string& facility,
                                                              const std::string& control_id) {
  Stmt s(db_,
         "SELECT event_id, ack_code FROM dedup WHERE sender=?1 AND facility=?2 AND control_id=?3");
  if (!s.ok()) return StoreError(db_, "find dedup");
  s.Text(1, sender).Text(2, facility).Text(3, control_id);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return std::optional<DedupEntry>(DedupEntry{s.ColBlob(0), s.ColText(1)});
  if (rc != SQLITE_DONE) return StoreError(db_, "find dedup");
  return std::optional<DedupEntry>();
}

base::Status LocalStore::PutDedup(const std::string& sender, const std::string& facility,
                                  const std::string& control_id, const DedupEntry& e,
                                  base::TimeMs now) {
  Stmt s(db_,
         "INSERT OR IGNORE INTO dedup(sender, facility, control_id, event_id, ack_code, "
         "received_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
  if (!s.ok()) return StoreError(db_, "put dedup");
  s.Text(1, sender).Text(2, facility).Text(3, control_id).Blob(4, e.event_id).Text(5, e.ack_code);
  s.Int(6, now);
  if (s.Step() != SQLITE_DONE) return StoreError(db_, "put dedup");
  return base::Ok();
}

base::Status LocalStore::PruneDedup(base::TimeMs before) {
  Stmt s(db_, "DELETE FROM dedup WHERE received_at < ?1");
  if (!s.ok()) return StoreError(db_, "prune dedup");
  s.Int(1, before);
  if (s.Step() != SQLITE_DONE) return StoreError(db_, "prune dedup");
  return base::Ok();
}

base::Status LocalStore::Enqueue(OutboxEntry& e) {
  Stmt s(
      db_,
      "INSERT INTO outbox(case_ref, event_id, kind, envelope, queued_at) VALUES(?1,?2,?3,?4,?5)");
  if (!s.ok()) return StoreError(db_, "enqueue");
  s.Text(1, e.case_ref).Blob(2, e.event_id).Text(3, e.kind).Blob(4, e.envelope).Int(5, e.queued_at);
  if (s.Step() != SQLITE_DONE) return StoreError(db_, "enqueue");
  e.id = sqlite3_last_insert_rowid(db_);
  return base::Ok();
}

base::Result<std::vector<OutboxEntry>> LocalStore::PendingHeads(
    size_t limit, const std::vector<int64_t>& exclude) {
  Stmt s(db_,
         "SELECT o.id, o.case_ref, o.event_id, o.kind, o.envelope, o.queued_at FROM outbox o "
         "WHERE o.failed_code IS NULL AND o.id = (SELECT MIN(id) FROM outbox p WHERE "
         "p.case_ref = o.case_ref AND p.failed_code IS NULL) ORDER BY o.id");
  if (!s.ok()) return StoreError(db_, "pending");
  std::vector<OutboxEntry> out;
  int rc;
  while (out.size() < limit && (rc = s.Step()) == SQLITE_ROW) {
    int64_t id = s.ColInt(0);
    if (std::find(exclude.begin(), exclude.end(), id) != exclude.end()) continue;
    out.push_back({id, s.ColText(1), s.ColBlob(2), s.ColText(3), s.ColBlob(4), s.ColInt(5)});
  }
  return out;
}

base::Status LocalStore::RemoveFromOutbox(int64_t id) {
  Stmt s(db_, "DELETE FROM outbox WHERE id = ?1");
  if (!s.ok()) return StoreError(db_, "remove");
  s.Int(1, id);
  if (s.Step() != SQLITE_DONE) return StoreError(db_, "remove");
  return base::Ok();
}

base::Status LocalStore::MarkFailed(int64_t id, const std::string& code) {
  Stmt s(db_, "UPDATE outbox SET failed_code = ?2 WHERE id = ?1");
  if (!s.ok()) return StoreError(db_, "mark failed");
  s.Int(1, id).Text(2, code);
  if (s.Step() != SQLITE_DONE) return StoreError(db_, "mark failed");
  return base::Ok();
}

base::Result<OutboxCounts> LocalStore::CountOutbox() {
  Stmt s(db_,
         "SELECT COUNT(*) FILTER (WHERE failed_code IS NULL), COUNT(*) FILTER (WHERE failed_code "
         "IS NOT NULL) FROM outbox");
  if (!s.ok() || s.Step() != SQLITE_ROW) return StoreError(db_, "count");
  return OutboxCounts{s.ColInt(0), s.ColInt(1)};
}

}  // namespace relais::hospital
