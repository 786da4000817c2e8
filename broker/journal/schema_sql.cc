#include "broker/journal/schema_sql.h"

#include <string>

#include "broker/journal/page_checksum.h"
#include "crypto/seal.h"

namespace relais::journal::internal {

namespace {

// Format 4 (1 + deliveries.acked_at in 2 + page checksums in 3 + stream_origin in 4). Changing
// anything here needs a new kFormatVersion and docs/journal-format.md.
constexpr const char* kSchemaSql = R"sql(
CREATE TABLE entries (
  seq          INTEGER PRIMARY KEY,
  received_at  INTEGER NOT NULL,
  event_id     BLOB    NOT NULL,
  kind         INTEGER NOT NULL,
  case_ref     TEXT    NOT NULL,
  emitter      TEXT    NOT NULL,
  due_at       INTEGER NOT NULL,
  header       BLOB    NOT NULL,
  signature    BLOB    NOT NULL,
  body_digest  BLOB    NOT NULL,
  wraps_digest BLOB    NOT NULL,
  body         BLOB,
  wraps        BLOB,
  entry_hash   BLOB    NOT NULL,
  case_no      INTEGER NOT NULL
);
CREATE UNIQUE INDEX entries_event_id ON entries(event_id);
CREATE INDEX entries_case ON entries(case_no, seq);
CREATE INDEX entries_time ON entries(received_at);
CREATE TABLE case_keys (
  case_no  INTEGER PRIMARY KEY,
  case_ref TEXT NOT NULL
);
CREATE TABLE checkpoints (
  seq       INTEGER PRIMARY KEY,
  head_hash BLOB    NOT NULL,
  time      INTEGER NOT NULL,
  key_id    TEXT    NOT NULL,
  signature BLOB    NOT NULL
);
CREATE TABLE deliveries (
  agency          TEXT    NOT NULL,
  seq             INTEGER NOT NULL,
  state           TEXT    NOT NULL CHECK (state IN ('pending', 'acked', 'dead')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  reason          TEXT    NOT NULL DEFAULT '',
  acked_at        INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (agency, seq)
) WITHOUT ROWID;
CREATE INDEX deliveries_seq ON deliveries(seq);
CREATE INDEX deliveries_dead ON deliveries(agency, seq) WHERE state = 'dead';
CREATE TABLE cursors (
  agency    TEXT PRIMARY KEY,
  acked_seq INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE cases (
  case_no     INTEGER PRIMARY KEY,
  case_ref    TEXT    NOT NULL,
  last_kind   INTEGER NOT NULL,
  state       TEXT    NOT NULL,
  due_at      INTEGER NOT NULL,
  updated_seq INTEGER NOT NULL
);
CREATE TABLE consents (
  consent_id    TEXT    PRIMARY KEY,
  case_ref      TEXT    NOT NULL,
  terms         BLOB    NOT NULL,
  active        INTEGER NOT NULL,
  granted_seq   INTEGER NOT NULL,
  withdrawn_seq INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX consents_case ON consents(case_ref);
CREATE TABLE stream_origin (
  seq        INTEGER PRIMARY KEY,
  stream_seq INTEGER NOT NULL
);
)sql";

// Format 3 -> 4: the stream_origin table (empty: an embedded journal never ingested anything).
constexpr const char* kFormat4Sql =
    "CREATE TABLE IF NOT EXISTS stream_origin (seq INTEGER PRIMARY KEY, stream_seq INTEGER NOT "
    "NULL); PRAGMA user_version=4;";

base::Status ExpectWal(Db& db) {
  RELAIS_ASSIGN_OR_RETURN(std::string mode, db.QueryText("PRAGMA journal_mode=WAL"));
  if (mode != "wal") {
    return base::FailStop("journal_failed", "the journal database refused WAL mode");
  }
  return base::Ok();
}

}  // namespace

const char* const kEntryColumns =
    "e.seq, e.received_at, e.event_id, e.kind, e.case_ref, e.emitter, e.due_at, e.header, "
    "e.signature, e.body_digest, e.wraps_digest, e.body, e.wraps, e.entry_hash, "
    "(SELECT k.case_ref FROM case_keys k WHERE k.case_no = e.case_no) IS e.case_ref, "
    "e.body IS NULL";
const char* const kEntryMetadataColumns =
    "e.seq, e.received_at, e.event_id, e.kind, e.case_ref, e.emitter, e.due_at, e.header, "
    "e.signature, e.body_digest, e.wraps_digest, NULL, NULL, e.entry_hash, "
    "(SELECT k.case_ref FROM case_keys k WHERE k.case_no = e.case_no) IS e.case_ref, "
    "e.body IS NULL";

const char* SchemaSql() { return kSchemaSql; }

// The writer's page cache: 16 MiB holds the B-tree pages appends and acknowledgements touch
// (measured: the same writer CPU per event as with 64 MiB, 50 MiB less peak RSS;
// docs/performance.md, run H).
// ignore_check_constraints: SQLite evaluates `state IN ('pending', 'acked', 'dead')` through an
// ephemeral table built for every insert and update of a delivery (six per event). The writer's
// statements only ever write those three constants (derived_sql.cc); the constraint still holds
// for any other connection, and docs/journal-format.md §2 states it (run J).
const char* WriteConnectionPragmas() {
  return "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA cache_size=-16384; "
         "PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=67108864; PRAGMA foreign_keys=OFF; "
         "PRAGMA ignore_check_constraints=ON;";
}

base::Status ConfigureWriteConnection(Db& db) {
  RELAIS_RETURN_IF_ERROR(ExpectWal(db));
  return db.Exec(WriteConnectionPragmas());
}

base::Status ConfigureCheckpointConnection(Db& db) {
  RELAIS_RETURN_IF_ERROR(ExpectWal(db));
  return db.Exec(
      "PRAGMA synchronous=FULL; PRAGMA secure_delete=ON; PRAGMA journal_size_limit=67108864;");
}

namespace {

base::Status CheckApplicationId(Db& db) {
  RELAIS_ASSIGN_OR_RETURN(int64_t app_id, db.QueryInt("PRAGMA application_id"));
  if (app_id != kApplicationId) {
    return base::InvalidInput("not_a_journal", "the database is not a relais journal");
  }
  return base::Ok();
}

}  // namespace

base::Status CheckFormat(Db& db) {
  RELAIS_RETURN_IF_ERROR(CheckApplicationId(db));
  RELAIS_ASSIGN_OR_RETURN(int64_t version, db.QueryInt("PRAGMA user_version"));
  if (version != kFormatVersion) {
    return base::InvalidInput("unsupported_journal_format",
                              "journal format " + std::to_string(version) + ", this build reads " +
                                  std::to_string(kFormatVersion));
  }
  return base::Ok();
}

namespace {

// Format 2 -> 3: VACUUM rewrites every page with kPageChecksumBytes reserved bytes (the checksum
// VFS fills them in as the pages reach the file). The temporary copy goes to a file, not memory.
// A crash before the version bump leaves a format-2 journal whose pages already have checksums;
// the next open simply runs the VACUUM again.
base::Status MigrateToFormat3(Db& db, bool checksums) {
  if (checksums) {
    db.SetReserveBytes(kPageChecksumBytes);
    RELAIS_RETURN_IF_ERROR(db.Exec("PRAGMA temp_store=FILE; VACUUM; PRAGMA temp_store=MEMORY;"));
  }
  return db.Exec("PRAGMA user_version=3;");
}

base::Status MigrateToFormat4(Db& db) {
  RELAIS_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  base::Status st = db.Exec((std::string(kFormat4Sql) + " COMMIT;").c_str());
  if (!st) db.RollbackIfOpen();
  return st;
}

}  // namespace

base::Status EnsureSchema(Db& db, bool checksums) {
  RELAIS_RETURN_IF_ERROR(db.Exec("BEGIN IMMEDIATE"));
  auto tables = db.QueryInt("SELECT count(*) FROM sqlite_schema");
  if (!tables) {
    db.RollbackIfOpen();
    return std::move(tables).error();
  }
  if (*tables != 0) {
    auto version = db.QueryInt("PRAGMA user_version");
    if (version && *version == 1) {  // format 1 -> 2: deliveries gain acked_at
      base::Status st = db.Exec(
          "ALTER TABLE deliveries ADD COLUMN acked_at INTEGER NOT NULL DEFAULT 0; "
          "PRAGMA user_version=2; COMMIT;");
      if (!st) {
        db.RollbackIfOpen();
        return st;
      }
      *version = 2;
    }
    db.RollbackIfOpen();
    if (version && *version == 2) {
      RELAIS_RETURN_IF_ERROR(CheckApplicationId(db));
      RELAIS_RETURN_IF_ERROR(MigrateToFormat3(db, checksums));
      *version = 3;
    }
    if (version && *version == 3) {
      RELAIS_RETURN_IF_ERROR(CheckApplicationId(db));
      RELAIS_RETURN_IF_ERROR(MigrateToFormat4(db));
    }
    return CheckFormat(db);
  }
  std::string ddl = std::string(kSchemaSql) +
                    "PRAGMA application_id=" + std::to_string(kApplicationId) +
                    "; PRAGMA user_version=" + std::to_string(kFormatVersion) + "; COMMIT;";
  base::Status st = db.Exec(ddl.c_str());
  if (!st) db.RollbackIfOpen();
  return st;
}

RowView ReadRowView(const Stmt& stmt) {
  RowView row;
  row.seq = static_cast<uint64_t>(stmt.Int(0));
  row.received_at = stmt.Int(1);
  row.event_id = stmt.BlobView(2);
  row.kind = stmt.Int(3);
  base::ByteView case_ref = stmt.BlobView(4);
  row.case_ref = std::string_view(reinterpret_cast<const char*>(case_ref.data()), case_ref.size());
  base::ByteView emitter = stmt.BlobView(5);
  row.emitter = std::string_view(reinterpret_cast<const char*>(emitter.data()), emitter.size());
  row.due_at = stmt.Int(6);
  row.header = stmt.BlobView(7);
  row.signature = stmt.BlobView(8);
  row.body_digest = stmt.BlobView(9);
  row.wraps_digest = stmt.BlobView(10);
  if (!stmt.IsNull(11)) row.body = stmt.BlobView(11);
  if (!stmt.IsNull(12)) row.wraps = stmt.BlobView(12);
  row.entry_hash = stmt.BlobView(13);
  row.case_index_ok = stmt.Int(14) != 0;
  return row;
}

base::Result<StoredEntry> ReadEntry(const Stmt& stmt) {
  RowView row = ReadRowView(stmt);
  StoredEntry e;
  e.seq = row.seq;
  e.received_at = row.received_at;
  e.event_id.assign(row.event_id.begin(), row.event_id.end());
  e.kind = static_cast<schema::EventKind>(row.kind);
  e.case_ref = std::string(row.case_ref);
  e.emitter = std::string(row.emitter);
  e.due_at = row.due_at;
  e.envelope.header.assign(row.header.begin(), row.header.end());
  e.envelope.signature.assign(row.signature.begin(), row.signature.end());
  e.envelope.body_digest.assign(row.body_digest.begin(), row.body_digest.end());
  e.envelope.wraps_digest.assign(row.wraps_digest.begin(), row.wraps_digest.end());
  if (row.entry_hash.size() == e.entry_hash.size()) {
    std::copy(row.entry_hash.begin(), row.entry_hash.end(), e.entry_hash.begin());
  }
  e.erased = stmt.Int(15) != 0;
  if (row.body) e.envelope.body.assign(row.body->begin(), row.body->end());
  if (row.wraps) {
    auto wraps = crypto::ParseCanonicalWraps(*row.wraps);
    if (!wraps) {
      return base::Corruption("bad_wraps",
                              "the stored wraps of seq " + std::to_string(e.seq) + " do not parse");
    }
    e.envelope.wraps = std::move(wraps).value();
  }
  return e;
}

base::Result<Head> ReadHead(Db& db) {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("SELECT seq, entry_hash, received_at FROM entries "
                                                "ORDER BY seq DESC LIMIT 1"));
  RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading the journal head"));
  Head head;
  if (!row) return head;
  head.seq = static_cast<uint64_t>(stmt.Int(0));
  base::ByteView hash = stmt.BlobView(1);
  if (hash.size() != head.hash.size()) {
    return base::Corruption("chain_broken", "first bad seq " + std::to_string(head.seq) +
                                                ": entry_hash is not 32 bytes");
  }
  std::copy(hash.begin(), hash.end(), head.hash.begin());
  head.received_at = stmt.Int(2);
  stmt.Reset();
  return head;
}

namespace {

base::Result<std::optional<Checkpoint>> ReadOneCheckpoint(Db& db, const char* sql, int64_t arg) {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql));
  if (arg >= 0) stmt.Bind(1, arg);
  RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading a checkpoint"));
  if (!row) return std::optional<Checkpoint>();
  Checkpoint cp;
  cp.seq = static_cast<uint64_t>(stmt.Int(0));
  base::ByteView hash = stmt.BlobView(1);
  if (hash.size() != cp.head_hash.size()) {
    return base::Corruption(
        "checkpoint_mismatch",
        "the checkpoint at seq " + std::to_string(cp.seq) + " has a malformed head hash");
  }
  std::copy(hash.begin(), hash.end(), cp.head_hash.begin());
  cp.time = stmt.Int(2);
  cp.key_id = stmt.Text(3);
  cp.signature = stmt.Blob(4);
  stmt.Reset();
  return std::optional<Checkpoint>(std::move(cp));
}

}  // namespace

