// Internal to the journal: the database schema (docs/journal-format.md §2 and §4), connection
// settings and the column lists shared by the writer and the reader.
#ifndef RELAIS_BROKER_JOURNAL_SCHEMA_SQL_H_
#define RELAIS_BROKER_JOURNAL_SCHEMA_SQL_H_

#include <cstdint>

#include "base/status.h"
#include "broker/journal/chain.h"
#include "broker/journal/checkpoint.h"
#include "broker/journal/db.h"
#include "broker/journal/entry.h"

namespace relais::journal::internal {

inline constexpr int64_t kApplicationId = 0x524c4a31;  // "RLJ1"
inline constexpr int64_t kFormatVersion = 4;

// Every entry column, in the order ReadRow expects, for "SELECT <kEntryColumns> FROM entries e".
// Column 14 is 1 when case_keys maps the row's case_no to its case_ref, column 15 is 1 when the
// body was erased.
extern const char* const kEntryColumns;
// kEntryColumns without body and wraps (they read back as NULL).
extern const char* const kEntryMetadataColumns;

// The DDL of format 1 (also used by the benchmark's plain-SQLite baseline).
const char* SchemaSql();
// The pragmas of the write connection after journal_mode=WAL, as one statement list.
const char* WriteConnectionPragmas();

// Settings of the write connection: WAL, synchronous=FULL, secure_delete=ON, caches.
base::Status ConfigureWriteConnection(Db& db);
// Settings of the background WAL checkpointer's connection (synchronous=FULL).
base::Status ConfigureCheckpointConnection(Db& db);
// Creates the schema in an empty database, or checks that an existing one is a journal of a
// supported format: kInvalidInput "not_a_journal" / "unsupported_journal_format". Upgrades format
// 1 and 2 in place (1 -> 2: deliveries.acked_at; 2 -> 3: VACUUM into pages with checksum bytes,
// unless `checksums` is false). A new database must have had SetReserveBytes before its first
// write.
base::Status EnsureSchema(Db& db, bool checksums);
base::Status CheckFormat(Db& db);

// Decoding of rows selected with kEntryColumns / kEntryMetadataColumns.
RowView ReadRowView(const Stmt& stmt);
// kCorruption "bad_wraps" when the stored wraps blob does not parse.
base::Result<StoredEntry> ReadEntry(const Stmt& stmt);

base::Result<Head> ReadHead(Db& db);
base::Result<std::optional<Checkpoint>> ReadLastCheckpoint(Db& db);
base::Result<std::optional<Checkpoint>> ReadCheckpointAt(Db& db, uint64_t seq);
// The chain link of entry `seq` (its seq, entry hash and receivedAt), nullopt if absent.
base::Result<std::optional<Head>> ReadLink(Db& db, uint64_t seq);

// Runs the chain verifier over entries (from, to] starting from `start` (start.seq == from).
// `to` == 0 means up to the last row. Returns the verifier's fault, if any.
base::Result<std::optional<ChainFault>> VerifyRows(Db& db, const Head& start, uint64_t to,
                                                   Head* verified);

// Checks that `checkpoint` is signed by a key in `keys` and that the entry at its seq has its head
// hash. kCorruption "checkpoint_mismatch" / "journal_truncated", or the VerifyCheckpoint error.
base::Status CheckCheckpointAgainstRows(Db& db, const Checkpoint& checkpoint, const KeySet& keys);

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_SCHEMA_SQL_H_
