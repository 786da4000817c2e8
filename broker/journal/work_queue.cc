#include "broker/journal/work_queue.h"

#include <algorithm>
#include <cstdint>

#include "base/clock.h"

namespace relais::journal::internal {

std::optional<base::Error> WorkQueue::Push(QueueItem&& item) {
  size_t size;
  bool earlier;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_) return failure_;
    if (items_.size() >= max_queued_ && !IsControl(item)) {
      return base::RetryLater("journal_overloaded",
                              std::to_string(items_.size()) + " requests are already queued");
    }
    if (IsControl(item)) item.due_us = item.enqueued_us;
    earlier = item.due_us < earliest_due_us_;
    earliest_due_us_ = std::min(earliest_due_us_, item.due_us);
    items_.push_back(std::move(item));
    size = items_.size();
  }
  // Wake an idle writer on the first item, a filling one when a batch is complete or when this
  // item is due before the batch it waits for.
  if (size == 1 || size == max_batch_ || earlier) cv_.notify_one();
  return std::nullopt;
}

WorkQueue::Taken WorkQueue::Take(std::vector<QueueItem>& out,
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
    earliest_due_us_ = items_.empty() ? INT64_MAX : INT64_MIN;  // the rest is taken next
    return Taken::kWork;
  }
  // Group commit: wait for a full batch, but no longer than the earliest item is due.
  while (items_.size() < max_batch_ && !failure_) {
    int64_t due_us = INT64_MAX;
    for (const QueueItem& item : items_) due_us = std::min(due_us, item.due_us);
    earliest_due_us_ = due_us;
    const int64_t left_us = due_us - base::MonotonicMicros();
    if (left_us <= 0) break;
    cv_.wait_for(lock, std::chrono::microseconds(left_us));
  }
  if (failure_) return Taken::kFailed;
  while (!items_.empty() && out.size() < max_batch_ && !IsControl(items_.front())) {
    out.push_back(std::move(items_.front()));
    items_.pop_front();
  }
  earliest_due_us_ = items_.empty() ? INT64_MAX : INT64_MIN;  // the rest is taken next
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
