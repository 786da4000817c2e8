#include "broker/stream_ingester.h"

#include <algorithm>
#include <future>
#include <utility>
#include <vector>

#include "base/log.h"
#include "schema/codec.h"

namespace relais::broker {

base::Result<std::unique_ptr<StreamIngester>> StreamIngester::Start(const IngesterOptions& options,
                                                                    StreamLog& log,
                                                                    CaseKeyStore& keys,
                                                                    crypto::AtRestKey secret,
                                                                    BrokerMetrics* metrics) {
  if (options.naming.instance.empty() || secret.Empty() || options.batch == 0) {
    return base::InvalidInput("bad_ingester_options",
                              "instance, stream secret and a batch size are required");
  }
  RELAIS_ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open({options.journal, ""}));
  RELAIS_ASSIGN_OR_RETURN(uint64_t last, reader->LastStreamOrigin());
  std::unique_ptr<StreamIngester> ingester(
      new StreamIngester(options, log, keys, std::move(secret), metrics));
  ingester->next_ = last > options.rewind ? last - options.rewind + 1 : 1;
  ingester->ingested_.store(ingester->next_ - 1);
  base::LogInfo("stream_ingester_started",
                {{"instance", options.naming.instance}, {"from_stream_seq", ingester->next_}});
  ingester->thread_ = std::thread([p = ingester.get()] { p->Run(); });
  return ingester;
}

StreamIngester::StreamIngester(const IngesterOptions& options, StreamLog& log, CaseKeyStore& keys,
                               crypto::AtRestKey secret, BrokerMetrics* metrics)
    : options_(options), log_(log), keys_(keys), secret_(std::move(secret)), metrics_(metrics) {}

StreamIngester::~StreamIngester() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StreamIngester::Done(uint64_t stream_seq, bool ok) {
  {
    std::lock_guard lock(mu_);
    if (outstanding_ > 0) --outstanding_;
    if (!ok) first_failed_ = std::min(first_failed_, stream_seq);
  }
  cv_.notify_all();
}

bool StreamIngester::WaitIngested(uint64_t stream_seq, std::chrono::milliseconds timeout) {
  return base::PollUntil([&] { return ingested_.load() >= stream_seq; }, timeout);
}

bool StreamIngester::Sleep(std::chrono::milliseconds d) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, d, [this] { return stop_; });
}

void StreamIngester::Run() {
  auto backoff = options_.min_backoff;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
    }
    bool more = IngestBatch();
    uint64_t failed = UINT64_MAX;
    {
      std::lock_guard lock(mu_);
      if (stop_) return;
      failed = std::exchange(first_failed_, UINT64_MAX);
    }
    if (failed != UINT64_MAX) {
      // The broker could not store a record (disk full, journal failed): read it again later.
      next_ = failed;
      if (!Sleep(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    if (more) {
      backoff = options_.min_backoff;
      continue;
    }
    if (!Sleep(options_.poll)) return;
  }
}

bool StreamIngester::IngestBatch() {
  auto records = log_.Read(next_, options_.batch);
  if (!records) {
    if (records.error().kind != base::ErrorKind::kRetryLater) {
      base::LogError("stream_ingest_read_failed", {{"code", records.error().code}});
    }
    return false;
  }
  if (records->empty()) return false;
  PrefetchKeys(*records);
  for (const LogRecord& r : *records) {
    std::optional<IngestedRecord> item = Decode(r);
    if (!item) continue;
    {
      std::lock_guard lock(mu_);
      if (stop_) return false;
      ++outstanding_;
    }
    records_.Push(std::move(*item));
  }
  // Wait for the broker to finish the batch before reading on (bounded memory, and a failed
  // record is read again from its seq).
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return stop_ || outstanding_ == 0; });
  if (stop_ || first_failed_ != UINT64_MAX) return false;
  lock.unlock();
  const uint64_t last = records->back().seq;
  next_ = last + 1;
  ingested_.store(last);
  if (metrics_ != nullptr) metrics_->stream_ingested_seq.store(last);
  return records->size() == options_.batch;
}

