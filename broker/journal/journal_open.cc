// Journal::Open and the checks made before anything is queued.
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <algorithm>
#include "base/log.h"
#include "broker/journal/batch_writer.h"
#include "broker/journal/chain.h"
#include "broker/journal/integrity.h"
#include "broker/journal/journal.h"

#include "broker/journal/journal_internal.h"
#include "broker/journal/page_checksum.h"
#include "broker/journal/schema_sql.h"
#include "broker/journal/wal_checkpointer.h"
#include "broker/journal/work_queue.h"
#include "crypto/seal.h"
#include "schema/codec.h"

namespace relais::journal {

namespace internal {

namespace {

base::Error BadEnvelope(const char* why) { return base::InvalidInput("bad_envelope", why); }

bool SameDigest(const crypto::Digest& d, const base::Bytes& b) {
  return b.size() == d.size() && std::equal(d.begin(), d.end(), b.begin());
}

}  // namespace

base::Result<PreparedAppend> PrepareAppend(AppendRequest& request, bool check) {
  schema::Envelope& env = request.envelope;
  schema::Header& h = request.header;
  if (env.header.empty()) return BadEnvelope("the header is empty");
  if (env.signature.size() != kSignatureSize) return BadEnvelope("the signature is not 64 bytes");
  if (env.body_digest.size() != crypto::kDigestSize ||
      env.wraps_digest.size() != crypto::kDigestSize) {
    return BadEnvelope("a digest is not 32 bytes");
  }
  if (h.event_id.size() != schema::kEventIdSize) return BadEnvelope("the event id is not 16 bytes");
  if (h.case_ref.empty()) return BadEnvelope("the case ref is empty");
  PreparedAppend p;
  p.wraps = crypto::CanonicalWraps(env.wraps);
  p.header_hash = crypto::Blake2b(env.header);
  // Another instance's event read after its case key was destroyed (a withdrawal) comes without
  // its sealed bytes: the digests cannot be checked, and it is stored as erased.
  const bool from_stream =
      std::any_of(request.mutations.begin(), request.mutations.end(),
                  [](const DerivedMutation& m) { return std::holds_alternative<FromStream>(m); });
  if (check || from_stream) {
    const bool body_ok = SameDigest(crypto::Blake2b(env.body), env.body_digest);
    const bool wraps_ok = SameDigest(crypto::Blake2b(p.wraps), env.wraps_digest);
    p.sealed_absent =
        from_stream && env.body.empty() && env.wraps.empty() && !(body_ok && wraps_ok);
    if (!p.sealed_absent && !body_ok) {
      return base::InvalidInput("digest_mismatch", "the body does not match bodyDigest");
    }
    if (!p.sealed_absent && !wraps_ok) {
      return base::InvalidInput("digest_mismatch", "the wraps do not match wrapsDigest");
    }
  }
  if (check) {
    auto decoded = schema::DecodeHeader(env.header);
    if (!decoded || *decoded != h) {
      return base::InvalidInput("header_mismatch",
                                "the decoded header does not match the header bytes");
    }
  }
  p.event_id = std::move(h.event_id);
  p.kind = static_cast<int64_t>(h.kind);
  p.case_ref = std::move(h.case_ref);
  p.emitter = std::move(h.emitter);
  p.due_at = h.due_at;
  p.header = std::move(env.header);
  p.signature = std::move(env.signature);
  p.body_digest = std::move(env.body_digest);
  p.wraps_digest = std::move(env.wraps_digest);
  p.body = std::move(env.body);
  p.mutations = std::move(request.mutations);
  if (request.hand_back) {
    p.hand_back = true;
    p.wrap_list = std::move(env.wraps);
  }
  return p;
}

base::Status VerifyTail(Db& db, const KeySet& keys) {
  RELAIS_ASSIGN_OR_RETURN(std::optional<Checkpoint> cp, ReadLastCheckpoint(db));
  Head start;
  if (cp) {
    RELAIS_RETURN_IF_ERROR(CheckCheckpointAgainstRows(db, *cp, keys));
    RELAIS_ASSIGN_OR_RETURN(std::optional<Head> link, ReadLink(db, cp->seq));
    start = *link;  // present: checked above
  }
  Head verified;
  RELAIS_ASSIGN_OR_RETURN(std::optional<ChainFault> fault, VerifyRows(db, start, 0, &verified));
  if (fault) return FaultError(*fault);
  return base::Ok();
}

struct FilesBeforeOpen {
  bool fresh = false;          // the database file is absent or empty
  bool wal_committed = false;  // the WAL holds committed frames
};

// Before SQLite opens the files (its WAL recovery would silently drop frames after a damaged one):
// the WAL, the database header and size, and for a file up to `sync_limit` bytes every page.
base::Result<FilesBeforeOpen> CheckFilesBeforeOpen(const std::string& path, bool checksums,
                                                   int64_t sync_limit) {
  FilesBeforeOpen files;
  RELAIS_ASSIGN_OR_RETURN(WalState wal, CheckWal(path + "-wal"));
  files.wal_committed = wal.committed_frames > 0;
  RELAIS_ASSIGN_OR_RETURN(std::optional<DbHeader> header, ReadDbHeader(path));
  files.fresh = !header.has_value();
  if (!header) return files;
  RELAIS_RETURN_IF_ERROR(CheckDbFile(*header, path, files.wal_committed, checksums));
  if (checksums && header->reserved == kPageChecksumBytes && header->file_size <= sync_limit) {
    RELAIS_ASSIGN_OR_RETURN(ScrubStats stats, ScrubPages(path, nullptr, 0));
    base::LogDebug("journal_scrubbed", {{"pages", stats.pages}, {"us", stats.micros}});
  }
  return files;
}

}  // namespace internal

base::Result<std::unique_ptr<Journal>> Journal::Open(JournalOptions options,
                                                     const base::Clock& clock,
                                                     const crypto::Secret* checkpoint_key) {
  if (options.path.empty()) return base::InvalidInput("bad_path", "the journal path is empty");
  if (options.max_batch == 0) options.max_batch = 1;
  const std::string lock_path = options.path.string() + ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return base::NotFound("journal_not_found",
                          "cannot create " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return base::RetryLater("journal_locked",
                            "another process has " + options.path.string() + " open for writing");
  }
  std::unique_ptr<Journal> journal(new Journal(std::move(options), fd));
  RELAIS_RETURN_IF_ERROR(journal->Start(clock, checkpoint_key));
  return journal;
}

Journal::Journal(JournalOptions options, int lock_fd)
    : options_(std::move(options)), lock_fd_(lock_fd) {}

base::Status Journal::Start(const base::Clock& clock, const crypto::Secret* key) {
  using namespace internal;  // NOLINT: the journal's own internals
  if (key != nullptr) {
    key_ = crypto::Secret::Copy(key->View());
    options_.checkpoint_keys.Add("broker", SigningPublicKey(key_));
  }
  const std::string path = options_.path.string();
  const bool checksums = options_.page_checksums;
  RELAIS_ASSIGN_OR_RETURN(FilesBeforeOpen files,
                          CheckFilesBeforeOpen(path, checksums, options_.scrub_sync_limit_bytes));
  RELAIS_ASSIGN_OR_RETURN(std::unique_ptr<Db> db,
                          Db::Open(path, OpenMode::kReadWriteCreate, options_.vfs));
  db->SetBusyTimeoutMs(options_.busy_timeout_ms);
  if (files.fresh && checksums) db->SetReserveBytes(kPageChecksumBytes);  // before the first write
  RELAIS_RETURN_IF_ERROR(ConfigureWriteConnection(*db));
  RELAIS_RETURN_IF_ERROR(EnsureSchema(*db, checksums));
  if (options_.verify_on_open) RELAIS_RETURN_IF_ERROR(VerifyTail(*db, options_.checkpoint_keys));
  const bool inline_wal = options_.wal_checkpointing == WalCheckpointing::kInline;
  db->SetAutoCheckpoint(inline_wal ? options_.wal_checkpoint_frames : 0);
  CheckpointPolicy policy{key_.Empty() ? nullptr : &key_, options_.checkpoint_every_rows,
                          options_.checkpoint_every_ms, options_.busy_timeout_ms};
  RELAIS_ASSIGN_OR_RETURN(writer_, BatchWriter::Create(std::move(db), clock, policy));
  // An erasure interrupted before its WAL truncation must not leave old page images behind:
  // start every run from an empty WAL. Best effort: a reader on an old snapshot only delays it.
  base::Status truncated = writer_->TruncateWal();
  if (!truncated && truncated.error().kind != base::ErrorKind::kRetryLater) return truncated;
  if (truncated) RELAIS_RETURN_IF_ERROR(CheckFilesAfterOpen(files.wal_committed));
  queue_ =
      std::make_unique<WorkQueue>(options_.max_batch, std::max<size_t>(1, options_.max_queued));
  if (!inline_wal) {
    WorkQueue* queue = queue_.get();
    RELAIS_ASSIGN_OR_RETURN(
        checkpointer_,
        WalCheckpointer::Start(
            path, options_.vfs, options_.wal_checkpoint_frames, [queue](const base::Error& e) {
              queue->Fail(base::FailStop("journal_failed", "WAL checkpoint failed: " + e.message));
            }));
    writer_->db().SetWalHook([this](int frames) {
      writer_->NoteWalFrames(frames);
      checkpointer_->Notify(frames);
    });
  }
  PublishHead();
  thread_ = std::thread([this] { WriterLoop(); });
  StartScrub();
  return base::Ok();
}

// With an empty WAL the file is the whole database: its header must now say format 3 with
// checksum bytes, and the file must hold exactly the header's page count. When WAL frames were
// just copied in, a small file is scrubbed again: pages the copy did not rewrite may have been
// cut off (a truncated file the checkpoint extended again reads back as zeros).
base::Status Journal::CheckFilesAfterOpen(bool wal_was_committed) {
  using namespace internal;  // NOLINT: the journal's own internals
  const std::string path = options_.path.string();
  RELAIS_ASSIGN_OR_RETURN(std::optional<DbHeader> header, ReadDbHeader(path));
  if (!header) return base::Corruption("journal_corrupt", "the database file vanished");
  if (options_.page_checksums && header->reserved != kPageChecksumBytes) {
    return base::Corruption("journal_corrupt", "the database has no page checksums");
  }
  RELAIS_RETURN_IF_ERROR(
      CheckDbFile(*header, path, /*wal_committed=*/false, options_.page_checksums));
  if (wal_was_committed && options_.page_checksums &&
      header->file_size <= options_.scrub_sync_limit_bytes) {
    RELAIS_RETURN_IF_ERROR(ScrubPages(path, nullptr, 0));
  }
  return base::Ok();
}

void Journal::StartScrub() {
  using namespace internal;  // NOLINT: the journal's own internals
  if (!options_.page_checksums) return;
  std::error_code ec;
  const auto size = std::filesystem::file_size(options_.path, ec);
  if (ec || static_cast<int64_t>(size) <= options_.scrub_sync_limit_bytes) return;  // done
  scrub_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "journal-scrub");
    auto stats = ScrubPages(options_.path.string(), &scrub_stop_, /*retries=*/3);
    if (!stats) {
      base::LogError("journal_scrub_failed",
                     {{"code", stats.error().code}, {"message", stats.error().message}});
      queue_->Fail(stats.error());
      if (options_.on_corruption) options_.on_corruption(stats.error());
      return;
    }
    if (scrub_stop_.load()) return;  // closed before the scrub finished
    const double mb = static_cast<double>(stats->bytes) / (1 << 20);
    base::LogInfo("journal_scrub_done",
                  {{"pages", stats->pages},
                   {"mib_per_s", stats->micros > 0 ? mb * 1e6 / stats->micros : 0.0}});
  });
}

}  // namespace relais::journal
