#include "broker/journal/db.h"

#include <sqlite3.h>

#include <utility>

#include "broker/journal/checksum_vfs.h"

namespace relais::journal::internal {

base::Error SqliteError(int rc, std::string_view what) {
  std::string message =
      std::string(what) + ": " + sqlite3_errstr(rc) + " (sqlite " + std::to_string(rc) + ")";
  if (rc == SQLITE_IOERR_DATA) {
    return base::Corruption("journal_corrupt", message + ": a page fails its checksum");
  }
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return base::RetryLater("disk_full", "the journal's disk is full; " + message);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return base::RetryLater("journal_busy", message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return base::Corruption("journal_corrupt", message);
    case SQLITE_CANTOPEN:
      return base::NotFound("journal_not_found", message);
    default:
      return base::FailStop("journal_failed", message);
  }
}

bool IsConstraintViolation(int rc) { return (rc & 0xff) == SQLITE_CONSTRAINT; }

base::Result<std::unique_ptr<Db>> Db::Open(const std::string& uri, OpenMode mode,
                                           const std::string& vfs) {
  int flags = SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX;
  switch (mode) {
    case OpenMode::kReadWriteCreate:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case OpenMode::kReadWrite:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case OpenMode::kReadOnly:
      flags |= SQLITE_OPEN_READONLY;
      break;
  }
  const std::string shim = ChecksumVfsOver(vfs);
  if (shim.empty()) return base::InvalidInput("bad_vfs", "no SQLite VFS named '" + vfs + "'");
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(uri.c_str(), &raw, flags, shim.c_str());
  if (rc != SQLITE_OK) {
    if (raw != nullptr) rc = sqlite3_extended_errcode(raw);
    sqlite3_close_v2(raw);
    return SqliteError(rc, "opening the journal database");
  }
  sqlite3_extended_result_codes(raw, 1);
  return std::unique_ptr<Db>(new Db(raw));
}

Db::~Db() { sqlite3_close_v2(db_); }

base::Status Db::Exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return SqliteError(sqlite3_extended_errcode(db_), sql);
  return base::Ok();
}

base::Result<std::string> Db::QueryText(const char* sql) {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step(sql));
  if (!row) return base::FailStop("journal_failed", std::string(sql) + " returned no row");
  std::string value = stmt.Text(0);
  stmt.Reset();
  return value;
}

base::Result<int64_t> Db::QueryInt(const char* sql) {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql));
  RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step(sql));
  if (!row) return base::FailStop("journal_failed", std::string(sql) + " returned no row");
  int64_t value = stmt.Int(0);
  stmt.Reset();
  return value;
}

base::Result<Stmt> Db::Prepare(const char* sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) return SqliteError(sqlite3_extended_errcode(db_), "preparing a statement");
  return Stmt(raw);
}

base::Result<WalCheckpointResult> Db::WalCheckpoint(WalCheckpointMode mode) {
  WalCheckpointResult r;
  int m =
      mode == WalCheckpointMode::kPassive ? SQLITE_CHECKPOINT_PASSIVE : SQLITE_CHECKPOINT_TRUNCATE;
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, m, &r.wal_frames, &r.checkpointed_frames);
  if (rc != SQLITE_OK) return SqliteError(rc, "checkpointing the WAL");
  return r;
}

namespace {
int WalHookTrampoline(void* arg, sqlite3*, const char*, int frames) {
  (*static_cast<std::function<void(int)>*>(arg))(frames);
  return SQLITE_OK;
}
}  // namespace

void Db::SetWalHook(std::function<void(int wal_frames)> hook) {
  wal_hook_ = std::move(hook);
  sqlite3_wal_hook(db_, wal_hook_ ? WalHookTrampoline : nullptr, &wal_hook_);
}

void Db::SetAutoCheckpoint(int pages) { sqlite3_wal_autocheckpoint(db_, pages); }

bool Db::InTransaction() const { return sqlite3_get_autocommit(db_) == 0; }

void Db::RollbackIfOpen() {
  if (InTransaction()) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Db::SetBusyTimeoutMs(int ms) { sqlite3_busy_timeout(db_, ms); }

void Db::SetReserveBytes(int n) {
  sqlite3_file_control(db_, "main", SQLITE_FCNTL_RESERVE_BYTES, &n);
}

Stmt::~Stmt() { sqlite3_finalize(stmt_); }

Stmt::Stmt(Stmt&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), last_rc_(other.last_rc_) {}

Stmt& Stmt::operator=(Stmt&& other) noexcept {
  if (this != &other) {
    sqlite3_finalize(stmt_);
    stmt_ = std::exchange(other.stmt_, nullptr);
    last_rc_ = other.last_rc_;
  }
  return *this;
}

Stmt& Stmt::Bind(int index, int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}

Stmt& Stmt::Bind(int index, std::string_view text) {
  // A null pointer would bind SQL NULL; an empty string must stay an empty string.
  sqlite3_bind_text(stmt_, index, text.empty() ? "" : text.data(), static_cast<int>(text.size()),
                    SQLITE_STATIC);
  return *this;
}

Stmt& Stmt::Bind(int index, base::ByteView blob) {
  if (blob.empty()) {
    sqlite3_bind_zeroblob(stmt_, index, 0);
  } else {
    sqlite3_bind_blob(stmt_, index, blob.data(), static_cast<int>(blob.size()), SQLITE_STATIC);
  }
  return *this;
}

Stmt& Stmt::BindNull(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

base::Result<bool> Stmt::Step(std::string_view what) {
  last_rc_ = sqlite3_step(stmt_);
  if (last_rc_ == SQLITE_ROW) return true;
  if (last_rc_ == SQLITE_DONE) {
    Reset();
    return false;
  }
  // sqlite3_step returns the extended code with extended_result_codes on.
  int rc = last_rc_;
  Reset();
  last_rc_ = rc;
  return SqliteError(rc, what);
}

base::Status Stmt::Run(std::string_view what) {
  RELAIS_ASSIGN_OR_RETURN(bool row, Step(what));
  if (row) Reset();
  return base::Ok();
}

int64_t Stmt::Changes() const { return sqlite3_changes64(sqlite3_db_handle(stmt_)); }

void Stmt::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int Stmt::ColumnCount() const { return sqlite3_column_count(stmt_); }

bool Stmt::IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

int64_t Stmt::Int(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Stmt::Text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? std::string() : std::string(p, static_cast<size_t>(n));
}

base::Bytes Stmt::Blob(int col) const {
  base::ByteView v = BlobView(col);
  return base::Bytes(v.begin(), v.end());
}

base::ByteView Stmt::BlobView(int col) const {
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  int n = sqlite3_column_bytes(stmt_, col);
  return p == nullptr ? base::ByteView() : base::ByteView(p, static_cast<size_t>(n));
}

}  // namespace relais::journal::internal
