#include "broker/journal/sqlite_stream_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>

#include "broker/journal/sqlite_stream_log_internal.h"

namespace relais::journal {
namespace internal {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL,
  headers BLOB NOT NULL, data BLOB NOT NULL, stored_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cursors (
  name TEXT PRIMARY KEY, filter TEXT NOT NULL, next_seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS cursor_pending (
  name TEXT NOT NULL, seq INTEGER NOT NULL, deliveries INTEGER NOT NULL,
  redeliver_at INTEGER NOT NULL, exhausted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (name, seq)) WITHOUT ROWID;
)sql";

base::Bytes EncodeHeaders(const std::vector<std::pair<std::string, std::string>>& headers) {
  base::Bytes out;
  for (const auto& [name, value] : headers) {
    base::AppendLengthPrefixed(out, base::AsBytes(name));
    base::AppendLengthPrefixed(out, base::AsBytes(value));
  }
  return out;
}

// Sorted by name (stable), as JetStream returns them.
base::Result<std::vector<std::pair<std::string, std::string>>> DecodeHeaders(base::ByteView in) {
  std::vector<std::string> parts;
  size_t at = 0;
  while (at < in.size()) {
    if (in.size() - at < 4) return base::Corruption("stream_corrupt", "truncated headers");
    const uint32_t n = (uint32_t{in[at]} << 24) | (uint32_t{in[at + 1]} << 16) |
                       (uint32_t{in[at + 2]} << 8) | uint32_t{in[at + 3]};
    at += 4;
    if (in.size() - at < n) return base::Corruption("stream_corrupt", "truncated headers");
    parts.push_back(base::ToString(in.subspan(at, n)));
    at += n;
  }
  if (parts.size() % 2 != 0) return base::Corruption("stream_corrupt", "odd header count");
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i < parts.size(); i += 2) out.emplace_back(parts[i], parts[i + 1]);
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace

base::Error RemapStreamError(base::Error e) {
  switch (e.kind) {
    case base::ErrorKind::kRetryLater:
      e.code = "stream_unavailable";
      break;
    case base::ErrorKind::kCorruption:
      e.code = "stream_corrupt";
      break;
    case base::ErrorKind::kInvalidInput:
    case base::ErrorKind::kNotFound:
      break;
    default:
      e.kind = base::ErrorKind::kFailStop;
      e.code = "stream_failed";
  }
  return e;
}

base::Result<broker::LogRecord> RowToRecord(const Stmt& stmt) {
  broker::LogRecord r;
  r.seq = static_cast<uint64_t>(stmt.Int(0));
  r.msg.id = stmt.Text(1);
  r.msg.subject = stmt.Text(2);
  RELAIS_ASSIGN_OR_RETURN(r.msg.headers, DecodeHeaders(stmt.BlobView(3)));
  r.msg.data = stmt.Blob(4);
  r.stored_at = stmt.Int(5);
  return r;
}

SqliteLog::~SqliteLog() {
  db_.reset();
  ::close(lock_fd_);
}

base::Result<broker::AppendResult> SqliteLog::Append(const broker::LogMessage& msg) {
  return DoAppend(msg, std::nullopt);
}

base::Result<broker::AppendResult> SqliteLog::Append(const broker::LogMessage& msg,
                                                     uint64_t expected_last_seq) {
  return DoAppend(msg, expected_last_seq);
}

// One transaction: all new messages commit together, with consecutive seqs in message order.
base::Result<std::vector<broker::AppendResult>> SqliteLog::AppendBatch(
    const std::vector<broker::LogMessage>& msgs) {
  for (const auto& m : msgs) RELAIS_RETURN_IF_ERROR(broker::ValidateMessage(m));
  std::vector<broker::AppendResult> out;
  if (msgs.empty()) return out;
  std::lock_guard lock(mu_);
  RELAIS_RETURN_IF_ERROR(Wrap(db_->Exec("BEGIN IMMEDIATE")));
  bool appended = false;
  for (const auto& m : msgs) {
    auto r = AppendInTransaction(m, std::nullopt);
    if (!r) {
      db_->RollbackIfOpen();
      return std::move(r).error();
    }
    appended = appended || !r->duplicate;
    out.push_back(*r);
  }
  if (!appended) {
    db_->RollbackIfOpen();
    return out;
  }
  if (auto s = db_->Exec("COMMIT"); !s) {
    db_->RollbackIfOpen();
    return RemapStreamError(std::move(s).error());
  }
  ++version_;
  cv_.notify_all();
  return out;
}

base::Result<std::vector<broker::LogRecord>> SqliteLog::Read(uint64_t from_seq, size_t limit) {
  std::lock_guard lock(mu_);
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt, Wrap(db_->Prepare("SELECT seq, id, subject, headers, data, stored_at FROM "
                                   "messages WHERE seq >= ? ORDER BY seq LIMIT ?")));
  stmt.Bind(1, static_cast<int64_t>(from_seq)).Bind(2, static_cast<int64_t>(limit));
  std::vector<broker::LogRecord> out;
  while (true) {
    auto row = stmt.Step("reading messages");
    if (!row) return RemapStreamError(std::move(row).error());
    if (!*row) break;
    RELAIS_ASSIGN_OR_RETURN(broker::LogRecord r, RowToRecord(stmt));
    out.push_back(std::move(r));
  }
  return out;
}

base::Result<uint64_t> SqliteLog::LastSeq() {
  std::lock_guard lock(mu_);
  return LastSeqLocked();
}

base::Result<std::unique_ptr<broker::LogCursor>> SqliteLog::OpenCursor(
    const broker::CursorOptions& options) {
  RELAIS_RETURN_IF_ERROR(broker::ValidateCursorOptions(options));
  std::lock_guard lock(mu_);
  RELAIS_ASSIGN_OR_RETURN(Stmt get,
                          Wrap(db_->Prepare("SELECT filter FROM cursors WHERE name = ?")));
  get.Bind(1, options.durable);
  auto row = get.Step("reading a cursor");
  if (!row) return RemapStreamError(std::move(row).error());
  if (*row) {
    const std::string filter = get.Text(0);
    get.Reset();
    if (filter != options.filter) {
      return base::InvalidInput("bad_cursor", "durable cursor reopened with another filter");
    }
  } else {
    RELAIS_ASSIGN_OR_RETURN(
        Stmt put, Wrap(db_->Prepare("INSERT INTO cursors(name, filter, next_seq) VALUES(?,?,1)")));
    put.Bind(1, options.durable).Bind(2, options.filter);
    RELAIS_RETURN_IF_ERROR(Wrap(put.Run("creating a cursor")));
  }
  return std::unique_ptr<broker::LogCursor>(new SqliteCursor(this, options));
}

base::Result<uint64_t> SqliteLog::LastSeqLocked() {
  auto v = db_->QueryInt("SELECT COALESCE(MAX(seq), 0) FROM messages");
  if (!v) return RemapStreamError(std::move(v).error());
  return static_cast<uint64_t>(*v);
}

base::Result<broker::AppendResult> SqliteLog::DoAppend(const broker::LogMessage& msg,
                                                       std::optional<uint64_t> expected) {
  RELAIS_RETURN_IF_ERROR(broker::ValidateMessage(msg));
  std::lock_guard lock(mu_);
  RELAIS_RETURN_IF_ERROR(Wrap(db_->Exec("BEGIN IMMEDIATE")));
  auto result = AppendInTransaction(msg, expected);
  if (!result || result->duplicate) {
    db_->RollbackIfOpen();
    return result;
  }
  if (auto s = db_->Exec("COMMIT"); !s) {
    db_->RollbackIfOpen();
    return RemapStreamError(std::move(s).error());
  }
  ++version_;
  cv_.notify_all();
  return result;
}

base::Result<broker::AppendResult> SqliteLog::AppendInTransaction(
    const broker::LogMessage& msg, std::optional<uint64_t> expected) {
  RELAIS_ASSIGN_OR_RETURN(Stmt find, Wrap(db_->Prepare("SELECT seq FROM messages WHERE id = ?")));
  find.Bind(1, msg.id);
  auto row = find.Step("finding a message id");
  if (!row) return RemapStreamError(std::move(row).error());
  if (*row) {
    const auto seq = static_cast<uint64_t>(find.Int(0));
    find.Reset();
    return broker::AppendResult{seq, true};
  }
  RELAIS_ASSIGN_OR_RETURN(uint64_t last, LastSeqLocked());
  if (expected && *expected != last) {
    return base::InvalidInput("wrong_last_seq", "expected last seq " + std::to_string(*expected) +
                                                    ", stream at " + std::to_string(last));
  }
  const base::Bytes headers = EncodeHeaders(msg.headers);
  RELAIS_ASSIGN_OR_RETURN(Stmt put, Wrap(db_->Prepare("INSERT INTO messages(seq, id, subject, "
                                                      "headers, data, stored_at) "
                                                      "VALUES(?,?,?,?,?,?)")));
  put.Bind(1, static_cast<int64_t>(last + 1))
      .Bind(2, msg.id)
      .Bind(3, msg.subject)
      .Bind(4, base::ByteView(headers))
      .Bind(5, base::ByteView(msg.data))
      .Bind(6, clock_->NowMs());
  RELAIS_RETURN_IF_ERROR(Wrap(put.Run("appending a message")));
  return broker::AppendResult{last + 1, false};
}

}  // namespace internal

