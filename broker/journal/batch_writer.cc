#include "broker/journal/batch_writer.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

#include "base/crash_point.h"
#include "base/log.h"
#include "broker/journal/chain.h"
#include "broker/journal/schema_sql.h"

namespace relais::journal::internal {

namespace {

int64_t I64(uint64_t v) { return static_cast<int64_t>(v); }

}  // namespace

base::Result<std::unique_ptr<BatchWriter>> BatchWriter::Create(std::unique_ptr<Db> db,
                                                               const base::Clock& clock,
                                                               CheckpointPolicy policy) {
  std::unique_ptr<BatchWriter> w(new BatchWriter(std::move(db), clock, policy));
  RELAIS_RETURN_IF_ERROR(w->PrepareStatements());
  RELAIS_ASSIGN_OR_RETURN(w->head_, ReadHead(*w->db_));
  RELAIS_ASSIGN_OR_RETURN(w->last_checkpoint_, ReadLastCheckpoint(*w->db_));
  RELAIS_RETURN_IF_ERROR(w->LoadCaseNumbers());
  // A journal reopened after a pause counts its time-based interval from now.
  w->last_checkpoint_time_ = clock.NowMs();
  return w;
}

BatchWriter::BatchWriter(std::unique_ptr<Db> db, const base::Clock& clock, CheckpointPolicy policy)
    : db_(std::move(db)), clock_(clock), policy_(policy) {}

base::Status BatchWriter::PrepareStatements() {
  RELAIS_ASSIGN_OR_RETURN(derived_, DerivedWriter::Prepare(*db_));
  struct {
    Stmt* stmt;
    const char* sql;
  } const statements[] = {
      {&begin_, "BEGIN IMMEDIATE"},
      {&commit_, "COMMIT"},
      {&insert_entry_,
       "INSERT INTO entries(seq, received_at, event_id, kind, case_ref, emitter, due_at, header, "
       "signature, body_digest, wraps_digest, body, wraps, entry_hash, case_no) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"},
      {&find_event_, "SELECT seq, received_at FROM entries WHERE event_id = ?1"},
      {&insert_case_, "INSERT INTO case_keys(case_no, case_ref) VALUES (?1, ?2)"},
      {&insert_checkpoint_,
       "INSERT INTO checkpoints(seq, head_hash, time, key_id, signature) "
       "VALUES (?1, ?2, ?3, ?4, ?5)"},
      {&erase_,
       "UPDATE entries SET body = NULL, wraps = NULL WHERE case_no = ?1 AND "
       "(body IS NOT NULL OR wraps IS NOT NULL)"},
  };
  for (const auto& s : statements) {
    RELAIS_ASSIGN_OR_RETURN(*s.stmt, db_->Prepare(s.sql));
  }
  return base::Ok();
}

base::Status BatchWriter::LoadCaseNumbers() {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("SELECT case_no, case_ref FROM case_keys"));
  std::unique_lock lock(case_numbers_mu_);
  int64_t max_case = 0;
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("loading case numbers"));
    if (!row) break;
    const int64_t case_no = stmt.Int(0);
    case_numbers_.Insert(stmt.Text(1), case_no);
    max_case = std::max(max_case, case_no);
  }
  next_case_no_ = max_case + 1;
  return base::Ok();
}

base::Status BatchWriter::Abort(base::Status error) {
  db_->RollbackIfOpen();
  derived_.DiscardCursors();
  head_ = saved_head_;
  next_case_no_ = saved_next_case_no_;
  {
    std::unique_lock lock(case_numbers_mu_);
    for (const std::string& case_ref : batch_new_cases_) case_numbers_.Erase(case_ref);
  }
  batch_new_cases_.clear();
  return error;
}

base::Status BatchWriter::RunBatch(std::vector<BatchItem>& items) {
  saved_head_ = head_;
  saved_next_case_no_ = next_case_no_;
  batch_new_cases_.clear();
  RELAIS_RETURN_IF_ERROR(begin_.Run("beginning a batch"));
  const base::TimeMs now = clock_.NowMs();
  // receivedAt never goes backwards, even if the wall clock does.
  const base::TimeMs received_at = std::max(now, head_.received_at);
  [[maybe_unused]] bool appended = false;
  [[maybe_unused]] bool acked = false;
  for (BatchItem& item : items) {
    if (auto* append = std::get_if<PreparedAppend>(&item.op)) {
      auto result = AppendOne(*append, received_at);
      if (!result) return Abort(std::move(result).error());
      item.append_result = std::move(result);
      appended = true;
    } else {
      const DeliveryUpdate& update = std::get<DeliveryUpdate>(item.op);
      auto result = derived_.Update(update);
      if (!result) return Abort(std::move(result).error());
      item.update_result = std::move(result).value();
      acked = acked || std::holds_alternative<AckDelivery>(update);
    }
  }
  if (base::Status st = derived_.FlushCursors(); !st) return Abort(std::move(st));
  std::optional<Checkpoint> written;
  if (CheckpointDue(now)) {
    if (base::Status st = InsertCheckpoint(now, &written); !st) return Abort(std::move(st));
  }
  if (appended) RELAIS_CRASH_POINT("in_commit");
  if (acked) RELAIS_CRASH_POINT("during_cursor_update");
  return Commit(std::move(written));
}

