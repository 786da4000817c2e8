// Internal to the journal: a SQLite VFS shim that keeps the per-page checksums of format 3
// (page_checksum.h) in the main database file.
//
// It wraps another VFS (SQLite's default or a test VFS). For the main database file only, and only
// once the file's header says every page reserves kPageChecksumBytes bytes (offset 20):
//   - every page-sized, page-aligned write gets its checksum (computed over a copy: the caller's
//     buffer is not modified);
//   - every page-sized, page-aligned read is verified; a mismatch, or a page cut short by the end
//     of the file, fails the read with SQLITE_IOERR_DATA (the journal maps it to kCorruption
//     "journal_corrupt") and logs "journal_page_corrupt" with the page number;
//   - memory-mapped reads are refused (SQLite then reads through xRead).
// The WAL, the WAL index and temporary files pass through unchanged: WAL frames carry SQLite's
// own checksum chain, checked before the journal is opened (integrity.h, CheckWal).
#ifndef RELAIS_BROKER_JOURNAL_CHECKSUM_VFS_H_
#define RELAIS_BROKER_JOURNAL_CHECKSUM_VFS_H_

#include <string>

namespace relais::journal::internal {

// Registers (once per process and underlying VFS; SQLite's VFS list is process-wide) the checksum
// shim over `under` (empty: SQLite's default VFS) and returns its name for sqlite3_open_v2.
// Returns an empty string when `under` is not a registered VFS.
std::string ChecksumVfsOver(const std::string& under);

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_CHECKSUM_VFS_H_
