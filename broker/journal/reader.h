// Read access to a journal through its own read-only SQLite connection: delivery and replay
// (ForEachFrom), audits (ByCase, ByTime, VerifyChain, checkpoints) and the derived tables.
//
// Works while a Journal in this or another process writes (WAL readers never block the writer;
// each call reads one consistent snapshot). An auditor can also open a copy made with CopyTo.
//
// Threading: a JournalReader belongs to one thread at a time. Visitors run on the calling thread
// while the snapshot is held: keep them short when a writer is running (a long read keeps the WAL
// from restarting, it never blocks appends).
#ifndef RELAIS_BROKER_JOURNAL_READER_H_
#define RELAIS_BROKER_JOURNAL_READER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "broker/journal/chain.h"
#include "broker/journal/checkpoint.h"
#include "broker/journal/derived.h"
#include "broker/journal/entry.h"

namespace relais::journal {

namespace internal {
class Db;
class Stmt;
}  // namespace internal

struct ReaderOptions {
  std::filesystem::path path;
  std::string vfs;  // empty: SQLite's default
};

// The outcome of a chain verification: how far it got and the first fault, if any.
struct ChainReport {
  Head verified;      // the last entry that verified (Head{} if none)
  uint64_t rows = 0;  // entries checked
  std::optional<ChainFault> fault;
  // Ok, or kCorruption "chain_broken" naming the first bad seq.
  base::Status ToStatus() const;
};

class JournalReader {
 public:
  // kNotFound "journal_not_found" when the file does not exist; kInvalidInput "not_a_journal".
  static base::Result<std::unique_ptr<JournalReader>> Open(const ReaderOptions& options);
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  base::Result<Head> GetHead();
  base::Result<std::optional<StoredEntry>> Get(uint64_t seq,
                                               ReadScope scope = ReadScope::kWithSealed);
  // The seq and receivedAt of the entry with this event id.
  base::Result<std::optional<AppendResult>> FindEvent(base::ByteView event_id);

  // Entries with seq >= from_seq in seq order, until the visitor returns false.
  base::Status ForEachFrom(uint64_t from_seq, const EntryVisitor& visit,
                           ReadScope scope = ReadScope::kWithSealed);
  // The seq and stored header bytes of entries with seq >= from_seq, in seq order, until the
  // visitor returns false (start-up replay: no other column is read or copied). `header` is valid
  // only during the call.
  base::Status ForEachHeader(uint64_t from_seq,
                             const std::function<bool(uint64_t seq, base::ByteView header)>& visit);
  // The seq and stored header bytes of the entries of case number `case_no` (Journal::CaseNumber)
  // with seq >= from_seq, in seq order, through the entries_case index (start-up: a case loaded
  // on demand). `header` is valid only during the call.
  base::Status ForEachHeaderOfCase(
      int64_t case_no, uint64_t from_seq,
      const std::function<bool(uint64_t seq, base::ByteView header)>& visit);
  // Entries of one case, in seq order.
  base::Status ByCase(const std::string& case_ref, const EntryVisitor& visit,
                      ReadScope scope = ReadScope::kMetadata);
  // Entries with from <= receivedAt < to, in seq order.
  base::Status ByTime(base::TimeMs from, base::TimeMs to, const EntryVisitor& visit,
                      ReadScope scope = ReadScope::kMetadata);

  // Verifies entries (from, to] against the chain, starting from the stored hash of `from`
  // (genesis when from == 0); to == 0 means the last entry. Also checks sealed bytes against their
  // digests and metadata columns against the header. Errors are I/O errors only: a chain problem
  // is reported in ChainReport::fault.
  base::Result<ChainReport> VerifyChain(uint64_t from = 0, uint64_t to = 0);

  base::Result<std::vector<Checkpoint>> Checkpoints();
  base::Result<std::optional<Checkpoint>> LastCheckpoint();
  // Checks a checkpoint (from the journal or a file) against the stored entries: signature by
  // one of `broker_keys`, and the stored entry hash at its seq equal to its head hash.
  // kCorruption "checkpoint_mismatch" (a rewritten history) / "journal_truncated".
  base::Status CheckCheckpoint(const Checkpoint& checkpoint, const KeySet& broker_keys);

  // Derived state (docs/journal-format.md §4).
  base::Result<std::vector<uint64_t>> Pending(const std::string& agency, uint64_t after,
                                              size_t limit);
  base::Result<std::vector<DeliveryRow>> Deliveries(const std::string& agency, uint64_t after,
                                                    size_t limit);
  base::Result<std::vector<DeliveryRow>> DeadLetters();
  // Every delivery (any state) of the entries first_seq..last_seq, by seq then agency (audits).
  base::Result<std::vector<DeliveryRow>> DeliveriesOfSeqs(uint64_t first_seq, uint64_t last_seq);
  base::Result<uint64_t> Cursor(const std::string& agency);  // 0 when none
  // Entries ingested from the replicated stream (JetStream mode) with seq in [first, last]:
  // local seq -> stream seq.
  base::Result<std::map<uint64_t, uint64_t>> StreamOrigins(uint64_t first_seq, uint64_t last_seq);
  // The highest stream seq ingested into this journal, 0 when none.
  base::Result<uint64_t> LastStreamOrigin();
  base::Result<std::optional<CaseRow>> Case(const std::string& case_ref);
  base::Result<std::vector<ConsentRow>> Consents(const std::string& case_ref);
  // The case the consent id was granted for (derived consents table), nullopt when none.
  base::Result<std::optional<std::string>> ConsentCase(const std::string& consent_id);
  // Every entry of the case with each of its deliveries, in seq then agency order: who was sent
  // what, when, and whether their system acknowledged it (the person's disclosure receipt).
  base::Result<std::vector<DisclosureRow>> Disclosures(const std::string& case_ref);
  // Canonical text of every derived table (for comparing a live journal with a rebuilt one).
  base::Result<std::string> DumpDerived();

  // SQLite's own structural check of the database file (PRAGMA quick_check): kCorruption
  // "journal_corrupt" with SQLite's first complaint. Says nothing about the chain (VerifyChain).
  base::Status IntegrityCheck();

  // Writes a consistent, self-contained copy of the database to `path` (SQLite online backup),
  // for auditors. The copy contains sealed bodies that were not erased.
  base::Status CopyTo(const std::filesystem::path& path);

 private:
  explicit JournalReader(std::unique_ptr<internal::Db> db);
  base::Status Iterate(const std::string& where, const std::vector<int64_t>& int_args,
                       const std::string* text_arg, const EntryVisitor& visit, ReadScope scope);

  std::unique_ptr<internal::Db> db_;
  // Entry queries prepared once (the broker reads one entry per delivery: re-parsing the SQL each
  // time was a quarter of its I/O thread). `busy` while a visit is under way, so a visitor that
  // reads again gets a statement of its own. Readers are used by one thread at a time.
  struct CachedQuery {
    std::unique_ptr<internal::Stmt> stmt;
    bool busy = false;
  };
  std::map<std::string, CachedQuery> queries_;
};

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_READER_H_
