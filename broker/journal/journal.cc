#include "broker/journal/journal.h"

#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "broker/journal/batch_writer.h"
#include "broker/journal/journal_internal.h"
#include "broker/journal/wal_checkpointer.h"
#include "broker/journal/work_queue.h"

namespace relais::journal {

namespace {

int64_t ThreadCpuMicros() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000 + ts.tv_nsec / 1000;
}

// A committed append that asked for its envelope back (AppendRequest::hand_back) gets it,
// reassembled from the prepared fields the writer bound (moved, not copied).
void HandBack(internal::BatchItem& item) {
  auto* p = std::get_if<internal::PreparedAppend>(&item.op);
  if (p == nullptr || !p->hand_back || !item.append_result || !*item.append_result) return;
  schema::Envelope& envelope = (*item.append_result)->envelope.emplace();
  envelope.header = std::move(p->header);
  envelope.body = std::move(p->body);
  envelope.wraps = std::move(p->wrap_list);
  envelope.body_digest = std::move(p->body_digest);
  envelope.wraps_digest = std::move(p->wraps_digest);
  envelope.signature = std::move(p->signature);
}

}  // namespace

using internal::AppendWork;
using internal::BatchItem;
using internal::BatchWriter;
using internal::ControlWork;
using internal::QueueItem;
using internal::UpdateWork;
using internal::WorkQueue;

Journal::~Journal() { (void)Close(); }

void Journal::Append(AppendRequest request, AppendCallback done) {
  auto prepared = internal::PrepareAppend(request, options_.check_appends);
  if (!prepared) {
    done(std::move(prepared).error());
    return;
  }
  const int64_t now_us = base::MonotonicMicros();
  QueueItem item{AppendWork{std::move(prepared).value(), std::move(done)}, now_us,
                 now_us + options_.max_wait.count()};
  if (auto error = queue_->Push(std::move(item))) internal::FailItem(item, *error);
}

std::future<base::Result<AppendResult>> Journal::AppendAsync(AppendRequest request) {
  auto promise = std::make_shared<std::promise<base::Result<AppendResult>>>();
  auto future = promise->get_future();
  Append(std::move(request),
         [promise](base::Result<AppendResult> result) { promise->set_value(std::move(result)); });
  return future;
}

void Journal::Update(DeliveryUpdate update, StatusCallback done) {
  // Acknowledgements may wait longer: they ride along with the next publish's commit.
  const bool ack =
      std::holds_alternative<AckDelivery>(update) || std::holds_alternative<AdvanceCursor>(update);
  const int64_t now_us = base::MonotonicMicros();
  QueueItem item{UpdateWork{std::move(update), std::move(done)}, now_us,
                 now_us + (ack ? options_.ack_wait : options_.max_wait).count()};
  if (auto error = queue_->Push(std::move(item))) internal::FailItem(item, *error);
}

std::future<base::Status> Journal::UpdateAsync(DeliveryUpdate update) {
  auto promise = std::make_shared<std::promise<base::Status>>();
  auto future = promise->get_future();
  Update(std::move(update),
         [promise](base::Status status) { promise->set_value(std::move(status)); });
  return future;
}

base::Status Journal::RunBlocking(std::function<base::Status(BatchWriter&)> fn) {
  RELAIS_CHECK_MSG(std::this_thread::get_id() != thread_.get_id(),
                   "a blocking Journal method was called from a journal callback");
  auto promise = std::make_shared<std::promise<base::Status>>();
  auto future = promise->get_future();
  QueueItem item{ControlWork{[fn = std::move(fn), promise](BatchWriter& writer) {
                               base::Status status = fn(writer);
                               promise->set_value(status);
                               return status;
                             },
                             [promise](const base::Error& e) { promise->set_value(e); }, false},
                 base::MonotonicMicros()};
  if (auto error = queue_->Push(std::move(item))) return *error;
  return future.get();
}

