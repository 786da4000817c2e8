#include "broker/journal/reader.h"

#include <sqlite3.h>

#include <system_error>

#include "broker/journal/db.h"
#include "broker/journal/derived_sql.h"
#include "broker/journal/schema_sql.h"

namespace relais::journal {

using internal::Db;
using internal::Stmt;

base::Status ChainReport::ToStatus() const {
  if (fault) return FaultError(*fault);
  return base::Ok();
}

base::Result<std::unique_ptr<JournalReader>> JournalReader::Open(const ReaderOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(options.path, ec)) {
    return base::NotFound("journal_not_found", "no journal at " + options.path.string());
  }
  RELAIS_ASSIGN_OR_RETURN(
      std::unique_ptr<Db> db,
      Db::Open(options.path.string(), internal::OpenMode::kReadOnly, options.vfs));
  db->SetBusyTimeoutMs(5000);
  RELAIS_RETURN_IF_ERROR(internal::CheckFormat(*db));
  return std::unique_ptr<JournalReader>(new JournalReader(std::move(db)));
}

JournalReader::JournalReader(std::unique_ptr<Db> db) : db_(std::move(db)) {}
JournalReader::~JournalReader() = default;

base::Result<Head> JournalReader::GetHead() { return internal::ReadHead(*db_); }

base::Result<std::optional<StoredEntry>> JournalReader::Get(uint64_t seq, ReadScope scope) {
  std::optional<StoredEntry> out;
  RELAIS_RETURN_IF_ERROR(Iterate(
      "e.seq = ?1", {static_cast<int64_t>(seq)}, nullptr,
      [&out](const StoredEntry& e) {
        out = e;
        return false;
      },
      scope));
  return out;
}

base::Result<std::optional<AppendResult>> JournalReader::FindEvent(base::ByteView event_id) {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt,
                          db_->Prepare("SELECT seq, received_at FROM entries WHERE event_id = ?1"));
  stmt.Bind(1, event_id);
  RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("looking up an event id"));
  if (!row) return std::optional<AppendResult>();
  AppendResult r{static_cast<uint64_t>(stmt.Int(0)), stmt.Int(1), true, std::nullopt};
  stmt.Reset();
  return std::optional<AppendResult>(r);
}

base::Status JournalReader::Iterate(const std::string& where, const std::vector<int64_t>& ints,
                                    const std::string* text, const EntryVisitor& visit,
                                    ReadScope scope) {
  const char* columns =
      scope == ReadScope::kWithSealed ? internal::kEntryColumns : internal::kEntryMetadataColumns;
  std::string sql =
      std::string("SELECT ") + columns + " FROM entries e WHERE " + where + " ORDER BY e.seq";
  CachedQuery& cached = queries_[sql];
  std::unique_ptr<Stmt> own;  // a nested read of the same query while the cached one is busy
  if (cached.busy || cached.stmt == nullptr) {
    RELAIS_ASSIGN_OR_RETURN(Stmt prepared, db_->Prepare(sql.c_str()));
    own = std::make_unique<Stmt>(std::move(prepared));
    if (!cached.busy) cached.stmt = std::move(own);
  }
  const bool use_cached = own == nullptr;
  Stmt& stmt = use_cached ? *cached.stmt : *own;
  if (use_cached) cached.busy = true;
  // Whatever the exit, the statement is reset: a statement left mid-read would pin the WAL.
  struct Release {
    Stmt& stmt;
    bool* busy;
    ~Release() {
      stmt.Reset();
      if (busy != nullptr) *busy = false;
    }
  } release{stmt, use_cached ? &cached.busy : nullptr};
  stmt.Reset();
  int index = 1;
  for (int64_t v : ints) stmt.Bind(index++, v);
  if (text != nullptr) stmt.Bind(index, *text);
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading entries"));
    if (!row) return base::Ok();
    RELAIS_ASSIGN_OR_RETURN(StoredEntry entry, internal::ReadEntry(stmt));
    if (!visit(entry)) return base::Ok();
  }
}

base::Status JournalReader::ForEachFrom(uint64_t from_seq, const EntryVisitor& visit,
                                        ReadScope scope) {
  return Iterate("e.seq >= ?1", {static_cast<int64_t>(from_seq)}, nullptr, visit, scope);
}

