// A fixed pool of threads running independent jobs (signature checks), so that verification never
// runs on the I/O thread. Jobs must not touch I/O-thread state; they report through a WakeQueue.
#ifndef RELAIS_BROKER_WORKER_POOL_H_
#define RELAIS_BROKER_WORKER_POOL_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace relais::broker {

class WorkerPool {
 public:
  // threads == 0: one per hardware core.
  explicit WorkerPool(unsigned threads);
  // Finishes queued jobs, then joins.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> job);
  size_t Queued() const;
  unsigned Size() const { return static_cast<unsigned>(threads_.size()); }

 private:
  void Run();

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_WORKER_POOL_H_
