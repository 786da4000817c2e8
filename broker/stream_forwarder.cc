#include "broker/stream_forwarder.h"

#include <algorithm>
#include <future>
#include <set>
#include <vector>

#include "base/log.h"
#include "broker/stream_retry.h"

namespace relais::broker {

namespace {

// Entries appended per AppendBatch, at most (ForwarderOptions::batch caps it lower).
constexpr uint64_t kMaxBatch = 256;

}  // namespace

base::Result<std::unique_ptr<StreamForwarder>> StreamForwarder::Start(
    const ForwarderOptions& options, StreamLog& log, CaseKeyStore& keys, crypto::AtRestKey secret,
    BrokerMetrics* metrics) {
  if (options.naming.deployment.empty() || options.naming.territory.empty() ||
      options.naming.instance.empty() || secret.Empty()) {
    return base::InvalidInput("bad_forwarder_options",
                              "deployment, territory, instance and stream secret are required");
  }
  RELAIS_ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open({options.journal, ""}));
  std::unique_ptr<StreamForwarder> f(
      new StreamForwarder(options, log, keys, std::move(secret), metrics, std::move(reader)));
  RELAIS_RETURN_IF_ERROR(f->RecoverHighWater());
  f->thread_ = std::thread([p = f.get()] { p->Run(); });
  return f;
}

StreamForwarder::StreamForwarder(const ForwarderOptions& options, StreamLog& log,
                                 CaseKeyStore& keys, crypto::AtRestKey secret,
                                 BrokerMetrics* metrics,
                                 std::unique_ptr<journal::JournalReader> reader)
    : options_(options),
      log_(log),
      keys_(keys),
      secret_(std::move(secret)),
      metrics_(metrics),
      reader_(std::move(reader)) {}

StreamForwarder::~StreamForwarder() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& [ref, done] : shreds_) done(base::RetryLater("forwarder_stopped", "stopped"));
}

void StreamForwarder::Notify() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void StreamForwarder::Shred(const std::string& case_ref, std::function<void(base::Status)> done) {
  {
    std::lock_guard lock(mu_);
    if (!stop_) {
      shreds_.emplace_back(case_ref, std::move(done));
      wake_ = true;
      done = nullptr;
    }
  }
  if (done) {
    done(base::RetryLater("forwarder_stopped", "stopped"));
    return;
  }
  cv_.notify_all();
}

bool StreamForwarder::WaitForwarded(uint64_t seq, std::chrono::milliseconds timeout) {
  base::PollUntil([&] { return hw_.load() >= seq || failed_.load(); }, timeout);
  return hw_.load() >= seq;
}

// AppendBatch keeps message order, so the last message of this instance carries the highest
// origin seq forwarded and nothing before it is missing. Defensively (a StreamLog that kept only
// "exactly once" would leave a gap in the last batch if relaisd died mid-batch), the stream is
// read backwards until one of this instance's origin seqs is a batch or more below the first one
// found, and the high-water mark is the highest H such that every origin seq from
// max - kMaxBatch + 1 to H is there. What the stream already has past H is answered as duplicates.
// Entries ingested from the stream (other instances' events) are never sent back: they count as
// forwarded.
static base::Result<uint64_t> FindHighWater(StreamLog& log, journal::JournalReader& reader,
                                            const std::string& instance) {
  RELAIS_ASSIGN_OR_RETURN(uint64_t last, log.LastSeq());
  constexpr uint64_t kWindow = 256;
  uint64_t first_found = 0;
  std::set<uint64_t> seen;
  bool done = false;
  for (uint64_t end = last; end > 0 && !done;) {
    const uint64_t from = end > kWindow ? end - kWindow + 1 : 1;
    RELAIS_ASSIGN_OR_RETURN(auto records, log.Read(from, end - from + 1));
    for (auto it = records.rbegin(); it != records.rend() && !done; ++it) {
      if (FindHeader(it->msg, kHeaderOrigin) != instance) continue;
      auto text = FindHeader(it->msg, kHeaderOriginSeq);
      if (!text) continue;
      const uint64_t seq = std::strtoull(text->c_str(), nullptr, 10);
      if (first_found == 0) first_found = seq;
      if (seq + kMaxBatch <= first_found) done = true;
      seen.insert(seq);
    }
    end = from - 1;
  }
  if (seen.empty()) return uint64_t{0};
  const uint64_t top = *seen.rbegin();
  RELAIS_ASSIGN_OR_RETURN(auto foreign,
                          reader.StreamOrigins(top > kMaxBatch ? top - kMaxBatch : 0, top));
  for (const auto& [seq, stream_seq] : foreign) seen.insert(seq);
  uint64_t hw = top > kMaxBatch ? top - kMaxBatch : 0;
  while (hw < top && seen.count(hw + 1) != 0) ++hw;
  return hw;
}

