// Sequential StreamLog::Read on ephemeral pull consumers (see SequentialReaders in
// jetstream_internal.h).
#include <algorithm>
#include <utility>

#include "broker/jetstream/jetstream_internal.h"

namespace relais::jetstream::internal {
namespace {

using std::chrono::steady_clock;

// The server deletes an ephemeral consumer left without pull requests this long (a relaisd that
// died without deleting its readers); a reader idle for half of it is not reused.
constexpr std::chrono::seconds kInactiveThreshold{60};
constexpr std::chrono::seconds kMaxIdle{30};
// Records asked from the server per pull request.
constexpr uint64_t kPullBatch = 256;
// Idle readers kept (one per sequential reading pattern: the ingester, the audit writer, ...).
constexpr size_t kMaxIdleReaders = 4;

int64_t Nanos(std::chrono::nanoseconds d) { return d.count(); }

}  // namespace

struct SequentialReaders::Reader {
  natsSubscription* sub = nullptr;
  std::string consumer;
  uint64_t next = 0;  // the seq the consumer delivers next
  steady_clock::time_point used;
  // An error or an unexpected seq: never reused, and not deleted (its server may be gone): the
  // server's inactivity threshold removes it.
  bool broken = false;
};

SequentialReaders::SequentialReaders(Conn* conn) : conn_(conn) {}

SequentialReaders::~SequentialReaders() {
  std::lock_guard lock(mu_);
  for (auto& r : idle_) Close(std::move(r));
}

std::unique_ptr<SequentialReaders::Reader> SequentialReaders::Take(uint64_t from) {
  std::lock_guard lock(mu_);
  const auto now = steady_clock::now();
  std::unique_ptr<Reader> found;
  for (auto it = idle_.begin(); it != idle_.end();) {
    if (now - (*it)->used > kMaxIdle) {
      (*it)->broken = true;  // may already be gone on the server: not deleted (threshold does it)
      Close(std::move(*it));
      it = idle_.erase(it);
    } else if (!found && (*it)->next == from) {
      found = std::move(*it);
      it = idle_.erase(it);
    } else {
      ++it;
    }
  }
  return found;
}

void SequentialReaders::Give(std::unique_ptr<Reader> reader) {
  if (reader->broken) return Close(std::move(reader));
  reader->used = steady_clock::now();
  std::unique_ptr<Reader> evicted;
  {
    std::lock_guard lock(mu_);
    idle_.push_back(std::move(reader));
    if (idle_.size() > kMaxIdleReaders) {
      auto oldest = std::min_element(idle_.begin(), idle_.end(), [](const auto& a, const auto& b) {
        return a->used < b->used;
      });
      evicted = std::move(*oldest);
      idle_.erase(oldest);
    }
  }
  if (evicted != nullptr) Close(std::move(evicted));  // a request: outside the lock
}

std::unique_ptr<SequentialReaders::Reader> SequentialReaders::Create(uint64_t from) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = conn_->options.request_timeout.count();
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.AckPolicy = js_AckNone;  // nothing to acknowledge, no redelivery
  cc.DeliverPolicy = js_DeliverByStartSequence;
  cc.OptStartSeq = from;
  cc.InactiveThreshold = Nanos(kInactiveThreshold);
  cc.MemoryStorage = true;  // the consumer's state only: it is recreated when lost
  cc.Replicas = 1;
  jsConsumerInfo* ci = nullptr;
  jsErrCode jerr{};
  // No filter: every subject of the stream. Bound below by name (a subject-less subscription).
  if (js_AddConsumer(&ci, conn_->js, conn_->options.stream.c_str(), &cc, &jo, &jerr) != NATS_OK) {
    return nullptr;
  }
  auto reader = std::make_unique<Reader>();
  reader->consumer = ci->Name;
  reader->next = from;
  jsConsumerInfo_Destroy(ci);
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = conn_->options.stream.c_str();
  so.Consumer = reader->consumer.c_str();
  so.Config = cc;  // cnats checks the bound consumer's settings against these
  if (js_PullSubscribe(&reader->sub, conn_->js, nullptr, nullptr, &jo, &so, &jerr) != NATS_OK) {
    reader->sub = nullptr;
    Close(std::move(reader));
    return nullptr;
  }
  return reader;
}

void SequentialReaders::Close(std::unique_ptr<Reader> reader) {
  if (reader->sub != nullptr) natsSubscription_Destroy(reader->sub);
  // Broken or disconnected: the server's inactivity threshold deletes it (no request to wait on).
  if (reader->broken || natsConnection_Status(conn_->nc) != NATS_CONN_STATUS_CONNECTED) return;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = conn_->options.request_timeout.count();
  js_DeleteConsumer(conn_->js, conn_->options.stream.c_str(), reader->consumer.c_str(), &jo,
                    nullptr);
}

// Fetches [reader->next, until] into `out`; stops at the first failure (reader marked broken).
void SequentialReaders::Pull(Reader& reader, uint64_t until, std::vector<broker::LogRecord>* out) {
  const int64_t timeout = conn_->options.request_timeout.count();
  while (!reader.broken && reader.next <= until) {
    // Never more than is stored (until <= the stream's last seq): the consumer's position stays
    // exactly at reader.next after the call, ready for the next sequential Read.
    const auto batch = static_cast<int>(std::min(until - reader.next + 1, kPullBatch));
    natsMsgList list{};
    jsErrCode jerr{};
    if (natsSubscription_Fetch(&list, reader.sub, batch, timeout, &jerr) != NATS_OK) {
      reader.broken = true;  // consumer lost (failover, inactivity), disconnection, timeout
      break;
    }
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* msg = list.Msgs[i];
      jsMsgMetaData* meta = nullptr;
      if (reader.broken || natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
        reader.broken = true;
        continue;
      }
      const uint64_t seq = meta->Sequence.Stream;
      if (seq == reader.next) {
        out->push_back(ToRecord(msg, seq, meta->Timestamp));
        ++reader.next;
      } else if (seq > reader.next) {
        reader.broken = true;  // a hole (limits set by hand): the per-message path decides
      }                        // seq < next: a late copy of a message already returned, dropped
      jsMsgMetaData_Destroy(meta);
    }
    natsMsgList_Destroy(&list);
  }
}

std::vector<broker::LogRecord> SequentialReaders::Read(uint64_t from, uint64_t until, bool create) {
  std::vector<broker::LogRecord> out;
  std::unique_ptr<Reader> reader = Take(from);
  // One attempt with a cached reader, then one with a fresh consumer at the first missing seq.
  for (int attempt = 0; attempt < 2 && from + out.size() <= until; ++attempt) {
    if (reader == nullptr) {
      if (!create && attempt == 0) return out;
      reader = Create(from + out.size());
      if (reader == nullptr) break;
    }
    Pull(*reader, until, &out);
    if (!reader->broken) break;
    Close(std::move(reader));
    reader = nullptr;
    create = true;
  }
  if (reader != nullptr) Give(std::move(reader));
  return out;
}

}  // namespace relais::jetstream::internal
