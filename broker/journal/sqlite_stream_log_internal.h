// Internal to the journal: the embedded StreamLog's classes, shared by sqlite_stream_log.cc
// (appends, reads, open) and sqlite_stream_log_cursor.cc (cursors). Never included by public
// headers.
#ifndef RELAIS_BROKER_JOURNAL_SQLITE_STREAM_LOG_INTERNAL_H_
#define RELAIS_BROKER_JOURNAL_SQLITE_STREAM_LOG_INTERNAL_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "broker/journal/db.h"
#include "broker/stream_log.h"

namespace relais::journal::internal {

// Engine errors mapped to the StreamLog codes (broker/stream_log.h).
base::Error RemapStreamError(base::Error e);
template <typename T>
base::Result<T> Wrap(base::Result<T> r) {
  if (!r) return RemapStreamError(std::move(r).error());
  return r;
}
inline base::Status Wrap(base::Status s) {
  if (!s) return RemapStreamError(std::move(s).error());
  return s;
}
// A `SELECT seq, id, subject, headers, data, stored_at` row.
base::Result<broker::LogRecord> RowToRecord(const Stmt& stmt);

class SqliteLog;

class SqliteCursor final : public broker::LogCursor {
 public:
  SqliteCursor(SqliteLog* log, broker::CursorOptions options)
      : log_(log), options_(std::move(options)) {}
  base::Result<std::vector<broker::CursorDelivery>> Fetch(size_t max,
                                                          std::chrono::milliseconds wait) override;
  base::Status Ack(uint64_t seq) override;
  base::Status Nak(uint64_t seq) override;
  std::vector<uint64_t> Exhausted() override { return exhausted_; }

 private:
  SqliteLog* log_;
  broker::CursorOptions options_;
  std::vector<uint64_t> exhausted_;
};

class SqliteLog final : public broker::StreamLog {
 public:
  SqliteLog(std::unique_ptr<Db> db, int lock_fd, const base::Clock* clock)
      : db_(std::move(db)), lock_fd_(lock_fd), clock_(clock) {}
  ~SqliteLog() override;

  base::Result<broker::AppendResult> Append(const broker::LogMessage& msg) override;
  base::Result<std::vector<broker::AppendResult>> AppendBatch(
      const std::vector<broker::LogMessage>& msgs) override;
  base::Result<broker::AppendResult> Append(const broker::LogMessage& msg,
                                            uint64_t expected_last_seq) override;
  base::Result<std::vector<broker::LogRecord>> Read(uint64_t from_seq, size_t limit) override;
  base::Result<uint64_t> LastSeq() override;
  base::Result<std::unique_ptr<broker::LogCursor>> OpenCursor(
      const broker::CursorOptions& options) override;

  // For SqliteCursor (sqlite_stream_log_cursor.cc). Collect runs under mu().
  base::Result<std::vector<broker::CursorDelivery>> Collect(const broker::CursorOptions& options,
                                                            size_t max,
                                                            std::vector<uint64_t>* exhausted);
  base::Status Settle(const std::string& durable, uint64_t seq, bool ack);
  std::mutex& mu() { return mu_; }
  std::condition_variable& cv() { return cv_; }
  uint64_t version() const { return version_; }

 private:
  using Picked = std::vector<std::pair<uint64_t, uint32_t>>;  // seq, delivery count

  base::Result<uint64_t> LastSeqLocked();
  base::Result<broker::AppendResult> DoAppend(const broker::LogMessage& msg,
                                              std::optional<uint64_t> expected);
  base::Result<broker::AppendResult> AppendInTransaction(const broker::LogMessage& msg,
                                                         std::optional<uint64_t> expected);
  base::Result<std::vector<broker::CursorDelivery>> CollectInTransaction(
      const broker::CursorOptions& options, size_t max, std::vector<uint64_t>* exhausted);
  // Expired or naked deliveries: redelivered (up to max) or marked exhausted.
  base::Status TakeRedeliveries(const broker::CursorOptions& options, base::TimeMs now, size_t max,
                                Picked* picked, std::vector<uint64_t>* exhausted);
  // First deliveries after the cursor's position that match its filter.
  base::Status TakeNew(const broker::CursorOptions& options, base::TimeMs now, size_t max,
                       Picked* picked);

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t version_ = 0;  // bumped by every Append and Nak (under mu_)
  std::unique_ptr<Db> db_;
  int lock_fd_;
  const base::Clock* clock_;
};

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_SQLITE_STREAM_LOG_INTERNAL_H_
