#include "broker/journal/testing/fault_vfs.h"

#include <sqlite3.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <string>

#include "base/clock.h"
#include "broker/journal/vfs_shim.h"

namespace relais::journal::testing {

namespace {

std::atomic<bool> g_full{false};
std::atomic<bool> g_write_error{false};
std::atomic<bool> g_sync_error{false};
std::string g_control_path;  // set before any file is opened, then read-only
std::atomic<int64_t> g_next_read_us{0};
std::mutex g_control_mu;

constexpr int64_t kControlPeriodUs = 50'000;

// Applies the control file's mode, at most every kControlPeriodUs.
void FollowControl() {
  if (g_control_path.empty()) return;
  const int64_t now = base::MonotonicMicros();
  if (now < g_next_read_us.load(std::memory_order_relaxed)) return;
  std::unique_lock lock(g_control_mu, std::try_to_lock);
  if (!lock.owns_lock()) return;
  g_next_read_us.store(now + kControlPeriodUs, std::memory_order_relaxed);
  std::string mode;
  std::ifstream(g_control_path) >> mode;
  g_full.store(mode == "full");
  g_write_error.store(mode == "eio");
  g_sync_error.store(mode == "fsync_error");
}
sqlite3_vfs* g_real = nullptr;
sqlite3_vfs g_vfs;
sqlite3_io_methods g_methods;

using FaultFile = journal::internal::ShimFileHead;

sqlite3_file* Real(sqlite3_file* f) { return journal::internal::ShimReal(f); }

int Write(sqlite3_file* f, const void* buf, int n, sqlite3_int64 off) {
  FollowControl();
  if (g_full.load()) return SQLITE_FULL;
  if (g_write_error.load()) return SQLITE_IOERR_WRITE;
  return Real(f)->pMethods->xWrite(Real(f), buf, n, off);
}
int Sync(sqlite3_file* f, int flags) {
  FollowControl();
  if (g_sync_error.load()) return SQLITE_IOERR_FSYNC;
  return Real(f)->pMethods->xSync(Real(f), flags);
}
int Open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
  auto* f = reinterpret_cast<FaultFile*>(file);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);
  f->base.pMethods = nullptr;
  int rc = g_real->xOpen(g_real, name, f->real, flags, out_flags);
  if (f->real->pMethods != nullptr) f->base.pMethods = &g_methods;
  return rc;
}

}  // namespace

void RegisterFaultVfs() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_real = sqlite3_vfs_find(nullptr);
    g_vfs = *g_real;
    g_vfs.pNext = nullptr;
    g_vfs.zName = kFaultVfsName;
    g_vfs.szOsFile = static_cast<int>(sizeof(FaultFile)) + g_real->szOsFile;
    g_vfs.xOpen = Open;
    g_methods = journal::internal::PassthroughIoMethods();
    g_methods.xWrite = Write;
    g_methods.xSync = Sync;
    sqlite3_vfs_register(&g_vfs, /*makeDflt=*/0);
  });
}

void SetFailWritesWithFull(bool on) { g_full.store(on); }
void SetFailSyncs(bool on) { g_sync_error.store(on); }

void FollowControlFile(const std::string& path) {
  g_control_path = path;
  g_next_read_us.store(0);
  FollowControl();
}

}  // namespace relais::journal::testing