base::Status Journal::Erase(const std::string& case_ref) {
  return RunBlocking([case_ref](BatchWriter& w) { return w.Erase(case_ref); });
}

void Journal::EraseAsync(const std::string& case_ref, StatusCallback done) {
  auto shared_done = std::make_shared<StatusCallback>(std::move(done));
  QueueItem item{ControlWork{[case_ref, shared_done](BatchWriter& w) {
                               base::Status st = w.Erase(case_ref);
                               if (!st && st.error().code == "journal_busy") st = w.Erase(case_ref);
                               (*shared_done)(st);
                               return st;
                             },
                             [shared_done](const base::Error& e) { (*shared_done)(e); }, false},
                 base::MonotonicMicros()};
  if (auto error = queue_->Push(std::move(item))) (*shared_done)(*error);
}

base::Status Journal::Rebuild(
    std::function<std::vector<DerivedMutation>(const StoredEntry&)> derive) {
  return RunBlocking([derive = std::move(derive)](BatchWriter& w) { return w.Rebuild(derive); });
}

base::Result<std::optional<Checkpoint>> Journal::CheckpointNow() {
  if (key_.Empty()) {
    return base::NotAuthorised("no_checkpoint_key", "the journal was opened without a key");
  }
  std::optional<Checkpoint> latest;
  RELAIS_RETURN_IF_ERROR(RunBlocking([&latest](BatchWriter& w) -> base::Status {
    RELAIS_ASSIGN_OR_RETURN(latest, w.CheckpointIfDue(/*force=*/true));
    return base::Ok();
  }));
  return latest;
}

base::Status Journal::Close() {
  RELAIS_CHECK_MSG(std::this_thread::get_id() != thread_.get_id(),
                   "Journal::Close was called from a journal callback");
  std::lock_guard<std::mutex> lock(close_mu_);
  if (closed_) return base::Ok();
  closed_ = true;
  scrub_stop_.store(true);
  if (scrub_thread_.joinable()) scrub_thread_.join();
  base::Status result;
  if (thread_.joinable()) {
    auto promise = std::make_shared<std::promise<base::Status>>();
    auto future = promise->get_future();
    QueueItem stop{ControlWork{[promise](BatchWriter& w) -> base::Status {
                                 auto latest = w.CheckpointIfDue(/*force=*/true);
                                 base::Status s =
                                     latest ? base::Ok() : base::Status(latest.error());
                                 promise->set_value(s);
                                 return s;
                               },
                               [promise](const base::Error& e) { promise->set_value(e); }, true},
                   base::MonotonicMicros()};
    if (auto error = queue_->Push(std::move(stop))) {
      result = *error;
    } else {
      result = future.get();
    }
    thread_.join();
  }
  if (writer_ != nullptr) writer_->db().SetWalHook(nullptr);
  checkpointer_.reset();
  writer_.reset();  // the last connection: SQLite checkpoints and removes the WAL
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
  if (!result && result.error().code == "journal_closed") return base::Ok();
  return result;
}

std::optional<int64_t> Journal::CaseNumber(const std::string& case_ref) const {
  if (writer_ == nullptr) return std::nullopt;
  return writer_->FindCaseNumber(case_ref);
}

Head Journal::head() const {
  std::lock_guard<std::mutex> lock(head_mu_);
  return head_;
}

base::Status Journal::health() const {
  if (queue_ == nullptr) return base::FailStop("journal_closed", "the journal is not open");
  if (auto failure = queue_->failure()) return *failure;
  return base::Ok();
}

void Journal::PublishHead() {
  std::lock_guard<std::mutex> lock(head_mu_);
  head_ = writer_->head();
  head_seq_.store(head_.seq, std::memory_order_release);
}

void Journal::EnterFailStop(const base::Error& cause) {
  base::LogError("journal_fail_stop",
                 {{"code", cause.code}, {"kind", base::ErrorKindName(cause.kind)}});
  queue_->Fail(base::FailStop("journal_failed", "the journal stopped: " + cause.ToString()));
}

