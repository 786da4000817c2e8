// A multi-producer queue drained by the broker's I/O thread, with an eventfd the I/O thread polls
// beside its ZeroMQ socket so a worker's result wakes it at once.
//
// Threading: Push() from any thread; Drain() and Fd() from the I/O thread only.
#ifndef RELAIS_BROKER_WAKE_QUEUE_H_
#define RELAIS_BROKER_WAKE_QUEUE_H_

#include <sys/eventfd.h>
#include <unistd.h>

#include <mutex>
#include <utility>
#include <vector>

#include "base/check.h"

namespace relais::broker {

template <typename T>
class WakeQueue {
 public:
  WakeQueue() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
    RELAIS_CHECK_MSG(fd_ >= 0, "eventfd failed");
  }
  ~WakeQueue() { close(fd_); }
  WakeQueue(const WakeQueue&) = delete;
  WakeQueue& operator=(const WakeQueue&) = delete;

  void Push(T item) {
    bool was_empty;
    {
      std::lock_guard lock(mu_);
      was_empty = items_.empty();
      items_.push_back(std::move(item));
    }
    if (was_empty) {
      uint64_t one = 1;
      ssize_t n = write(fd_, &one, sizeof one);
      (void)n;  // EAGAIN means the counter is already non-zero: the reader wakes anyway
    }
  }

  // Takes everything queued so far into `out` (whatever it held is dropped) and clears the
  // wake-up. `out` and the queue trade buffers, so once both have grown to the usual batch a push
  // allocates nothing; a buffer grown past kKeptCapacity by a burst is given back.
  void DrainInto(std::vector<T>& out) {
    uint64_t count;
    ssize_t n = read(fd_, &count, sizeof count);
    (void)n;
    if (out.capacity() > kKeptCapacity) {
      std::vector<T>().swap(out);
    } else {
      out.clear();
    }
    std::lock_guard lock(mu_);
    items_.swap(out);
  }

  std::vector<T> Drain() {
    std::vector<T> out;
    DrainInto(out);
    return out;
  }

  int Fd() const { return fd_; }

 private:
  int fd_;
  std::mutex mu_;
  static constexpr size_t kKeptCapacity = 1024;
  std::vector<T> items_;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_WAKE_QUEUE_H_
