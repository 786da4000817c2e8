// Internal to the journal: a background thread that copies WAL frames into the database file
// (PASSIVE checkpoints on its own connection), so that the database fsync of a checkpoint never
// sits in the writer's commit path. See docs/journal-format.md §6 for the measurements behind it.
//
// The writer's WAL hook calls Notify() after each commit. PASSIVE checkpoints never block the
// writer; the WAL can only restart (be reused from its start) once every frame has been copied,
// which under continuous load the writer finishes itself (BatchWriter::MaybeFinishWal).
#ifndef RELAIS_BROKER_JOURNAL_WAL_CHECKPOINTER_H_
#define RELAIS_BROKER_JOURNAL_WAL_CHECKPOINTER_H_

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.h"
#include "broker/journal/db.h"

namespace relais::journal::internal {

class WalCheckpointer {
 public:
  // Opens its own connection to `uri` and starts the thread. `on_fail_stop` is called (on the
  // checkpointer thread) after an I/O error; the thread then stops checkpointing.
  static base::Result<std::unique_ptr<WalCheckpointer>> Start(
      const std::string& uri, const std::string& vfs, int threshold_frames,
      std::function<void(const base::Error&)> on_fail_stop);
  ~WalCheckpointer();  // stops and joins
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Any thread. Wakes the checkpointer when the WAL holds at least the threshold.
  void Notify(int wal_frames);
  uint64_t checkpoints() const { return checkpoints_.load(); }

 private:
  WalCheckpointer(std::unique_ptr<Db> db, int threshold_frames,
                  std::function<void(const base::Error&)> on_fail_stop);
  void Run();

  std::unique_ptr<Db> db_;
  const int threshold_;
  std::function<void(const base::Error&)> on_fail_stop_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stop_ = false;
  std::atomic<uint64_t> checkpoints_{0};
  std::thread thread_;
};

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_WAL_CHECKPOINTER_H_