base::Status StreamForwarder::RecoverHighWater() {
  RELAIS_ASSIGN_OR_RETURN(uint64_t hw, FindHighWater(log_, *reader_, options_.naming.instance));
  RELAIS_ASSIGN_OR_RETURN(auto head, reader_->GetHead());
  if (hw > head.seq) {
    // The journal was restored from an older copy: send its entries again (duplicates by id are
    // dropped by the stream; new entries reuse local seqs but have new ids).
    base::LogWarn("stream_ahead_of_journal", {{"stream_hw", hw}, {"journal_head", head.seq}});
    hw = head.seq;
  }
  hw_.store(hw);
  if (metrics_ != nullptr) {
    metrics_->stream_forwarded_seq.store(hw);
    metrics_->stream_forward_lag.store(head.seq - hw);
  }
  base::LogInfo("stream_forwarder_started",
                {{"instance", options_.naming.instance}, {"hw", hw}, {"journal_head", head.seq}});
  return base::Ok();
}

void StreamForwarder::Run() {
  while (true) {
    RunShreds();
    bool more = false;
    if (!failed_.load()) more = ForwardBatch();
    if (!failed_.load()) more = ForwardAcks() || more;
    std::unique_lock lock(mu_);
    if (stop_) return;
    if (more) continue;
    cv_.wait_for(lock, options_.poll, [this] { return wake_ || stop_; });
    wake_ = false;
    if (stop_) return;
  }
}

template <typename T, typename Op>
base::Result<T> StreamForwarder::Retry(Op op) {
  return RetryWhileLater<T>(op, mu_, cv_, stop_, options_.min_backoff, options_.max_backoff,
                            [this] {
                              if (metrics_ != nullptr)
                                metrics_->stream_forward_retries.fetch_add(1);
                            });
}

void StreamForwarder::RunShreds() {
  while (true) {
    std::pair<std::string, std::function<void(base::Status)>> job;
    {
      std::lock_guard lock(mu_);
      if (shreds_.empty() || stop_) return;
      job = std::move(shreds_.front());
      shreds_.pop_front();
    }
    const std::string name = CaseKeyName(secret_, job.first);
    key_cache_[name].reset();  // destroyed: later entries of the case go without sealed bytes
    auto r = Retry<bool>([&]() -> base::Result<bool> {
      RELAIS_RETURN_IF_ERROR(keys_.Destroy(name));
      return true;
    });
    if (r && metrics_ != nullptr) metrics_->stream_keys_destroyed.fetch_add(1);
    if (!r) base::LogError("stream_key_destroy_failed", {{"code", r.error().code}});
    job.second(r ? base::Ok() : base::Status(r.error()));
  }
}

void StreamForwarder::PrefetchKeys(const std::vector<journal::StoredEntry>& entries) {
  // The keys of the batch's cases not cached yet, fetched (or created) concurrently: a burst of
  // new cases otherwise costs two key store round trips per case, one after the other. Errors
  // are left for KeyFor, which retries.
  std::vector<std::string> names;
  for (const auto& e : entries) {
    if (e.erased || e.envelope.body.empty()) continue;
    std::string name = CaseKeyName(secret_, e.case_ref);
    if (key_cache_.count(name) == 0 && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(std::move(name));
    }
  }
  constexpr size_t kParallel = 16;
  for (size_t first = 0; first < names.size(); first += kParallel) {
    const size_t end = std::min(names.size(), first + kParallel);
    std::vector<std::future<base::Result<crypto::AtRestKey>>> keys;
    for (size_t i = first; i < end; ++i) {
      keys.push_back(std::async(std::launch::async,
                                [this, &name = names[i]] { return keys_.GetOrCreate(name); }));
    }
    if (key_cache_.size() + keys.size() > 4096) key_cache_.clear();
    for (size_t i = first; i < end; ++i) {
      auto key = keys[i - first].get();
      if (key) {
        key_cache_[names[i]] = std::move(key).value();
      } else if (key.error().code == "case_key_destroyed") {
        key_cache_[names[i]].reset();
      }
    }
  }
}

base::Result<const crypto::AtRestKey*> StreamForwarder::KeyFor(const std::string& case_ref) {
  const std::string name = CaseKeyName(secret_, case_ref);
  auto it = key_cache_.find(name);
  if (it != key_cache_.end()) return it->second ? &*it->second : nullptr;
  auto key = Retry<crypto::AtRestKey>([&] { return keys_.GetOrCreate(name); });
  if (!key && key.error().code != "case_key_destroyed") return key.error();
  if (key_cache_.size() >= 4096) key_cache_.clear();
  auto& slot = key_cache_[name];
  if (key) slot = std::move(key).value();
  return slot ? &*slot : nullptr;
}