void Journal::WriterLoop() {
  pthread_setname_np(pthread_self(), "journal-writer");
  std::vector<QueueItem> items;
  int64_t checkpoint_retry_us = 0;
  while (true) {
    std::optional<std::chrono::milliseconds> idle;
    if (auto ms = writer_->MsUntilCheckpointDue()) {
      int64_t backoff_ms = (checkpoint_retry_us - base::MonotonicMicros()) / 1000;
      idle = std::chrono::milliseconds(std::max<int64_t>(*ms, backoff_ms));
    }
    WorkQueue::Taken taken = queue_->Take(items, idle);
    if (taken == WorkQueue::Taken::kFailed) break;
    if (taken == WorkQueue::Taken::kTimeout) {
      auto written = writer_->CheckpointIfDue(/*force=*/false);
      if (!written && written.error().kind != base::ErrorKind::kRetryLater) {
        EnterFailStop(written.error());
        break;
      }
      checkpoint_retry_us = written ? 0 : base::MonotonicMicros() + 100'000;
      continue;
    }
    if (auto* control = std::get_if<ControlWork>(&items.front().work)) {
      const bool stop = control->stop;
      RunControl(items.front());
      if (stop) {
        queue_->Fail(base::FailStop("journal_closed", "the journal is closed"));
        break;
      }
    } else {
      RunBatch(items);
    }
    if (queue_->failure()) break;
  }
  const base::Error failure = *queue_->failure();
  for (QueueItem& item : queue_->DrainAll()) internal::FailItem(item, failure);
}

void Journal::RunControl(QueueItem& item) {
  base::Status status = std::get<ControlWork>(item.work).run(*writer_);
  if (!status) {
    base::ErrorKind kind = status.error().kind;
    if (kind == base::ErrorKind::kFailStop || kind == base::ErrorKind::kCorruption) {
      EnterFailStop(status.error());
    }
  }
  PublishHead();
}

void Journal::RunBatch(std::vector<QueueItem>& items) {
  std::vector<BatchItem> batch;
  batch.reserve(items.size());
  BatchStats stats;
  for (QueueItem& item : items) {
    if (auto* append = std::get_if<AppendWork>(&item.work)) {
      batch.push_back(BatchItem{std::move(append->request), std::nullopt, std::nullopt});
      ++stats.appends;
    } else {
      batch.push_back(
          BatchItem{std::move(std::get<UpdateWork>(item.work).update), std::nullopt, std::nullopt});
      ++stats.updates;
    }
  }
  const int64_t start_us = base::MonotonicMicros();
  const int64_t start_cpu_us = ThreadCpuMicros();
  stats.queued_us = start_us - items.front().enqueued_us;
  base::Status status = writer_->RunBatch(batch);
  stats.commit_us = writer_->last_commit_us();
  stats.write_us = base::MonotonicMicros() - start_us - stats.commit_us;
  stats.cpu_us = ThreadCpuMicros() - start_cpu_us;
  stats.ok = status.has_value();
  if (status) {
    PublishHead();
    for (size_t i = 0; i < items.size(); ++i) {
      if (auto* append = std::get_if<AppendWork>(&items[i].work)) {
        HandBack(batch[i]);
        append->done(std::move(*batch[i].append_result));
      } else {
        std::get<UpdateWork>(items[i].work).done(std::move(*batch[i].update_result));
      }
    }
  } else {
    base::Error error = std::move(status).error();
    if (error.kind != base::ErrorKind::kRetryLater) {
      EnterFailStop(error);
      error = *queue_->failure();
    }
    for (QueueItem& item : items) internal::FailItem(item, error);
  }
  if (checkpointer_ != nullptr) {
    const int64_t catchup_start_us = base::MonotonicMicros();
    writer_->MaybeFinishWal(options_.wal_restart_frames);
    stats.wal_catchup_us = base::MonotonicMicros() - catchup_start_us;
  }
  if (options_.on_batch) options_.on_batch(stats);
}

}  // namespace relais::journal