base::Result<std::optional<Checkpoint>> ReadLastCheckpoint(Db& db) {
  return ReadOneCheckpoint(db,
                           "SELECT seq, head_hash, time, key_id, signature FROM checkpoints "
                           "ORDER BY seq DESC LIMIT 1",
                           -1);
}

base::Result<std::optional<Checkpoint>> ReadCheckpointAt(Db& db, uint64_t seq) {
  return ReadOneCheckpoint(
      db, "SELECT seq, head_hash, time, key_id, signature FROM checkpoints WHERE seq = ?1",
      static_cast<int64_t>(seq));
}

base::Result<std::optional<Head>> ReadLink(Db& db, uint64_t seq) {
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare("SELECT seq, entry_hash, received_at FROM entries WHERE seq = ?1"));
  stmt.Bind(1, static_cast<int64_t>(seq));
  RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading an entry hash"));
  if (!row) return std::optional<Head>();
  Head link;
  link.seq = seq;
  base::ByteView hash = stmt.BlobView(1);
  bool ok = hash.size() == link.hash.size();
  if (ok) std::copy(hash.begin(), hash.end(), link.hash.begin());
  link.received_at = stmt.Int(2);
  stmt.Reset();
  if (!ok) {
    return base::Corruption(
        "chain_broken", "first bad seq " + std::to_string(seq) + ": entry_hash is not 32 bytes");
  }
  return std::optional<Head>(link);
}

