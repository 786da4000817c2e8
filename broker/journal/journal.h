// The journal: the bus's durable, tamper-evident log of envelopes and the derived state next to it
// (docs/journal-format.md). One process at a time writes a journal (a lock file enforces it);
// any number of JournalReaders, in this or other processes, read it concurrently.
//
// Durability: an append's callback runs only after the COMMIT of the transaction holding it has
// returned, with synchronous=FULL in WAL mode (the WAL is fsync'd). Appends are group-committed:
// the writer thread takes up to `max_batch` queued requests, waiting at most `max_wait` after the
// oldest one, and writes them in one transaction.
//
// Errors (kind / code):
//   kRetryLater "disk_full"       the batch was rolled back; retry with the same event id later
//   kRetryLater "journal_busy"    another process held the database lock for busy_timeout
//   kRetryLater "journal_locked"  Open: another process has this journal open for writing
//   kRetryLater "journal_overloaded"  Append/Update: max_queued requests are already waiting
//   kFailStop   "journal_failed"  an I/O error (fsync, write) or an unexpected SQLite error: the
//                                 writer stopped and every pending and later call fails with it.
//                                 The outcome of the appends in flight is unknown: after a restart
//                                 re-send them with the same event ids (duplicates are detected).
//   kFailStop   "journal_closed"  the journal was closed
//   kCorruption "journal_corrupt" Open: a page fails its checksum, the file size disagrees with its
//                                 header, or the WAL lost committed frames; later: a page read
//                                 fails its checksum (the background scrub also fail-stops)
//   kCorruption "chain_broken"    Open: the chain does not verify; the message names the first bad
//   seq kCorruption "checkpoint_mismatch" / "journal_truncated"  Open: the last checkpoint
//   disagrees kInvalidInput "bad_envelope" / "digest_mismatch" / "header_mismatch"  Append: refused
//   request
//
// Threading: every public method is thread-safe. Callbacks run on the writer thread, after the
// commit, in queue order; they must be short and must not call the blocking methods (Erase,
// Rebuild, CheckpointNow, Close). A request refused before it is queued (bad envelope, journal
// failed or closed) completes on the caller's thread, before Append returns.
#ifndef RELAIS_BROKER_JOURNAL_JOURNAL_H_
#define RELAIS_BROKER_JOURNAL_JOURNAL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/clock.h"
#include "base/status.h"
#include "broker/journal/checkpoint.h"
#include "broker/journal/derived.h"
#include "broker/journal/entry.h"
#include "crypto/secret.h"

namespace relais::journal {

namespace internal {
class BatchWriter;
class WalCheckpointer;
class WorkQueue;
struct QueueItem;
}  // namespace internal

// How WAL frames reach the database file (docs/journal-format.md §6).
enum class WalCheckpointing {
  // A background thread runs PASSIVE checkpoints on its own connection; when the WAL passes
  // wal_restart_frames the writer copies the last frames itself so the WAL can restart.
  kBackground,
  // SQLite's automatic checkpoint, run inside COMMIT every wal_checkpoint_frames.
  kInline,
};

// What the writer did in one transaction, for metrics and benchmarks (writer thread).
struct BatchStats {
  size_t appends = 0;
  size_t updates = 0;
  int64_t queued_us = 0;  // how long the oldest request waited before the batch started
  int64_t write_us = 0;   // BEGIN until COMMIT (inserts, mutations, checkpoint row)
  int64_t commit_us = 0;  // the COMMIT itself (WAL write and fsync)
  int64_t cpu_us = 0;     // CPU time the writer thread used for the whole batch
  // Time the writer spent after the batch finishing a WAL checkpoint itself (kBackground, when the
  // WAL passed wal_restart_frames); it delays the next batch.
  int64_t wal_catchup_us = 0;
  bool ok = false;
};

struct JournalOptions {
  std::filesystem::path path;  // the database file; "<path>.lock" is the writer's lock file
  size_t max_batch = 1024;
  // Group commit (docs/journal-format.md §6): how long an append or update may wait in the
  // queue for others to share its transaction; acknowledgements (AckDelivery, AdvanceCursor)
  // wait up to ack_wait. A full batch (max_batch) starts at once.
  std::chrono::microseconds max_wait{200};
  std::chrono::microseconds ack_wait{5000};
  // Appends and updates allowed to wait for the writer; beyond, they are refused with
  // kRetryLater "journal_overloaded" (callers should bound their own in-flight requests first).
  size_t max_queued = 100'000;
  uint64_t checkpoint_every_rows = 1000;
  base::TimeMs checkpoint_every_ms = 60'000;
  // Keys trusted to have signed existing checkpoints (the signing key's public half is added).
  KeySet checkpoint_keys;
  bool verify_on_open = true;  // last checkpoint to tail; refuse on failure
  // Recompute the digests and decode the header of every append on the caller's thread. An event
  // read from the stream (FromStream) has its digests checked either way: no thread of this
  // process verified it.
  bool check_appends = true;
  WalCheckpointing wal_checkpointing = WalCheckpointing::kBackground;
  int wal_checkpoint_frames = 1000;
  int wal_restart_frames = 4000;
  int busy_timeout_ms = 5000;
  std::string vfs;  // SQLite VFS name; empty for the default (tests inject faults with their own)
  // Per-page checksums (format 3, docs/journal-format.md §1.1). false only for benchmarks that
  // measure their cost: a new journal is then created without them and none are checked.
  bool page_checksums = true;
  // On open, a database file up to this size has every page verified before Open returns; a
  // larger one is verified by a background scrub while the journal serves (every page SQLite
  // reads is verified anyway), which calls on_corruption and fail-stops on a bad page.
  int64_t scrub_sync_limit_bytes = int64_t{64} << 20;
  // Called (on the scrub thread) when the background scrub finds a damaged page; may be empty.
  std::function<void(const base::Error&)> on_corruption;
  std::function<void(const BatchStats&)> on_batch;  // writer thread; may be empty
};

class Journal {
 public:
  // Opens (creating if missing) and, with verify_on_open, verifies the last checkpoint and the
  // chain after it. `clock` must outlive the journal. `checkpoint_key` (a 64-byte Ed25519 secret,
  // copied) signs checkpoints; null means no checkpoints are written (tests and tools only).
  static base::Result<std::unique_ptr<Journal>> Open(JournalOptions options,
                                                     const base::Clock& clock,
                                                     const crypto::Secret* checkpoint_key);
  ~Journal();  // Close()
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends durably; see the header comment for when and where `done` runs.
  void Append(AppendRequest request, AppendCallback done);
  std::future<base::Result<AppendResult>> AppendAsync(AppendRequest request);

