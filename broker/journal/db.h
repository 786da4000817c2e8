// Internal to the journal: a thin RAII layer over one SQLite connection and its prepared
// statements, and the mapping of SQLite result codes to relais errors. Public headers never
// include this file, so sqlite3.h stays inside broker/journal/*.cc.
//
// Threading: a Db and its Stmts belong to one thread at a time (connections are opened with
// SQLITE_OPEN_NOMUTEX).
#ifndef RELAIS_BROKER_JOURNAL_DB_H_
#define RELAIS_BROKER_JOURNAL_DB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace relais::journal::internal {

// Maps a SQLite result code to a relais error (codes in README.md):
//   SQLITE_FULL            -> kRetryLater  "disk_full"
//   SQLITE_BUSY / LOCKED   -> kRetryLater  "journal_busy"
//   SQLITE_CORRUPT, NOTADB, IOERR_DATA (a page checksum) -> kCorruption  "journal_corrupt"
//   SQLITE_CANTOPEN        -> kNotFound    "journal_not_found"
//   SQLITE_IOERR and anything else -> kFailStop "journal_failed"
// `what` names the operation; the message never contains stored values.
base::Error SqliteError(int rc, std::string_view what);
bool IsConstraintViolation(int rc);

enum class OpenMode { kReadWriteCreate, kReadWrite, kReadOnly };
enum class WalCheckpointMode { kPassive, kTruncate };

struct WalCheckpointResult {
  int wal_frames = 0;           // frames in the WAL when the checkpoint ran
  int checkpointed_frames = 0;  // of which copied into the database
};

class Stmt;

class Db {
 public:
  // `uri` is a path or a file: URI. `vfs` empty = SQLite's default. Every connection goes through
  // the page-checksum shim over `vfs` (checksum_vfs.h).
  static base::Result<std::unique_ptr<Db>> Open(const std::string& uri, OpenMode mode,
                                                const std::string& vfs);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results.
  base::Status Exec(const char* sql);
  // Runs a single-row, single-column statement (e.g. "PRAGMA journal_mode=WAL") and returns the
  // value as text.
  base::Result<std::string> QueryText(const char* sql);
  base::Result<int64_t> QueryInt(const char* sql);
  base::Result<Stmt> Prepare(const char* sql);

  // sqlite3_wal_checkpoint_v2 on the main database. SQLITE_BUSY (another checkpointer, or readers
  // holding old snapshots for TRUNCATE) is kRetryLater "journal_busy".
  base::Result<WalCheckpointResult> WalCheckpoint(WalCheckpointMode mode);
  // Calls `hook` with the WAL size in frames after every commit on this connection (replaces
  // SQLite's automatic checkpoints). The hook runs on the committing thread.
  void SetWalHook(std::function<void(int wal_frames)> hook);
  // SQLite's own automatic checkpoint inside COMMIT every `pages` frames (0 disables).
  void SetAutoCheckpoint(int pages);

  bool InTransaction() const;
  // Best-effort ROLLBACK when a transaction is still open (after an error).
  void RollbackIfOpen();
  void SetBusyTimeoutMs(int ms);
  // SQLITE_FCNTL_RESERVE_BYTES on the main database: takes effect when the database is created or
  // by the next VACUUM.
  void SetReserveBytes(int n);
  sqlite3* raw() { return db_; }

 private:
  explicit Db(sqlite3* db) : db_(db) {}
  sqlite3* db_;
  std::function<void(int)> wal_hook_;
};

// A prepared statement. Parameters are 1-based, columns 0-based, as in SQLite. Blob and text binds
// are not copied (SQLITE_STATIC): the caller keeps the bound memory alive until the statement has
// been stepped to completion or reset.
class Stmt {
 public:
  Stmt() = default;
  ~Stmt();
  Stmt(Stmt&& other) noexcept;
  Stmt& operator=(Stmt&& other) noexcept;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& Bind(int index, int64_t value);
  Stmt& Bind(int index, std::string_view text);
  Stmt& Bind(int index, base::ByteView blob);
  Stmt& BindNull(int index);

  // SQLITE_ROW -> true, SQLITE_DONE -> false, anything else -> the raw code in `rc()` and an
  // Error. The statement is reset automatically on DONE and on error.
  base::Result<bool> Step(std::string_view what);
  // Steps a statement expected to finish without rows.
  base::Status Run(std::string_view what);
  int rc() const { return last_rc_; }
  // Rows inserted, updated or deleted by the connection's last completed statement (after Run).
  int64_t Changes() const;
  void Reset();

  int ColumnCount() const;
  bool IsNull(int col) const;
  int64_t Int(int col) const;
  std::string Text(int col) const;
  base::Bytes Blob(int col) const;
  base::ByteView BlobView(int col) const;  // valid until the next Step/Reset

 private:
  friend class Db;
  explicit Stmt(sqlite3_stmt* stmt) : stmt_(stmt) {}
  sqlite3_stmt* stmt_ = nullptr;
  int last_rc_ = 0;
};

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_DB_H_