base::Status BatchWriter::Commit(std::optional<Checkpoint> written) {
  const int64_t start_us = base::MonotonicMicros();
  base::Status committed = commit_.Run("committing");
  last_commit_us_ = base::MonotonicMicros() - start_us;
  if (!committed) return Abort(std::move(committed));
  batch_new_cases_.clear();
  if (written) {
    last_checkpoint_ = std::move(written);
    last_checkpoint_time_ = last_checkpoint_->time;
  }
  return base::Ok();
}

int64_t BatchWriter::CaseNumber(const std::string& case_ref, bool* is_new) const {
  std::optional<int64_t> found = case_numbers_.Find(case_ref);
  *is_new = !found;
  return found.value_or(next_case_no_);
}

std::optional<int64_t> BatchWriter::FindCaseNumber(const std::string& case_ref) const {
  std::shared_lock lock(case_numbers_mu_);
  return case_numbers_.Find(case_ref);
}

base::Result<AppendResult> BatchWriter::AppendOne(PreparedAppend& r, base::TimeMs received_at) {
  bool new_case = false;
  const int64_t case_no = CaseNumber(r.case_ref, &new_case);
  const uint64_t seq = head_.seq + 1;
  ChainLink link{seq, received_at, r.header_hash, r.signature, r.body_digest, r.wraps_digest};
  const crypto::Digest hash = EntryHash(head_.hash, link);
  Stmt& s = insert_entry_;
  s.Bind(1, I64(seq)).Bind(2, received_at).Bind(3, r.event_id).Bind(4, r.kind);
  s.Bind(5, r.case_ref).Bind(6, r.emitter).Bind(7, r.due_at).Bind(8, r.header);
  s.Bind(9, r.signature).Bind(10, r.body_digest).Bind(11, r.wraps_digest);
  if (r.sealed_absent) {
    s.BindNull(12).BindNull(13);
  } else {
    s.Bind(12, r.body).Bind(13, r.wraps);
  }
  s.Bind(14, crypto::View(hash)).Bind(15, case_no);
  base::Status inserted = s.Run("appending an entry");
  if (!inserted) {
    if (!IsConstraintViolation(s.rc())) return std::move(inserted).error();
    // The only constraint an append can meet is the unique event id: a duplicate.
    find_event_.Bind(1, r.event_id);
    RELAIS_ASSIGN_OR_RETURN(bool found, find_event_.Step("looking up a duplicate"));
    if (!found) {
      return base::FailStop("journal_failed",
                            "an append violated a constraint other than the "
                            "unique event id");
    }
    AppendResult dup{static_cast<uint64_t>(find_event_.Int(0)), find_event_.Int(1), true,
                     std::nullopt};
    find_event_.Reset();
    return dup;
  }
  if (new_case) {
    insert_case_.Bind(1, case_no).Bind(2, r.case_ref);
    RELAIS_RETURN_IF_ERROR(insert_case_.Run("recording a case number"));
    {
      std::unique_lock lock(case_numbers_mu_);
      case_numbers_.Insert(r.case_ref, case_no);
    }
    batch_new_cases_.push_back(r.case_ref);
    ++next_case_no_;
  }
  head_ = Head{seq, hash, received_at};
  const EntryContext context{seq, case_no, r.case_ref, r.kind};
  for (const DerivedMutation& m : r.mutations) {
    RELAIS_RETURN_IF_ERROR(derived_.Apply(context, m));
  }
  return AppendResult{seq, received_at, false, std::nullopt};
}

bool BatchWriter::CheckpointDue(base::TimeMs now) const {
  if (policy_.key == nullptr) return false;
  const uint64_t last_seq = last_checkpoint_ ? last_checkpoint_->seq : 0;
  if (head_.seq <= last_seq) return false;
  return head_.seq - last_seq >= policy_.every_rows ||
         now - last_checkpoint_time_ >= policy_.every_ms;
}

std::optional<base::TimeMs> BatchWriter::MsUntilCheckpointDue() const {
  if (policy_.key == nullptr) return std::nullopt;
  const uint64_t last_seq = last_checkpoint_ ? last_checkpoint_->seq : 0;
  if (head_.seq <= last_seq) return std::nullopt;
  return std::max<base::TimeMs>(0, last_checkpoint_time_ + policy_.every_ms - clock_.NowMs());
}