base::Result<std::unique_ptr<broker::StreamLog>> OpenSqliteStreamLog(
    const SqliteStreamLogOptions& options) {
  using internal::RemapStreamError;
  static const base::SystemClock system_clock;
  const std::string lock_path = options.path.string() + ".lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return base::FailStop("stream_failed", "cannot create the lock file");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return base::RetryLater("stream_unavailable", "another process has this stream log open");
  }
  const bool created = !std::filesystem::exists(options.path);
  auto db = internal::Db::Open(options.path.string(), internal::OpenMode::kReadWriteCreate, "");
  if (!db) {
    ::close(fd);
    return RemapStreamError(std::move(db).error());
  }
  if (created) {
    std::filesystem::permissions(
        options.path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  (*db)->SetBusyTimeoutMs(5000);
  auto mode = (*db)->QueryText("PRAGMA journal_mode=WAL");
  base::Status setup = !mode ? base::Status(std::move(mode).error())
                       : *mode != "wal"
                           ? base::Status(base::FailStop("stream_failed", "WAL mode refused"))
                           : (*db)->Exec("PRAGMA synchronous=FULL");
  if (setup) setup = (*db)->Exec(internal::kSchema);
  if (!setup) {
    ::close(fd);
    return RemapStreamError(std::move(setup).error());
  }
  const base::Clock* clock = options.clock != nullptr ? options.clock : &system_clock;
  return std::unique_ptr<broker::StreamLog>(new internal::SqliteLog(std::move(*db), fd, clock));
}

}  // namespace relais::journal
