#include "broker/journal/work_queue.h"

#include "base/clock.h"

namespace relais::journal::internal {

std::optional<base::Error> WorkQueue::Push(QueueItem&& item) {
  size_t size;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_) return failure_;
    if (items_.size() >= max_queued_ && !IsControl(item)) {
      return base::RetryLater("journal_overloaded",
                              std::to_string(items_.size()) + " requests are already queued");
    }
    items_.push_back(std::move(item));
    size = items_.size();
  }
  // Wake an idle writer on the first item, a filling one when a batch is complete.
  if (size == 1 || size == max_batch_) cv_.notify_one();
  return std::nullopt;
}

WorkQueue::Taken WorkQueue::Take(std::vector<QueueItem>& out, std::chrono::microseconds max_wait,
                                 std::optional<std::chrono::milliseconds> idle_timeout) {
  out.clear();
  std::unique_lock<std::mutex> lock(mu_);
  auto ready = [this] { return !items_.empty() || failure_.has_value(); };
  if (idle_timeout) {
    if (!cv_.wait_for(lock, *idle_timeout, ready)) return Taken::kTimeout;
  } else {
    cv_.wait(lock, ready);
  }
  if (failure_) return Taken::kFailed;
  if (IsControl(items_.front())) {
    out.push_back(std::move(items_.front()));
    items_.pop_front();
    return Taken::kWork;
  }
  // Group commit: wait for a full batch, but no longer than max_wait after the oldest item.
  const int64_t deadline_us = items_.front().enqueued_us + max_wait.count();
  while (items_.size() < max_batch_ && !failure_) {
    const int64_t left_us = deadline_us - base::MonotonicMicros();
    if (left_us <= 0) break;
    cv_.wait_for(lock, std::chrono::microseconds(left_us));
  }
  if (failure_) return Taken::kFailed;
  while (!items_.empty() && out.size() < max_batch_ && !IsControl(items_.front())) {
    out.push_back(std::move(items_.front()));
    items_.pop_front();
  }
  return Taken::kWork;
}

void WorkQueue::Fail(base::Error error) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failure_) failure_ = std::move(error);
  }
  cv_.notify_all();
}

std::optional<base::Error> WorkQueue::failure() const {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

std::vector<QueueItem> WorkQueue::DrainAll() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<QueueItem> out(std::make_move_iterator(items_.begin()),
                             std::make_move_iterator(items_.end()));
  items_.clear();
  return out;
}

void FailItem(QueueItem& item, const base::Error& error) {
  std::visit(
      [&](auto& w) {
        using T = std::decay_t<decltype(w)>;
        if constexpr (std::is_same_v<T, AppendWork>) {
          w.done(error);
        } else if constexpr (std::is_same_v<T, UpdateWork>) {
          w.done(error);
        } else {
          w.fail(error);
        }
      },
      item.work);
}

}  // namespace relais::journal::internal
