#include "broker/journal/checksum_vfs.h"

#include <sqlite3.h>

#include <cstddef>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "base/log.h"
#include "broker/journal/page_checksum.h"
#include "broker/journal/vfs_shim.h"

namespace relais::journal::internal {

namespace {

struct ShimVfs {
  sqlite3_vfs vfs;  // first: Open finds the ShimVfs from it (pAppData stays the real VFS's)
  sqlite3_vfs* real;
  std::string name;
};

struct ShimFile {
  sqlite3_file base;   // the members of ShimFileHead first
  sqlite3_file* real;  // points just after this struct
  bool active;         // the header reserves kPageChecksumBytes bytes per page
};
static_assert(offsetof(ShimFile, real) == offsetof(ShimFileHead, real));

sqlite3_io_methods g_methods;

ShimFile* Shim(sqlite3_file* f) { return reinterpret_cast<ShimFile*>(f); }
sqlite3_file* Real(sqlite3_file* f) { return ShimReal(f); }

bool IsPageIo(int n, sqlite3_int64 off) { return IsPageSize(n) && off % n == 0; }

// Offset 0 carries the database header: follow its reserved-space byte.
void NoteHeader(ShimFile* f, const void* buf, int n, sqlite3_int64 off) {
  if (off != 0 || n < 100) return;
  const auto* d = static_cast<const uint8_t*>(buf);
  if (std::memcmp(d, "SQLite format 3", 16) != 0) return;
  f->active = d[kHeaderReservedByte] == kPageChecksumBytes;
}

int Read(sqlite3_file* f, void* buf, int n, sqlite3_int64 off) {
  int rc = Real(f)->pMethods->xRead(Real(f), buf, n, off);
  if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) return rc;
  if (rc == SQLITE_OK) NoteHeader(Shim(f), buf, n, off);
  if (!Shim(f)->active || !IsPageIo(n, off)) return rc;
  const uint64_t pgno = static_cast<uint64_t>(off / n) + 1;
  if (rc == SQLITE_IOERR_SHORT_READ ||
      !PageVerifies(static_cast<const uint8_t*>(buf), static_cast<size_t>(n), pgno)) {
    base::LogError("journal_page_corrupt",
                   {{"page", static_cast<int64_t>(pgno)},
                    {"reason", rc == SQLITE_OK ? "checksum mismatch" : "beyond the end of file"}});
    return SQLITE_IOERR_DATA;
  }
  return rc;
}

int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  NoteHeader(Shim(f), buf, n, off);
  if (!Shim(f)->active || !IsPageIo(n, off)) {
    return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
  }
  thread_local std::vector<uint8_t> page;
  page.assign(static_cast<const uint8_t*>(buf), static_cast<const uint8_t*>(buf) + n);
  SealPage(page.data(), page.size(), static_cast<uint64_t>(off / n) + 1);
  return Real(f)->pMethods->xWrite(Real(f), page.data(), n, off);
}

int Fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
  if (Shim(f)->active) {
    *out = nullptr;  // pages must come through Read, where they are verified
    return SQLITE_OK;
  }
  return PassthroughIoMethods().xFetch(f, off, n, out);
}
int Open(sqlite3_vfs* vfs, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  sqlite3_vfs* real = reinterpret_cast<ShimVfs*>(vfs)->real;  // vfs is the first member
  if ((flags & SQLITE_OPEN_MAIN_DB) == 0) return real->xOpen(real, name, file, flags, out_flags);
  auto* f = Shim(file);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->active = false;
  f->base.pMethods = nullptr;
  int rc = real->xOpen(real, name, f->real, flags, out_flags);
  if (f->real->pMethods == nullptr) return rc;
  f->base.pMethods = &g_methods;
  if (rc == SQLITE_OK) {
    // Pages written before SQLite reads the header again (a checkpoint that does not include
    // page 1) must be sealed too: start from the header on disk.
    uint8_t header[100];
    if (f->real->pMethods->xRead(f->real, header, sizeof header, 0) == SQLITE_OK) {
      NoteHeader(f, header, sizeof header, 0);
    }
  }
  return rc;
}

void InitMethods() {
  g_methods = PassthroughIoMethods();
  g_methods.xRead = Read;
  g_methods.xWrite = Write;
  g_methods.xFetch = Fetch;
}

}  // namespace

std::string ChecksumVfsOver(const std::string& under) {
  // Registered VFSs must outlive every connection: they are kept for the life of the process.
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<ShimVfs>>* shims =
      new std::map<std::string, std::unique_ptr<ShimVfs>>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = shims->find(under);
  if (it != shims->end()) return it->second->name;
  sqlite3_vfs* real = sqlite3_vfs_find(under.empty() ? nullptr : under.c_str());
  if (real == nullptr) return std::string();
  if (shims->empty()) InitMethods();
  auto shim = std::make_unique<ShimVfs>();
  shim->real = real;
  shim->name = "relais-checksum" + (under.empty() ? std::string() : "+" + under);
  shim->vfs = *real;
  shim->vfs.pNext = nullptr;
  shim->vfs.zName = shim->name.c_str();
  shim->vfs.szOsFile = static_cast<int>(sizeof(ShimFile)) + real->szOsFile;
  shim->vfs.xOpen = Open;
  if (sqlite3_vfs_register(&shim->vfs, /*makeDflt=*/0) != SQLITE_OK) return std::string();
  std::string name = shim->name;
  shims->emplace(under, std::move(shim));
  return name;
}

}  // namespace relais::journal::internal