std::optional<std::vector<AppendResult>> StreamForwarder::AppendAll(
    const std::vector<LogMessage>& msgs) {
  // One pipelined batch; on kRetryLater the whole batch is resent with the same ids.
  auto r = Retry<std::vector<AppendResult>>([&]() -> base::Result<std::vector<AppendResult>> {
    if (msgs.empty()) return std::vector<AppendResult>();
    return log_.AppendBatch(msgs);
  });
  if (r) return std::move(r).value();
  if (r.error().kind != base::ErrorKind::kRetryLater) Fail(r.error());
  return std::nullopt;
}

void StreamForwarder::QueueAck(const std::string& agency, uint64_t seq) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    acks_.emplace_back(agency, seq);
    wake_ = true;
  }
  cv_.notify_all();
}

bool StreamForwarder::ForwardAcks() {
  const uint64_t hw = hw_.load();
  std::vector<std::pair<std::string, uint64_t>> batch;
  {
    std::lock_guard lock(mu_);
    // Only acks of entries the stream holds, so that an ack never comes before its event.
    for (auto it = acks_.begin(); it != acks_.end() && batch.size() < kMaxBatch;) {
      if (it->second <= hw) {
        batch.push_back(std::move(*it));
        it = acks_.erase(it);
      } else {
        ++it;
      }
    }
  }
  if (batch.empty()) return false;
  std::vector<LogMessage> msgs;
  for (const auto& [agency, seq] : batch) {
    auto e = reader_->Get(seq, journal::ReadScope::kMetadata);
    if (!e) {
      Fail(e.error());
      return false;
    }
    if (!*e) continue;
    auto msg = AckToMessage(agency, (*e)->event_id, options_.naming);
    if (!msg) {
      base::LogError("stream_ack_unsendable", {{"agency", agency}, {"code", msg.error().code}});
      continue;
    }
    msgs.push_back(std::move(msg).value());
  }
  auto r = AppendAll(msgs);
  if (!r) return false;  // stopping: the acks not sent are lost (docs/scale-out.md)
  if (metrics_ != nullptr) metrics_->stream_acks_forwarded.fetch_add(msgs.size());
  return true;
}

void StreamForwarder::Fail(const base::Error& error) {
  failed_.store(true);
  if (metrics_ != nullptr) metrics_->stream_forward_failed.store(1);
  base::LogError("stream_forward_failed", {{"code", error.code}, {"message", error.message}});
}

bool StreamForwarder::ForwardBatch() {
  auto head = reader_->GetHead();
  if (!head) {
    Fail(head.error());
    return false;
  }
  uint64_t hw = hw_.load();
  if (metrics_ != nullptr) metrics_->stream_forward_lag.store(head->seq - std::min(hw, head->seq));
  if (head->seq <= hw) return false;
  const size_t limit = std::min<size_t>(options_.batch, kMaxBatch);
  std::vector<journal::StoredEntry> entries;
  auto st = reader_->ForEachFrom(
      hw + 1,
      [&](const journal::StoredEntry& e) {
        entries.push_back(e);
        return entries.size() < limit;
      },
      journal::ReadScope::kWithSealed);
  if (!st) {
    Fail(st.error());
    return false;
  }
  const uint64_t last = entries.back().seq;
  auto foreign = reader_->StreamOrigins(entries.front().seq, last);
  if (!foreign) {
    Fail(foreign.error());
    return false;
  }
  std::vector<LogMessage> msgs;
  msgs.reserve(entries.size());
  PrefetchKeys(entries);
  for (const auto& e : entries) {
    if (foreign->count(e.seq) != 0) continue;  // another instance's event, already in the stream
    const crypto::AtRestKey* key = nullptr;
    if (!e.erased && !e.envelope.body.empty()) {
      auto k = KeyFor(e.case_ref);
      if (!k) {
        if (k.error().kind != base::ErrorKind::kRetryLater) Fail(k.error());
        return false;  // stopping, or failed
      }
      key = *k;
    }
    auto msg = EntryToMessage(e, options_.naming, key);
    if (!msg) {
      Fail(msg.error());
      return false;
    }
    msgs.push_back(std::move(msg).value());
  }
  auto r = AppendAll(msgs);
  if (!r) return false;
  hw_.store(last);
  if (metrics_ != nullptr) {
    metrics_->stream_forwarded_seq.store(last);
    metrics_->stream_forward_lag.store(head->seq - std::min(last, head->seq));
    for (const auto& a : *r) {
      if (a.duplicate) metrics_->stream_forward_duplicates.fetch_add(1);
    }
  }
  return entries.size() == limit;
}

}  // namespace relais::broker