base::Result<std::optional<ChainFault>> VerifyRows(Db& db, const Head& start, uint64_t to,
                                                   Head* verified) {
  std::string sql = std::string("SELECT ") + kEntryColumns +
                    " FROM entries e WHERE e.seq > ?1 AND e.seq <= ?2 ORDER BY e.seq";
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql.c_str()));
  stmt.Bind(1, static_cast<int64_t>(start.seq));
  stmt.Bind(2, to == 0 ? INT64_MAX : static_cast<int64_t>(to));
  ChainVerifier verifier(start);
  std::optional<ChainFault> fault;
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("verifying the chain"));
    if (!row) break;
    fault = verifier.Check(ReadRowView(stmt));
    if (fault) {
      stmt.Reset();
      break;
    }
  }
  if (!fault && to != 0 && verifier.head().seq < to) {
    fault = ChainFault{verifier.head().seq + 1, "entry missing (the journal ends at seq " +
                                                    std::to_string(verifier.head().seq) + ")"};
  }
  if (verified != nullptr) *verified = verifier.head();
  return fault;
}

base::Status CheckCheckpointAgainstRows(Db& db, const Checkpoint& checkpoint, const KeySet& keys) {
  RELAIS_RETURN_IF_ERROR(VerifyCheckpoint(checkpoint, keys));
  RELAIS_ASSIGN_OR_RETURN(auto link, ReadLink(db, checkpoint.seq));
  const std::string seq = std::to_string(checkpoint.seq);
  if (!link) {
    return base::Corruption("journal_truncated",
                            "the journal has no entry at checkpoint seq " + seq);
  }
  if (link->hash != checkpoint.head_hash) {
    return base::Corruption(
        "checkpoint_mismatch",
        "first bad seq " + seq + ": entry_hash differs from the signed checkpoint (rewritten)");
  }
  return base::Ok();
}

}  // namespace relais::journal::internal
