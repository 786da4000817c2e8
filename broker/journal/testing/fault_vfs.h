// Test support: a SQLite VFS wrapping the default one that can fail writes with SQLITE_FULL
// (disk full) or syncs with SQLITE_IOERR_FSYNC, to test the journal's error paths.
// Registered once per process under kFaultVfsName; switches are process-wide (tests only).
#ifndef RELAIS_BROKER_JOURNAL_TESTING_FAULT_VFS_H_
#define RELAIS_BROKER_JOURNAL_TESTING_FAULT_VFS_H_

namespace relais::journal::testing {

inline constexpr const char* kFaultVfsName = "relais-fault";

void RegisterFaultVfs();
void SetFailWritesWithFull(bool on);
void SetFailSyncs(bool on);

}  // namespace relais::journal::testing

#endif  // RELAIS_BROKER_JOURNAL_TESTING_FAULT_VFS_H_
