#include "broker/journal/wal_checkpointer.h"

#include <pthread.h>

#include "base/log.h"
#include "broker/journal/schema_sql.h"

namespace relais::journal::internal {

base::Result<std::unique_ptr<WalCheckpointer>> WalCheckpointer::Start(
    const std::string& uri, const std::string& vfs, int threshold_frames,
    std::function<void(const base::Error&)> on_fail_stop) {
  RELAIS_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(uri, OpenMode::kReadWrite, vfs));
  RELAIS_RETURN_IF_ERROR(ConfigureCheckpointConnection(*db));
  db->SetAutoCheckpoint(0);
  return std::unique_ptr<WalCheckpointer>(
      new WalCheckpointer(std::move(db), threshold_frames, std::move(on_fail_stop)));
}

WalCheckpointer::WalCheckpointer(std::unique_ptr<Db> db, int threshold_frames,
                                 std::function<void(const base::Error&)> on_fail_stop)
    : db_(std::move(db)), threshold_(threshold_frames), on_fail_stop_(std::move(on_fail_stop)) {
  thread_ = std::thread([this] { Run(); });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void WalCheckpointer::Notify(int wal_frames) {
  if (wal_frames < threshold_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (wanted_) return;
    wanted_ = true;
  }
  cv_.notify_one();
}

void WalCheckpointer::Run() {
  pthread_setname_np(pthread_self(), "journal-walckpt");
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return wanted_ || stop_; });
      if (stop_) return;
      wanted_ = false;
    }
    auto result = db_->WalCheckpoint(WalCheckpointMode::kPassive);
    if (result) {
      checkpoints_.fetch_add(1);
      continue;
    }
    const base::Error& error = result.error();
    if (error.kind == base::ErrorKind::kRetryLater) continue;  // busy or disk full: next time
    base::LogError("journal_wal_checkpoint_failed", {{"code", error.code}});
    on_fail_stop_(error);
    return;
  }
}

}  // namespace relais::journal::internal
