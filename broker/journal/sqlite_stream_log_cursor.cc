// The embedded StreamLog's durable cursors: rows of `cursors` (position, filter) and
// `cursor_pending` (delivered, not yet acked: delivery count, redelivery time, exhausted).
#include <sqlite3.h>

#include <algorithm>

#include "broker/journal/sqlite_stream_log_internal.h"

namespace relais::journal::internal {
namespace {

constexpr int64_t kScanBatch = 512;

}  // namespace

base::Result<std::vector<broker::CursorDelivery>> SqliteLog::Collect(
    const broker::CursorOptions& options, size_t max, std::vector<uint64_t>* exhausted) {
  RELAIS_RETURN_IF_ERROR(Wrap(db_->Exec("BEGIN IMMEDIATE")));
  auto result = CollectInTransaction(options, max, exhausted);
  if (!result) {
    db_->RollbackIfOpen();
    return result;
  }
  if (auto s = db_->Exec("COMMIT"); !s) {
    db_->RollbackIfOpen();
    return RemapStreamError(std::move(s).error());
  }
  return result;
}

// Redeliveries (ack_wait expired or naked) first, then first deliveries in seq order.
base::Result<std::vector<broker::CursorDelivery>> SqliteLog::CollectInTransaction(
    const broker::CursorOptions& options, size_t max, std::vector<uint64_t>* exhausted) {
  const base::TimeMs now = clock_->NowMs();
  Picked picked;
  RELAIS_RETURN_IF_ERROR(TakeRedeliveries(options, now, max, &picked, exhausted));
  if (picked.size() < max) RELAIS_RETURN_IF_ERROR(TakeNew(options, now, max, &picked));
  RELAIS_ASSIGN_OR_RETURN(Stmt get, Wrap(db_->Prepare("SELECT seq, id, subject, headers, data, "
                                                      "stored_at FROM messages WHERE seq = ?")));
  std::vector<broker::CursorDelivery> out;
  for (const auto& [seq, count] : picked) {
    get.Bind(1, static_cast<int64_t>(seq));
    auto r = get.Step("reading a message");
    if (!r) return RemapStreamError(std::move(r).error());
    if (!*r) return base::Corruption("stream_corrupt", "delivered seq missing");
    RELAIS_ASSIGN_OR_RETURN(broker::LogRecord record, RowToRecord(get));
    get.Reset();
    out.push_back(broker::CursorDelivery{std::move(record), count, count >= options.max_deliver});
  }
  return out;
}

base::Status SqliteLog::TakeRedeliveries(const broker::CursorOptions& options, base::TimeMs now,
                                         size_t max, Picked* picked,
                                         std::vector<uint64_t>* exhausted) {
  const std::string& name = options.durable;
  RELAIS_ASSIGN_OR_RETURN(
      Stmt due, Wrap(db_->Prepare("SELECT seq, deliveries FROM cursor_pending WHERE name = ? "
                                  "AND exhausted = 0 AND redeliver_at <= ? ORDER BY seq")));
  due.Bind(1, name).Bind(2, now);
  Picked expired;
  while (true) {
    auto row = due.Step("reading pending deliveries");
    if (!row) return RemapStreamError(std::move(row).error());
    if (!*row) break;
    expired.emplace_back(static_cast<uint64_t>(due.Int(0)), static_cast<uint32_t>(due.Int(1)));
  }
  if (expired.empty()) return base::Ok();
  RELAIS_ASSIGN_OR_RETURN(Stmt mark, Wrap(db_->Prepare("UPDATE cursor_pending SET exhausted = 1 "
                                                       "WHERE name = ? AND seq = ?")));
  RELAIS_ASSIGN_OR_RETURN(Stmt redeliver,
                          Wrap(db_->Prepare("UPDATE cursor_pending SET deliveries = ?, "
                                            "redeliver_at = ? WHERE name = ? AND seq = ?")));
  const base::TimeMs next_due = now + options.ack_wait.count();
  for (const auto& [seq, count] : expired) {
    if (count >= options.max_deliver) {
      mark.Bind(1, name).Bind(2, static_cast<int64_t>(seq));
      RELAIS_RETURN_IF_ERROR(Wrap(mark.Run("marking a delivery exhausted")));
      exhausted->push_back(seq);
    } else if (picked->size() < max) {
      redeliver.Bind(1, int64_t{count} + 1).Bind(2, next_due).Bind(3, name);
      redeliver.Bind(4, static_cast<int64_t>(seq));
      RELAIS_RETURN_IF_ERROR(Wrap(redeliver.Run("redelivering")));
      picked->emplace_back(seq, count + 1);
    }
  }
  return base::Ok();
}

base::Status SqliteLog::TakeNew(const broker::CursorOptions& options, base::TimeMs now, size_t max,
                                Picked* picked) {
  const std::string& name = options.durable;
  RELAIS_ASSIGN_OR_RETURN(Stmt pos,
                          Wrap(db_->Prepare("SELECT next_seq FROM cursors WHERE name = ?")));
  pos.Bind(1, name);
  auto row = pos.Step("reading a cursor");
  if (!row) return RemapStreamError(std::move(row).error());
  if (!*row) return base::NotFound("not_delivered", "unknown cursor");
  const int64_t start_seq = pos.Int(0);
  int64_t next_seq = start_seq;
  pos.Reset();
  RELAIS_ASSIGN_OR_RETURN(Stmt scan,
                          Wrap(db_->Prepare("SELECT seq, subject FROM messages WHERE seq >= ? "
                                            "ORDER BY seq LIMIT ?")));
  RELAIS_ASSIGN_OR_RETURN(Stmt add, Wrap(db_->Prepare("INSERT INTO cursor_pending(name, seq, "
                                                      "deliveries, redeliver_at) "
                                                      "VALUES(?,?,1,?)")));
  const base::TimeMs next_due = now + options.ack_wait.count();
  bool more = true;
  while (picked->size() < max && more) {
    scan.Bind(1, next_seq).Bind(2, kScanBatch);
    std::vector<std::pair<int64_t, std::string>> batch;
    while (true) {
      auto r = scan.Step("scanning messages");
      if (!r) return RemapStreamError(std::move(r).error());
      if (!*r) break;
      batch.emplace_back(scan.Int(0), scan.Text(1));
    }
    more = static_cast<int64_t>(batch.size()) == kScanBatch;
    for (const auto& [seq, subject] : batch) {
      if (picked->size() >= max) {
        more = false;
        break;
      }
      next_seq = seq + 1;
      if (!broker::SubjectMatches(options.filter, subject)) continue;
      add.Bind(1, name).Bind(2, seq).Bind(3, next_due);
      RELAIS_RETURN_IF_ERROR(Wrap(add.Run("recording a delivery")));
      picked->emplace_back(static_cast<uint64_t>(seq), 1);
    }
  }
  if (next_seq == start_seq) return base::Ok();  // an idle poll writes nothing (no sync)
  RELAIS_ASSIGN_OR_RETURN(Stmt move,
                          Wrap(db_->Prepare("UPDATE cursors SET next_seq = ? WHERE name = ?")));
  move.Bind(1, next_seq).Bind(2, name);
  return Wrap(move.Run("moving a cursor"));
}

base::Status SqliteLog::Settle(const std::string& durable, uint64_t seq, bool ack) {
  std::lock_guard lock(mu_);
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt,
      Wrap(db_->Prepare(ack ? "DELETE FROM cursor_pending WHERE name = ? AND seq = ? AND "
                              "exhausted = 0"
                            : "UPDATE cursor_pending SET redeliver_at = ? WHERE name = ? AND "
                              "seq = ? AND exhausted = 0")));
  if (ack) {
    stmt.Bind(1, durable).Bind(2, static_cast<int64_t>(seq));
  } else {
    stmt.Bind(1, clock_->NowMs()).Bind(2, durable).Bind(3, static_cast<int64_t>(seq));
  }
  RELAIS_RETURN_IF_ERROR(Wrap(stmt.Run(ack ? "acking" : "naking")));
  if (sqlite3_changes(db_->raw()) == 0) {
    return base::NotFound("not_delivered", "seq " + std::to_string(seq) + " is not pending");
  }
  if (!ack) {
    ++version_;
    cv_.notify_all();
  }
  return base::Ok();
}

base::Result<std::vector<broker::CursorDelivery>> SqliteCursor::Fetch(
    size_t max, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::unique_lock lock(log_->mu());
  while (true) {
    const uint64_t seen = log_->version();
    RELAIS_ASSIGN_OR_RETURN(auto out, log_->Collect(options_, max, &exhausted_));
    const auto now = std::chrono::steady_clock::now();
    if (!out.empty() || max == 0 || now >= deadline) return out;
    // Woken by an Append or Nak; otherwise polls for ack_wait expiries at a short interval.
    const auto poll = std::min<std::chrono::steady_clock::time_point>(
        deadline, now + std::min<std::chrono::milliseconds>(options_.ack_wait / 4,
                                                            std::chrono::milliseconds(50)));
    log_->cv().wait_until(lock, poll, [&] { return log_->version() != seen; });
  }
}

base::Status SqliteCursor::Ack(uint64_t seq) { return log_->Settle(options_.durable, seq, true); }
base::Status SqliteCursor::Nak(uint64_t seq) { return log_->Settle(options_.durable, seq, false); }

}  // namespace relais::journal::internal