std::optional<IngestedRecord> StreamIngester::Decode(const LogRecord& r) {
  if (FindHeader(r.msg, kHeaderOrigin) == options_.naming.instance) return std::nullopt;
  IngestedRecord item;
  item.stream_seq = r.seq;
  item.stored_at = r.stored_at;
  auto ack = DecodeAckMessage(r.msg);
  if (!ack || *ack) {
    if (!ack) {
      base::LogError("stream_record_unreadable",
                     {{"stream_seq", r.seq}, {"code", ack.error().code}});
      if (metrics_ != nullptr) metrics_->stream_unreadable.fetch_add(1);
      return std::nullopt;
    }
    item.ack = std::move(**ack);
    return item;
  }
  // An event: the metadata first (for its case), then the sealed part with the case key.
  auto meta = DecodeStreamPayload(r.msg.data, nullptr);
  std::optional<schema::Header> header;
  if (meta) {
    auto h = schema::DecodeHeader(meta->envelope.header);
    if (h) header = std::move(h).value();
  }
  if (!meta || !header) {
    base::LogError("stream_record_unreadable", {{"stream_seq", r.seq}});
    if (metrics_ != nullptr) metrics_->stream_unreadable.fetch_add(1);
    return std::nullopt;
  }
  if (!meta->had_sealed) {
    item.event = std::move(meta->envelope);
    return item;
  }
  bool retry = false;
  const crypto::AtRestKey* key = KeyFor(header->case_ref, &retry);
  if (key == nullptr) {
    // Destroyed (withdrawn case), or the key store unreachable for long: the event is kept
    // without its sealed bytes, like an erased one.
    if (retry) base::LogWarn("stream_case_key_unavailable", {{"stream_seq", r.seq}});
    item.event = std::move(meta->envelope);
    return item;
  }
  auto full = DecodeStreamPayload(r.msg.data, key);
  if (!full) {
    base::LogError("stream_record_unreadable",
                   {{"stream_seq", r.seq}, {"code", full.error().code}});
    if (metrics_ != nullptr) metrics_->stream_unreadable.fetch_add(1);
    return std::nullopt;
  }
  item.event = std::move(full->envelope);
  return item;
}

void StreamIngester::PrefetchKeys(const std::vector<LogRecord>& records) {
  // The keys of the batch's cases not cached yet, read concurrently (one key store round trip
  // per new case otherwise, one after the other). Errors are left for KeyFor, which retries.
  std::vector<std::string> names;
  for (const LogRecord& r : records) {
    if (FindHeader(r.msg, kHeaderOrigin) == options_.naming.instance) continue;
    auto meta = DecodeStreamPayload(r.msg.data, nullptr);
    if (!meta || !meta->had_sealed) continue;
    auto h = schema::DecodeHeader(meta->envelope.header);
    if (!h) continue;
    std::string name = CaseKeyName(secret_, h->case_ref);
    if (key_cache_.count(name) == 0 && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(std::move(name));
    }
  }
  constexpr size_t kParallel = 16;
  for (size_t first = 0; first < names.size(); first += kParallel) {
    const size_t end = std::min(names.size(), first + kParallel);
    std::vector<std::future<base::Result<std::optional<crypto::AtRestKey>>>> keys;
    for (size_t i = first; i < end; ++i) {
      keys.push_back(
          std::async(std::launch::async, [this, &name = names[i]] { return keys_.Get(name); }));
    }
    if (key_cache_.size() + keys.size() > 4096) key_cache_.clear();
    for (size_t i = first; i < end; ++i) {
      auto key = keys[i - first].get();
      if (key) key_cache_[names[i]] = std::move(key).value();
    }
  }
}

const crypto::AtRestKey* StreamIngester::KeyFor(const std::string& case_ref, bool* retry) {
  const std::string name = CaseKeyName(secret_, case_ref);
  auto it = key_cache_.find(name);
  // A record with sealed bytes was sent after its key was created, so a missing key was
  // destroyed (for good): caching that answer too is safe.
  if (it != key_cache_.end()) return it->second ? &*it->second : nullptr;
  auto backoff = options_.min_backoff;
  for (int attempt = 0;; ++attempt) {
    auto key = keys_.Get(name);
    if (key) {
      if (key_cache_.size() >= 4096) key_cache_.clear();
      auto& slot = key_cache_[name];
      slot = std::move(key).value();
      return slot ? &*slot : nullptr;
    }
    if (key.error().kind != base::ErrorKind::kRetryLater || attempt >= 8 || !Sleep(backoff)) {
      *retry = true;
      return nullptr;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace relais::broker
