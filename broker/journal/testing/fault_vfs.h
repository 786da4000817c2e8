// Test support: a SQLite VFS wrapping the default one that can fail writes with SQLITE_FULL
// (disk full) or SQLITE_IOERR_WRITE, or syncs with SQLITE_IOERR_FSYNC, to test the journal's
// error paths. Registered once per process under kFaultVfsName; switches are process-wide (tests
// only). Linked by journal_test and by the test-only relaisd_test_hooks (--test-fault-file), never
// by the installed relaisd.
#ifndef RELAIS_BROKER_JOURNAL_TESTING_FAULT_VFS_H_
#define RELAIS_BROKER_JOURNAL_TESTING_FAULT_VFS_H_

#include <string>

namespace relais::journal::testing {

inline constexpr const char* kFaultVfsName = "relais-fault";

void RegisterFaultVfs();
void SetFailWritesWithFull(bool on);
void SetFailSyncs(bool on);

// Makes the VFS follow a control file written by another process (relaisd --test-fault-file):
// its first word is the mode, `ok`, `full` (writes fail with SQLITE_FULL: disk full), `eio`
// (writes fail with SQLITE_IOERR_WRITE) or `fsync_error` (syncs fail with SQLITE_IOERR_FSYNC);
// a missing file or another word means `ok`. The file is re-read on a write or a sync at most
// every 50 ms. Call before the journal opens.
void FollowControlFile(const std::string& path);

}  // namespace relais::journal::testing

#endif  // RELAIS_BROKER_JOURNAL_TESTING_FAULT_VFS_H_