namespace {

// Steps through (seq, header) rows, calling `visit` until it returns false.
base::Status VisitHeaders(Stmt& stmt, std::string_view what,
                          const std::function<bool(uint64_t seq, base::ByteView header)>& visit) {
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step(what));
    if (!row) return base::Ok();
    if (!visit(static_cast<uint64_t>(stmt.Int(0)), stmt.BlobView(1))) {
      stmt.Reset();
      return base::Ok();
    }
  }
}

}  // namespace

base::Status JournalReader::ForEachHeader(
    uint64_t from_seq, const std::function<bool(uint64_t seq, base::ByteView header)>& visit) {
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt, db_->Prepare("SELECT seq, header FROM entries WHERE seq >= ?1 ORDER BY seq"));
  stmt.Bind(1, static_cast<int64_t>(from_seq));
  return VisitHeaders(stmt, "reading headers", visit);
}

base::Status JournalReader::ForEachHeaderOfCase(
    int64_t case_no, uint64_t from_seq,
    const std::function<bool(uint64_t seq, base::ByteView header)>& visit) {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("SELECT seq, header FROM entries WHERE case_no = "
                                                  "?1 AND seq >= ?2 ORDER BY seq"));
  stmt.Bind(1, case_no).Bind(2, static_cast<int64_t>(from_seq));
  return VisitHeaders(stmt, "reading a case's headers", visit);
}

base::Status JournalReader::ByCase(const std::string& case_ref, const EntryVisitor& visit,
                                   ReadScope scope) {
  // case_keys has no index on case_ref (random keys would cost every new case a random page
  // write): this scans it, once per call. Audits only; the writer keeps the map in memory.
  return Iterate("e.case_no IN (SELECT case_no FROM case_keys WHERE case_ref = ?1)", {}, &case_ref,
                 visit, scope);
}

base::Status JournalReader::ByTime(base::TimeMs from, base::TimeMs to, const EntryVisitor& visit,
                                   ReadScope scope) {
  return Iterate("e.received_at >= ?1 AND e.received_at < ?2", {from, to}, nullptr, visit, scope);
}

base::Result<ChainReport> JournalReader::VerifyChain(uint64_t from, uint64_t to) {
  // One read transaction, so that the start link and the rows come from the same snapshot.
  RELAIS_RETURN_IF_ERROR(db_->Exec("BEGIN"));
  auto report = [&]() -> base::Result<ChainReport> {
    ChainReport r;
    Head start;
    if (from > 0) {
      RELAIS_ASSIGN_OR_RETURN(std::optional<Head> link, internal::ReadLink(*db_, from));
      if (!link) {
        r.fault = ChainFault{from, "entry missing (verification start)"};
        return r;
      }
      start = *link;
    }
    r.verified = start;
    RELAIS_ASSIGN_OR_RETURN(r.fault, internal::VerifyRows(*db_, start, to, &r.verified));
    r.rows = r.verified.seq - start.seq;
    return r;
  }();
  db_->RollbackIfOpen();
  return report;
}

base::Result<std::vector<Checkpoint>> JournalReader::Checkpoints() {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt, db_->Prepare("SELECT seq FROM checkpoints ORDER BY seq"));
  std::vector<uint64_t> seqs;
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("listing checkpoints"));
    if (!row) break;
    seqs.push_back(static_cast<uint64_t>(stmt.Int(0)));
  }
  std::vector<Checkpoint> out;
  for (uint64_t seq : seqs) {
    RELAIS_ASSIGN_OR_RETURN(std::optional<Checkpoint> cp, internal::ReadCheckpointAt(*db_, seq));
    if (cp) out.push_back(std::move(*cp));
  }
  return out;
}

base::Result<std::optional<Checkpoint>> JournalReader::LastCheckpoint() {
  return internal::ReadLastCheckpoint(*db_);
}

base::Status JournalReader::CheckCheckpoint(const Checkpoint& checkpoint,
                                            const KeySet& broker_keys) {
  return internal::CheckCheckpointAgainstRows(*db_, checkpoint, broker_keys);
}