base::Status BatchWriter::InsertCheckpoint(base::TimeMs now, std::optional<Checkpoint>* written) {
  Checkpoint cp = SignCheckpoint(head_.seq, head_.hash, now, *policy_.key);
  insert_checkpoint_.Bind(1, I64(cp.seq)).Bind(2, crypto::View(cp.head_hash)).Bind(3, cp.time);
  insert_checkpoint_.Bind(4, cp.key_id).Bind(5, cp.signature);
  RELAIS_RETURN_IF_ERROR(insert_checkpoint_.Run("writing a checkpoint"));
  *written = std::move(cp);
  return base::Ok();
}

base::Result<std::optional<Checkpoint>> BatchWriter::CheckpointIfDue(bool force) {
  const base::TimeMs now = clock_.NowMs();
  const uint64_t last_seq = last_checkpoint_ ? last_checkpoint_->seq : 0;
  const bool due = force ? policy_.key != nullptr && head_.seq > last_seq : CheckpointDue(now);
  if (!due) return last_checkpoint_;
  saved_head_ = head_;
  saved_next_case_no_ = next_case_no_;
  RELAIS_RETURN_IF_ERROR(begin_.Run("beginning a checkpoint"));
  std::optional<Checkpoint> written;
  if (base::Status st = InsertCheckpoint(now, &written); !st) return Abort(std::move(st)).error();
  RELAIS_RETURN_IF_ERROR(Commit(std::move(written)));
  return last_checkpoint_;
}

base::Status BatchWriter::Erase(const std::string& case_ref) {
  saved_head_ = head_;
  saved_next_case_no_ = next_case_no_;
  bool unknown = false;
  const int64_t case_no = CaseNumber(case_ref, &unknown);
  if (unknown) return base::NotFound("unknown_case", "no journal entry has this case ref");
  RELAIS_RETURN_IF_ERROR(begin_.Run("beginning an erasure"));
  erase_.Bind(1, case_no);
  if (base::Status st = erase_.Run("erasing sealed bytes"); !st) return Abort(std::move(st));
  RELAIS_RETURN_IF_ERROR(Commit(std::nullopt));
  // secure_delete zeroed the freed space in the database pages; the WAL still holds the old page
  // images until it is checkpointed and truncated.
  base::Status truncated = TruncateWal();
  if (!truncated && truncated.error().code == "journal_busy") {
    return base::RetryLater("journal_busy",
                            "bodies erased, but readers kept the WAL from being truncated; "
                            "call Erase again");
  }
  return truncated;
}

base::Status BatchWriter::TruncateWal() {
  const int64_t deadline_us = base::MonotonicMicros() + int64_t{policy_.busy_timeout_ms} * 1000;
  while (true) {
    auto result = db_->WalCheckpoint(WalCheckpointMode::kTruncate);
    if (result) {
      wal_frames_ = 0;
      return base::Ok();
    }
    // SQLITE_BUSY comes back at once, without the busy handler, while the background
    // checkpointer holds the checkpoint lock; readers on old snapshots are waited for inside.
    if (result.error().code != "journal_busy" || base::MonotonicMicros() >= deadline_us) {
      return std::move(result).error();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

base::Status BatchWriter::Rebuild(const DeriveFn& derive) {
  saved_head_ = head_;
  saved_next_case_no_ = next_case_no_;
  RELAIS_RETURN_IF_ERROR(begin_.Run("beginning a rebuild"));
  if (base::Status st = BeginRebuild(*db_); !st) return Abort(std::move(st));
  std::string sql = std::string("SELECT ") + kEntryMetadataColumns + ", e.case_no" +
                    " FROM entries e ORDER BY e.seq";
  auto stmt = db_->Prepare(sql.c_str());
  if (!stmt) return Abort(std::move(stmt).error());
  while (true) {
    auto row = stmt->Step("replaying the journal");
    if (!row) return Abort(std::move(row).error());
    if (!*row) break;
    auto entry = ReadEntry(*stmt);
    if (!entry) return Abort(std::move(entry).error());
    const EntryContext context{entry->seq, stmt->Int(16), entry->case_ref,
                               static_cast<int64_t>(entry->kind)};
    for (const DerivedMutation& m : derive(*entry)) {
      if (base::Status st = derived_.Apply(context, m); !st) return Abort(std::move(st));
    }
  }
  if (base::Status st = FinishRebuild(*db_); !st) return Abort(std::move(st));
  if (base::Status st = derived_.TouchAllAgencies(); !st) return Abort(std::move(st));
  if (base::Status st = derived_.FlushCursors(); !st) return Abort(std::move(st));
  return Commit(std::nullopt);
}

void BatchWriter::MaybeFinishWal(int restart_frames) {
  if (restart_frames <= 0 || wal_frames_ < restart_frames) return;
  auto result = db_->WalCheckpoint(WalCheckpointMode::kPassive);
  // Busy (the background checkpointer is running) or disk full: try again after the next batch.
  if (result) wal_frames_ = 0;
}

}  // namespace relais::journal::internal
