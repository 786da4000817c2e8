// Internal to the journal: the checks that keep a damaged journal from being served
// (docs/journal-format.md §1.1 and §1.2). Errors are kCorruption "journal_corrupt", naming a page,
// frame or size, never stored content.
#ifndef RELAIS_BROKER_JOURNAL_INTEGRITY_H_
#define RELAIS_BROKER_JOURNAL_INTEGRITY_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "base/status.h"

namespace relais::journal::internal {

// What the database header says (the first 100 bytes of the file).
struct DbHeader {
  int64_t file_size = 0;
  int64_t page_size = 0;
  int reserved = 0;          // reserved bytes per page (kPageChecksumBytes in format 3)
  int64_t page_count = 0;    // the in-header database size, 0 when not valid
  int64_t user_version = 0;  // the journal format
};

// The header of the database file; nullopt when the file is absent or empty (a new journal).
// journal_corrupt when it is shorter than a header or not a SQLite database.
base::Result<std::optional<DbHeader>> ReadDbHeader(const std::string& path);

// What SQLite's recovery would keep of the WAL file `wal_path`: its committed frames.
struct WalState {
  int64_t committed_frames = 0;
  int64_t committed_bytes = 0;  // the header plus every frame up to the last commit frame
};
// Walks the WAL like SQLite's recovery (header checksum, salts, cumulative frame checksums) and
// fails with journal_corrupt when recovery would silently drop committed data: a damaged commit
// frame; a damaged frame followed by a commit frame of the same WAL generation; a frame whose
// salts were damaged but whose checksum continues the chain; a damaged header in front of frames.
// A damaged frame at the very end that no commit frame follows (an uncommitted transaction torn by
// a power loss) is left to SQLite, which ignores it. A missing or empty WAL is fine.
base::Result<WalState> CheckWal(const std::string& wal_path);

// Before SQLite opens the file: the header's page size; for format 3 the reserved bytes and page
// 1's checksum; a size that is a whole number of pages, equal to the header's page count when
// `wal_committed` is false (with committed WAL frames the file may legitimately differ until
// they are checkpointed). `checksums` false skips the format-3 requirements (benchmarks only).
base::Status CheckDbFile(const DbHeader& header, const std::string& path, bool wal_committed,
                         bool checksums);

struct ScrubStats {
  int64_t pages = 0;
  int64_t bytes = 0;
  int64_t micros = 0;
};
// Reads every page of the file and verifies its checksum (format 3). A page that fails is read
// again `retries` times, 2 ms apart, since a concurrent WAL checkpoint may be writing it; one that
// still fails is journal_corrupt. Stops early (returning what was done) when `*stop` becomes true.
base::Result<ScrubStats> ScrubPages(const std::string& path, const std::atomic<bool>* stop,
                                    int retries);

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_INTEGRITY_H_