  // Records an acknowledgement, attempt, dead letter or requeue, batched with appends.
  void Update(DeliveryUpdate update, StatusCallback done);
  std::future<base::Status> UpdateAsync(DeliveryUpdate update);

  // Blocking; never from a callback. Deletes the sealed body and wraps of every entry of
  // `case_ref` (metadata and chain stay), then checkpoints the WAL with TRUNCATE so no old page
  // image survives in it. kNotFound "unknown_case"; kRetryLater "journal_busy" when readers kept
  // the WAL from being truncated (the bodies are gone; call again).
  base::Status Erase(const std::string& case_ref);
  // The same, queued behind the work already submitted (so after every append submitted before
  // it); `done` runs on the writer thread. For callers that must not wait, like the broker's I/O
  // thread. The WAL truncation is retried once when readers kept it busy.
  void EraseAsync(const std::string& case_ref, StatusCallback done);

  // Blocking. Empties cases and consents, replays every entry in seq order through `derive`
  // (called on the writer thread with metadata-scope entries) applying what it returns, and keeps
  // the operational state of deliveries (acked/dead, attempts, reason) for deliveries the replay
  // recreates; cursors are recomputed. One transaction: on error nothing changes.
  base::Status Rebuild(std::function<std::vector<DerivedMutation>(const StoredEntry&)> derive);

  // Blocking. Writes a checkpoint of the head now if the head moved since the last one, and
  // returns the latest checkpoint (nullopt if none exists). kNotAuthorised "no_checkpoint_key".
  base::Result<std::optional<Checkpoint>> CheckpointNow();

  // Blocking. Finishes queued work, writes a final checkpoint, stops the threads. Idempotent.
  base::Status Close();

  Head head() const;
  // The number the journal gave `case_ref` (entries_case(case_no, seq)), nullopt when the journal
  // has no entry of it. Thread-safe, but not concurrently with Close().
  std::optional<int64_t> CaseNumber(const std::string& case_ref) const;
  uint64_t head_seq() const { return head_seq_.load(std::memory_order_acquire); }
  // Ok while the writer runs; the fail-stop (or closed) error after.
  base::Status health() const;
  const std::filesystem::path& path() const { return options_.path; }

 private:
  Journal(JournalOptions options, int lock_fd);
  base::Status Start(const base::Clock& clock, const crypto::Secret* key);
  void WriterLoop();
  void RunBatch(std::vector<internal::QueueItem>& items);
  void RunControl(internal::QueueItem& item);
  void EnterFailStop(const base::Error& cause);
  void PublishHead();
  base::Status CheckFilesAfterOpen(bool wal_was_committed);
  void StartScrub();
  base::Status RunBlocking(std::function<base::Status(internal::BatchWriter&)> fn);

  JournalOptions options_;
  int lock_fd_;
  crypto::Secret key_;
  std::unique_ptr<internal::WorkQueue> queue_;
  std::unique_ptr<internal::BatchWriter> writer_;
  std::unique_ptr<internal::WalCheckpointer> checkpointer_;
  std::thread thread_;
  std::thread scrub_thread_;
  std::atomic<bool> scrub_stop_{false};
  std::atomic<uint64_t> head_seq_{0};
  mutable std::mutex head_mu_;
  Head head_;
  std::mutex close_mu_;
  bool closed_ = false;
};

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_JOURNAL_H_
