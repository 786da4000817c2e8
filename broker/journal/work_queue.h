// Internal to the journal: the queue between callers (any thread) and the writer thread, with
// the group-commit rule: the writer takes up to `max_batch` appends/updates, and starts the batch
// once it is full or once the earliest `due_us` of the queued items has passed (each caller sets
// how long its item may wait for company). Control work (erase, rebuild, checkpoint, stop) runs
// alone, in queue order, and is due at once.
#ifndef RELAIS_BROKER_JOURNAL_WORK_QUEUE_H_
#define RELAIS_BROKER_JOURNAL_WORK_QUEUE_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <variant>
#include <vector>

#include "base/status.h"
#include "broker/journal/batch_writer.h"
#include "broker/journal/entry.h"

namespace relais::journal::internal {

struct AppendWork {
  PreparedAppend request;
  AppendCallback done;
};
struct UpdateWork {
  DeliveryUpdate update;
  StatusCallback done;
};
// Runs on the writer thread. `run` reports to its caller itself and returns the status the
// writer inspects for fail-stop; `fail` reports an error instead when the work never runs.
struct ControlWork {
  std::function<base::Status(BatchWriter&)> run;
  std::function<void(const base::Error&)> fail;
  bool stop = false;  // the writer exits after this item
};

struct QueueItem {
  std::variant<AppendWork, UpdateWork, ControlWork> work;
  int64_t enqueued_us = 0;  // base::MonotonicMicros()
  // When the writer must start a batch holding this item (group commit); control work: at once.
  int64_t due_us = 0;
};

class WorkQueue {
 public:
  WorkQueue(size_t max_batch, size_t max_queued) : max_batch_(max_batch), max_queued_(max_queued) {}

  // Any thread. Once Fail() was called, returns the failure; when `max_queued` appends and
  // updates wait already, refuses another with kRetryLater "journal_overloaded" (control work is
  // always taken). On a refusal `item` stays with the caller, who completes it.
  std::optional<base::Error> Push(QueueItem&& item);

  enum class Taken { kWork, kTimeout, kFailed };
  // Writer thread. Blocks until work arrives, the queue failed, or `idle_timeout` passed.
  // Fills `out` with one control item, or with up to max_batch appends/updates.
  Taken Take(std::vector<QueueItem>& out, std::optional<std::chrono::milliseconds> idle_timeout);

  // Any thread. Refuses further work with `error` and wakes the writer. The first error wins.
  void Fail(base::Error error);
  std::optional<base::Error> failure() const;
  // Writer thread, after a failure: everything still queued.
  std::vector<QueueItem> DrainAll();

 private:
  static bool IsControl(const QueueItem& item) {
    return std::holds_alternative<ControlWork>(item.work);
  }

  const size_t max_batch_;
  const size_t max_queued_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueueItem> items_;
  // The earliest due_us the writer knows of (INT64_MAX: none); a Push earlier than it wakes it.
  int64_t earliest_due_us_ = INT64_MAX;
  std::optional<base::Error> failure_;
};

// Completes `item` with `error` (callbacks run on the calling thread).
void FailItem(QueueItem& item, const base::Error& error);

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_WORK_QUEUE_H_
