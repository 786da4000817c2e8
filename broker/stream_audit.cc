#include "broker/stream_audit.h"

#include <algorithm>
#include <utility>

#include "base/log.h"
#include "broker/stream_retry.h"

namespace relais::broker {

namespace {

bool SameMessage(const LogMessage& a, const LogMessage& b) {
  auto ha = a.headers;
  auto hb = b.headers;
  std::sort(ha.begin(), ha.end());
  std::sort(hb.begin(), hb.end());
  return a.id == b.id && a.subject == b.subject && a.data == b.data && ha == hb;
}

base::Error Fork(uint64_t seq, const std::string& why) {
  return base::Corruption("audit_fork", "audit seq " + std::to_string(seq) + ": " + why);
}

}  // namespace

base::Result<std::unique_ptr<StreamAuditWriter>> StreamAuditWriter::Start(
    const AuditWriterOptions& options, StreamLog& events, StreamLog& audit,
    BrokerMetrics* metrics) {
  if (options.subject.empty() || options.batch == 0) {
    return base::InvalidInput("bad_audit_options", "audit subject and batch are required");
  }
  std::unique_ptr<StreamAuditWriter> w(new StreamAuditWriter(options, events, audit, metrics));
  w->thread_ = std::thread([p = w.get()] { p->Run(); });
  return w;
}

StreamAuditWriter::StreamAuditWriter(const AuditWriterOptions& options, StreamLog& events,
                                     StreamLog& audit, BrokerMetrics* metrics)
    : options_(options), events_(events), audit_(audit), metrics_(metrics) {}

StreamAuditWriter::~StreamAuditWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StreamAuditWriter::Notify() {
  {
    std::lock_guard lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

std::optional<base::Error> StreamAuditWriter::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

bool StreamAuditWriter::WaitCovered(uint64_t seq, std::chrono::milliseconds timeout) {
  base::PollUntil([&] { return covered_.load() >= seq || failed_.load(); }, timeout);
  return covered_.load() >= seq;
}

template <typename T, typename Op>
base::Result<T> StreamAuditWriter::Retry(Op op) {
  return RetryWhileLater<T>(op, mu_, cv_, stop_, options_.min_backoff, options_.max_backoff);
}

void StreamAuditWriter::Fail(const base::Error& error) {
  {
    std::lock_guard lock(mu_);
    failure_ = error;
  }
  failed_.store(true);
  if (metrics_ != nullptr) metrics_->stream_audit_failed.store(1);
  base::LogError("stream_audit_failed", {{"instance", options_.instance},
                                         {"code", error.code},
                                         {"message", error.message},
                                         {"covered", covered_.load()}});
}

// A seq the engine says it holds but does not return. Retried, never a fork: a JetStream replica
// that has just restarted answered reads with stale data for about a second in tests (2.9.10);
// a real hole (the streams deny delete) stalls the writer with this warning (logged once per
// seq) and a growing lag.
base::Error StreamAuditWriter::Unreadable(const std::string& what) {
  if (what != last_unreadable_) {
    base::LogWarn("stream_audit_unreadable", {{"instance", options_.instance}, {"what", what}});
    last_unreadable_ = what;
  }
  return base::RetryLater("audit_read_stale", what);
}

void StreamAuditWriter::Advance(uint64_t seq, const crypto::Digest& chain) {
  chain_ = chain;
  covered_.store(seq);
  if (metrics_ != nullptr) metrics_->stream_audit_covered_seq.store(seq);
}

// The last audit record must be for the event at its seq (event hash). Its chain hash is taken
// as is: the whole chain is checked by `relais audit verify`.
base::Status StreamAuditWriter::Recover() {
  RELAIS_ASSIGN_OR_RETURN(uint64_t last, audit_.LastSeq());
  if (last == 0) {
    Advance(0, kAuditGenesis);
    return base::Ok();
  }
  RELAIS_ASSIGN_OR_RETURN(auto stored, audit_.Read(last, 1));
  if (stored.empty() || stored[0].seq != last) {
    return Unreadable("audit seq " + std::to_string(last) + " not readable");
  }
  if (stored[0].msg.id != AuditMessageId(last)) return Fork(last, "unexpected message id");
  auto record = DecodeAuditRecord(stored[0].msg.data);
  if (!record) return Fork(last, record.error().message);
  if (record->event_seq != last) return Fork(last, "record for another event seq");
  RELAIS_ASSIGN_OR_RETURN(auto events, events_.Read(last, 1));
  if (events.empty() || events[0].seq != last) {
    return Unreadable("event seq " + std::to_string(last) + " (covered by the audit) not readable");
  }
  if (AuditEventHash(events[0]) != record->event_hash) return Fork(last, "event hash differs");
  Advance(last, record->chain_hash);
  base::LogInfo("stream_audit_started", {{"instance", options_.instance}, {"covered", last}});
  return base::Ok();
}

void StreamAuditWriter::Run() {
  auto recovered = Retry<bool>([this]() -> base::Result<bool> {
    RELAIS_RETURN_IF_ERROR(Recover());
    return true;
  });
  if (!recovered) {
    if (recovered.error().kind != base::ErrorKind::kRetryLater) Fail(recovered.error());
  }
  while (true) {
    bool more = false;
    if (recovered && !failed_.load()) {
      auto r = CoverBatch();
      if (!r && r.error().kind != base::ErrorKind::kRetryLater) Fail(r.error());
      more = r && *r;
    }
    std::unique_lock lock(mu_);
    if (stop_) return;
    if (more) continue;
    cv_.wait_for(lock, options_.poll, [this] { return wake_ || stop_; });
    wake_ = false;
    if (stop_) return;
  }
}

base::Status StreamAuditWriter::CheckStored(uint64_t seq, const LogMessage& mine) {
  RELAIS_ASSIGN_OR_RETURN(auto stored,
                          Retry<std::vector<LogRecord>>([&] { return audit_.Read(seq, 1); }));
  if (stored.empty() || stored[0].seq != seq) {
    return Unreadable("audit seq " + std::to_string(seq) + " not readable");
  }
  if (!SameMessage(stored[0].msg, mine)) return Fork(seq, "another writer stored a different one");
  return base::Ok();
}

base::Result<bool> StreamAuditWriter::CoverBatch() {
  const uint64_t from = covered_.load() + 1;
  RELAIS_ASSIGN_OR_RETURN(auto events, Retry<std::vector<LogRecord>>(
                                           [&] { return events_.Read(from, options_.batch); }));
  if (metrics_ != nullptr) {
    auto last = events_.LastSeq();
    if (last) metrics_->stream_audit_lag.store(*last - std::min(*last, from - 1));
  }
  if (events.empty()) return false;
  std::vector<AuditRecord> records;
  std::vector<LogMessage> msgs;
  crypto::Digest prev = chain_;
  for (size_t k = 0; k < events.size(); ++k) {
    if (events[k].seq != from + k) {
      if (k == 0) return Unreadable("event seq " + std::to_string(from) + " not readable");
      events.resize(k);  // cover what precedes the hole first
      break;
    }
    records.push_back(MakeAuditRecord(events[k], prev));
    prev = records.back().chain_hash;
    msgs.push_back(AuditMessage(records.back(), options_.subject));
  }
  size_t i = 0;
  while (i < msgs.size()) {
    const uint64_t seq = from + i;
    auto r = Retry<AppendResult>([&] { return audit_.Append(msgs[i], seq - 1); });
    if (!r && r.error().code == "wrong_last_seq") {
      // Another writer is ahead: what it stored must be what this writer computes.
      RELAIS_ASSIGN_OR_RETURN(auto stored, Retry<std::vector<LogRecord>>(
                                               [&] { return audit_.Read(seq, msgs.size() - i); }));
      if (stored.empty()) return Unreadable("audit seq " + std::to_string(seq) + " not readable");
      for (const LogRecord& s : stored) {
        if (s.seq != from + i) {
          return Unreadable("audit seq " + std::to_string(from + i) + " not readable");
        }
        if (!SameMessage(s.msg, msgs[i])) return Fork(s.seq, "another writer stored another one");
        Advance(s.seq, records[i].chain_hash);
        if (++i == msgs.size()) break;
      }
      continue;
    }
    if (!r) return r.error();
    if (r->seq != seq) return Fork(seq, "stored at seq " + std::to_string(r->seq));
    if (r->duplicate) {
      RELAIS_RETURN_IF_ERROR(CheckStored(seq, msgs[i]));
    } else {
      written_.fetch_add(1);
      if (metrics_ != nullptr) metrics_->stream_audit_written.fetch_add(1);
    }
    Advance(seq, records[i].chain_hash);
    ++i;
    if (i == msgs.size()) break;
    // The rest in one pipelined batch, each only right after its predecessor.
    std::vector<LogMessage> rest(msgs.begin() + i, msgs.end());
    RELAIS_ASSIGN_OR_RETURN(
        auto results, Retry<std::vector<AppendResult>>([&] { return audit_.AppendBatch(rest); }));
    for (size_t k = 0; k < results.size(); ++k, ++i) {
      if (results[k].seq != from + i) {
        return Fork(from + i, "stored at seq " + std::to_string(results[k].seq));
      }
      if (results[k].duplicate) {
        RELAIS_RETURN_IF_ERROR(CheckStored(from + i, msgs[i]));
      } else {
        written_.fetch_add(1);
        if (metrics_ != nullptr) metrics_->stream_audit_written.fetch_add(1);
      }
      Advance(from + i, records[i].chain_hash);
    }
  }
  return events.size() == options_.batch;
}

}  // namespace relais::broker
