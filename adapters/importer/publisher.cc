#include "adapters/importer/publisher.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "adapters/sdk/envelope_builder.h"

namespace relais::importer {

namespace {

using Outcome = base::Result<sdk::PublishOutcome>;

// Sealed envelopes handed from the workers to the publishing thread, bounded so the workers do
// not run far ahead of the broker.
class SealedQueue {
 public:
  explicit SealedQueue(size_t capacity) : capacity_(capacity) {}

  void Push(size_t index, base::Result<schema::Envelope> envelope) {
    std::unique_lock lock(mu_);
    not_full_.wait(lock, [&] { return items_.size() < capacity_ || closed_; });
    items_.emplace_back(index, std::move(envelope));
    not_empty_.notify_one();
  }
  // Up to `max` items, waiting up to `wait` for the first.
  std::vector<std::pair<size_t, base::Result<schema::Envelope>>> Take(
      size_t max, std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    not_empty_.wait_for(lock, wait, [&] { return !items_.empty(); });
    std::vector<std::pair<size_t, base::Result<schema::Envelope>>> out;
    while (!items_.empty() && out.size() < max) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    not_full_.notify_all();
    return out;
  }
  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    not_full_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::pair<size_t, base::Result<schema::Envelope>>> items_;
  size_t capacity_;
  bool closed_ = false;
};

class Progress {
 public:
  Progress(std::FILE* out, std::string label, size_t total)
      : out_(out), label_(std::move(label)), total_(total) {}
  void Update(size_t sealed, size_t acked, bool final) {
    if (out_ == nullptr) return;
    int64_t now = base::MonotonicMicros();
    if (!final && now - last_ < 200000) return;
    last_ = now;
    double pct = total_ == 0 ? 100.0 : 100.0 * static_cast<double>(acked) / total_;
    std::fprintf(out_, "\r%s sealed %zu/%zu, acknowledged %zu (%.0f%%)%s", label_.c_str(), sealed,
                 total_, acked, pct, final ? "\n" : "");
    std::fflush(out_);
  }

 private:
  std::FILE* out_;
  std::string label_;
  size_t total_;
  int64_t last_ = 0;
};

}  // namespace

std::vector<base::Result<schema::Envelope>> SealAll(const std::vector<OutgoingEvent>& events,
                                                    const schema::Registry& registry,
                                                    const crypto::AgencyIdentity& me,
                                                    const base::Clock& clock, int threads) {
  std::vector<std::optional<base::Result<schema::Envelope>>> slots(events.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < events.size();) {
      slots[i] = sdk::BuildEnvelope(events[i].header, events[i].body, registry, me, clock);
    }
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < std::max(1, threads); ++t) workers.emplace_back(work);
  for (auto& w : workers) w.join();
  std::vector<base::Result<schema::Envelope>> out;
  out.reserve(events.size());
  for (auto& s : slots) out.push_back(std::move(*s));
  return out;
}

std::vector<Outcome> SealAndPublish(sdk::Client& client, const std::vector<OutgoingEvent>& events,
                                    const schema::Registry& registry,
                                    const crypto::AgencyIdentity& me, const base::Clock& clock,
                                    const PublishOptions& options) {
  std::vector<std::optional<Outcome>> results(events.size());
  SealedQueue queue(std::max<size_t>(options.window, 64));
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  auto work = [&] {
    for (size_t i; !stop.load() && (i = next.fetch_add(1)) < events.size();) {
      queue.Push(i, sdk::BuildEnvelope(events[i].header, events[i].body, registry, me, clock));
    }
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < std::max(1, options.sealing_threads); ++t) workers.emplace_back(work);

  sdk::Deadline deadline = sdk::DeadlineAfter(options.timeout);
  std::map<base::Bytes, size_t> in_flight;
  std::deque<std::pair<size_t, schema::Envelope>> waiting;  // sealed, not yet submitted
  size_t sealed = 0, done = 0;
  Progress progress(options.progress, options.label, events.size());
  auto finish = [&](size_t index, Outcome outcome) {
    results[index] = std::move(outcome);
    ++done;
  };
  while (done < events.size()) {
    if (waiting.size() < options.window) {
      auto batch = queue.Take(options.window, in_flight.empty() && waiting.empty()
                                                  ? std::chrono::milliseconds(50)
                                                  : std::chrono::milliseconds(0));
      for (auto& [index, envelope] : batch) {
        ++sealed;
        if (!envelope) {
          finish(index, std::move(envelope).error());
        } else {
          waiting.emplace_back(index, std::move(envelope).value());
        }
      }
    }
    while (!waiting.empty() && in_flight.size() < options.window) {
      auto& [index, envelope] = waiting.front();
      base::Status st = client.SubmitPublish(envelope, deadline);
      if (!st) {
        if (st.error().code == "window_full") break;
        finish(index, std::move(st).error());
      } else {
        in_flight.emplace(events[index].header.event_id, index);
      }
      waiting.pop_front();
    }
    if (!in_flight.empty()) {
      auto timeout = waiting.empty() && sealed < events.size() ? std::chrono::milliseconds(1)
                                                               : std::chrono::milliseconds(20);
      for (auto& r : client.PollAcks(timeout)) {
        auto it = in_flight.find(r.event_id);
        if (it == in_flight.end()) continue;
        finish(it->second, std::move(r.outcome));
        in_flight.erase(it);
      }
    }
    progress.Update(sealed, done, false);
  }
  stop.store(true);
  queue.Close();
  for (auto& w : workers) w.join();
  progress.Update(sealed, done, true);
  std::vector<Outcome> out;
  out.reserve(results.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

}  // namespace relais::importer
