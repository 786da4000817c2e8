// What an SQLite VFS shim does when it only forwards. A shim's file struct starts with the
// members of ShimFileHead (its own sqlite3_file, then a pointer to the file of the VFS below,
// allocated just after the shim's struct); PassthroughIoMethods() forwards every I/O method to
// that file and the shim replaces the ones it changes. Used by the page-checksum shim
// (checksum_vfs.cc) and the tests' fault-injecting shim (testing/fault_vfs.cc). Internal.
#ifndef RELAIS_BROKER_JOURNAL_VFS_SHIM_H_
#define RELAIS_BROKER_JOURNAL_VFS_SHIM_H_

#include <sqlite3.h>

namespace relais::journal::internal {

struct ShimFileHead {
  sqlite3_file base;
  sqlite3_file* real;  // points just after the shim's file struct
};

inline sqlite3_file* ShimReal(sqlite3_file* f) { return reinterpret_cast<ShimFileHead*>(f)->real; }

// Version 3 methods forwarding to ShimReal(f); memory-mapped fetches are declined when the file
// below has none.
sqlite3_io_methods PassthroughIoMethods();

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_VFS_SHIM_H_