base::Result<std::vector<uint64_t>> JournalReader::Pending(const std::string& agency,
                                                           uint64_t after, size_t limit) {
  return internal::QueryPending(*db_, agency, after, limit);
}

base::Result<std::vector<DeliveryRow>> JournalReader::Deliveries(const std::string& agency,
                                                                 uint64_t after, size_t limit) {
  return internal::QueryDeliveries(*db_, agency, after, limit);
}

base::Result<std::vector<DeliveryRow>> JournalReader::DeadLetters() {
  return internal::QueryDeadLetters(*db_);
}

base::Result<std::vector<DeliveryRow>> JournalReader::DeliveriesOfSeqs(uint64_t first_seq,
                                                                       uint64_t last_seq) {
  return internal::QueryDeliveriesOfSeqs(*db_, first_seq, last_seq);
}

base::Result<uint64_t> JournalReader::Cursor(const std::string& agency) {
  return internal::QueryCursor(*db_, agency);
}

base::Result<std::map<uint64_t, uint64_t>> JournalReader::StreamOrigins(uint64_t first_seq,
                                                                        uint64_t last_seq) {
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db_->Prepare("SELECT seq, stream_seq FROM stream_origin WHERE seq BETWEEN ?1 AND ?2"));
  stmt.Bind(1, static_cast<int64_t>(first_seq)).Bind(2, static_cast<int64_t>(last_seq));
  std::map<uint64_t, uint64_t> out;
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading stream origins"));
    if (!row) return out;
    out.emplace(static_cast<uint64_t>(stmt.Int(0)), static_cast<uint64_t>(stmt.Int(1)));
  }
}

base::Result<uint64_t> JournalReader::LastStreamOrigin() {
  RELAIS_ASSIGN_OR_RETURN(int64_t v,
                          db_->QueryInt("SELECT coalesce(max(stream_seq), 0) FROM stream_origin"));
  return static_cast<uint64_t>(v);
}

base::Result<std::optional<CaseRow>> JournalReader::Case(const std::string& case_ref) {
  return internal::QueryCase(*db_, case_ref);
}

base::Result<std::vector<ConsentRow>> JournalReader::Consents(const std::string& case_ref) {
  return internal::QueryConsents(*db_, case_ref);
}

base::Result<std::optional<std::string>> JournalReader::ConsentCase(const std::string& consent_id) {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt,
                          db_->Prepare("SELECT case_ref FROM consents WHERE consent_id = ?1"));
  stmt.Bind(1, consent_id);
  RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading a consent"));
  if (!row) return std::optional<std::string>();
  std::optional<std::string> case_ref = stmt.Text(0);
  stmt.Reset();
  return case_ref;
}

base::Result<std::vector<DisclosureRow>> JournalReader::Disclosures(const std::string& case_ref) {
  return internal::QueryDisclosures(*db_, case_ref);
}

base::Result<std::string> JournalReader::DumpDerived() {
  RELAIS_RETURN_IF_ERROR(db_->Exec("BEGIN"));
  auto dump = internal::DumpDerivedTables(*db_);
  db_->RollbackIfOpen();
  return dump;
}

base::Status JournalReader::IntegrityCheck() {
  auto result = db_->QueryText("PRAGMA quick_check");
  if (!result) return std::move(result).error();
  if (result->size() == 2 && result->compare("ok") == 0) return base::Ok();
  return base::Corruption("journal_corrupt", "quick_check: " + *result);
}

base::Status JournalReader::CopyTo(const std::filesystem::path& path) {
  RELAIS_ASSIGN_OR_RETURN(
      std::unique_ptr<Db> dest,
      Db::Open(path.string(), internal::OpenMode::kReadWriteCreate, std::string()));
  sqlite3_backup* backup = sqlite3_backup_init(dest->raw(), "main", db_->raw(), "main");
  if (backup == nullptr) {
    return internal::SqliteError(sqlite3_extended_errcode(dest->raw()), "starting a copy");
  }
  int rc = sqlite3_backup_step(backup, -1);
  sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE) return internal::SqliteError(rc, "copying the journal");
  return base::Ok();
}

}  // namespace relais::journal
