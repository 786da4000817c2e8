// Internal to the journal: everything the writer thread does with the write connection. One
// BatchWriter per journal; all methods run on the writer thread (or on the opening thread before
// the writer thread starts).
#ifndef RELAIS_BROKER_JOURNAL_BATCH_WRITER_H_
#define RELAIS_BROKER_JOURNAL_BATCH_WRITER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "broker/journal/case_number_index.h"
#include "broker/journal/checkpoint.h"
#include "broker/journal/db.h"
#include "broker/journal/derived_sql.h"
#include "broker/journal/entry.h"
#include "crypto/secret.h"

namespace relais::journal::internal {

// An append after the caller-thread checks (sizes, digests, header), ready to be written.
struct PreparedAppend {
  base::Bytes event_id;
  int64_t kind = 0;
  std::string case_ref;
  std::string emitter;
  base::TimeMs due_at = 0;
  base::Bytes header;
  crypto::Digest header_hash{};
  base::Bytes signature;
  base::Bytes body_digest;
  base::Bytes wraps_digest;
  base::Bytes body;
  base::Bytes wraps;  // crypto::CanonicalWraps layout
  std::vector<DerivedMutation> mutations;
  // AppendRequest::hand_back: the envelope's wraps, kept to give the envelope back (the other
  // parts of the envelope are the fields above).
  bool hand_back = false;
  std::vector<schema::Wrap> wrap_list;
  // Another instance's event whose sealed bytes were shredded before this instance read them
  // (FromStream, no body, no wraps): stored as an erased entry (body and wraps NULL).
  bool sealed_absent = false;
};

// One unit of a group-commit batch, with the slot its outcome is written to.
struct BatchItem {
  std::variant<PreparedAppend, DeliveryUpdate> op;
  std::optional<base::Result<AppendResult>> append_result;
  std::optional<base::Status> update_result;
};

struct CheckpointPolicy {
  const crypto::Secret* key = nullptr;  // null: no checkpoints are written
  uint64_t every_rows = 1000;
  base::TimeMs every_ms = 60'000;
  int busy_timeout_ms = 5000;  // how long Erase keeps trying to truncate the WAL
};

using DeriveFn = std::function<std::vector<DerivedMutation>(const StoredEntry&)>;

class BatchWriter {
 public:
  // Reads the head, the last checkpoint and the next case number from `db`, which is already
  // configured and verified.
  static base::Result<std::unique_ptr<BatchWriter>> Create(std::unique_ptr<Db> db,
                                                           const base::Clock& clock,
                                                           CheckpointPolicy policy);

  // Writes all items in one transaction and fills their results. On a batch-level error (SQLite)
  // the transaction is rolled back, the in-memory head is restored, no result is filled and the
  // error is returned: the caller fails every item with it.
  base::Status RunBatch(std::vector<BatchItem>& items);
  // Writes a checkpoint of the head in its own transaction if one is due (or `force`d and the
  // head moved). Returns the journal's latest checkpoint, if any.
  base::Result<std::optional<Checkpoint>> CheckpointIfDue(bool force);
  // Milliseconds until a time-based checkpoint falls due; nullopt when none can be.
  std::optional<base::TimeMs> MsUntilCheckpointDue() const;
  // The case number of `case_ref` (nullopt: no entry of it yet). The only method safe from any
  // thread (the broker's I/O thread reads a case's entries by number while the writer runs); a
  // number first given in a transaction not yet committed has no committed entry yet.
  std::optional<int64_t> FindCaseNumber(const std::string& case_ref) const;
  // Deletes bodies and wraps of `case_ref` then checkpoints the WAL with TRUNCATE.
  base::Status Erase(const std::string& case_ref);
  // Copies every WAL frame into the database and truncates the WAL to zero bytes, retrying
  // while another checkpointer holds the checkpoint lock, for at most busy_timeout_ms.
  base::Status TruncateWal();
  base::Status Rebuild(const DeriveFn& derive);
  // Runs a PASSIVE WAL checkpoint on the write connection when the WAL has grown past
  // `restart_frames`, so that the next transaction can restart the WAL from its beginning.
  void MaybeFinishWal(int restart_frames);
  void NoteWalFrames(int frames) { wal_frames_ = frames; }

  const Head& head() const { return head_; }
  int64_t last_commit_us() const { return last_commit_us_; }
  Db& db() { return *db_; }

 private:
  BatchWriter(std::unique_ptr<Db> db, const base::Clock& clock, CheckpointPolicy policy);
  base::Status PrepareStatements();
  base::Result<AppendResult> AppendOne(PreparedAppend& req, base::TimeMs received_at);
  base::Status LoadCaseNumbers();
  // The case's number, or the number a new case would get (*is_new).
  int64_t CaseNumber(const std::string& case_ref, bool* is_new) const;
  bool CheckpointDue(base::TimeMs now) const;
  base::Status InsertCheckpoint(base::TimeMs now, std::optional<Checkpoint>* written);
  base::Status Commit(std::optional<Checkpoint> written);
  base::Status Abort(base::Status error);

  std::unique_ptr<Db> db_;
  const base::Clock& clock_;
  CheckpointPolicy policy_;
  DerivedWriter derived_;
  Stmt begin_, commit_, insert_entry_, find_event_, insert_case_, insert_checkpoint_;
  Stmt erase_;

  Head head_;
  int64_t next_case_no_ = 1;
  // case_ref -> case_no for every case, loaded at open: case_keys has no index on case_ref (see
  // docs/journal-format.md §2). Cases first seen in the running transaction are also listed in
  // batch_new_cases_ so that a rollback can forget them.
  CaseNumberIndex case_numbers_;
  mutable std::shared_mutex case_numbers_mu_;  // held to change case_numbers_, or by other threads
  std::vector<std::string> batch_new_cases_;
  std::optional<Checkpoint> last_checkpoint_;
  base::TimeMs last_checkpoint_time_ = 0;
  // State at BEGIN, restored on rollback.
  Head saved_head_;
  int64_t saved_next_case_no_ = 1;
  int wal_frames_ = 0;
  int64_t last_commit_us_ = 0;
};

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_BATCH_WRITER_H_
