#include "broker/jetstream/jetstream_stream_log.h"

#include <algorithm>
#include <mutex>
#include <thread>
#include <utility>

#include "broker/jetstream/jetstream_internal.h"

namespace relais::jetstream {
namespace internal {

Conn::~Conn() {
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
}

bool Transient(natsStatus s, jsErrCode jerr) {
  if (jerr == JSNotEnabledErr || jerr == JSClusterNoPeersErr) return true;
  switch (s) {
    case NATS_NO_RESPONDERS:
    case NATS_TIMEOUT:
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NO_SERVER:
    case NATS_NOT_YET_CONNECTED:
    case NATS_STALE_CONNECTION:
    case NATS_IO_ERROR:
    case NATS_SLOW_CONSUMER:
      return true;
    default:
      return false;
  }
}

base::Error Unavailable(const std::string& what, natsStatus s, jsErrCode jerr) {
  return base::RetryLater(
      "stream_unavailable",
      what + ": " + natsStatus_GetText(s) +
          (jerr != 0 ? " (jetstream error " + std::to_string(jerr) + ")" : std::string()));
}

bool Backoff(std::chrono::steady_clock::time_point deadline) {
  if (std::chrono::steady_clock::now() >= deadline) return false;
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return true;
}

broker::LogRecord ToRecord(natsMsg* msg, uint64_t seq, int64_t time_ns) {
  broker::LogRecord r;
  r.seq = seq;
  r.stored_at = time_ns / 1'000'000;
  r.msg.subject = natsMsg_GetSubject(msg);
  const auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(msg));
  r.msg.data.assign(data, data + natsMsg_GetDataLength(msg));
  const char* id = nullptr;
  if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) r.msg.id = id;
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) == NATS_OK) {
    for (int k = 0; k < count; ++k) {
      const std::string name = keys[k];
      if (name.size() >= 5 && name.compare(0, 5, "Nats-") == 0) continue;
      const char** values = nullptr;
      int n = 0;
      if (natsMsgHeader_Values(msg, keys[k], &values, &n) != NATS_OK) continue;
      for (int v = 0; v < n; ++v) r.msg.headers.emplace_back(name, values[v]);
      free(static_cast<void*>(values));
    }
    free(static_cast<void*>(keys));
  }
  std::stable_sort(r.msg.headers.begin(), r.msg.headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return r;
}

}  // namespace internal

namespace {

using internal::Backoff;
using internal::Conn;
using internal::Transient;
using internal::Unavailable;

using Deadline = std::chrono::steady_clock::time_point;

// Reads at least this long start a consumer when none is positioned at from_seq (a consumer costs
// two requests to create and one to delete; js_GetMsg costs one request per record).
constexpr uint64_t kMinConsumerRead = 16;

class JetStreamLog final : public broker::StreamLog {
 public:
  JetStreamLog(std::unique_ptr<Conn> conn, std::unique_ptr<internal::BatchPublisher> batches)
      : conn_(std::move(conn)), batches_(std::move(batches)), readers_(conn_.get()) {}

  base::Result<broker::AppendResult> Append(const broker::LogMessage& msg) override {
    return Publish(msg, std::nullopt);
  }
  base::Result<broker::AppendResult> Append(const broker::LogMessage& msg,
                                            uint64_t expected_last_seq) override {
    return Publish(msg, expected_last_seq);
  }

  // Pipelined, chained passes (stream_log.h): each pass publishes from the first message not yet
  // stored, the first unconditionally and each next one only right after its predecessor
  // (Nats-Expected-Last-Msg-Id), so a failure or another writer in between stops the chain
  // there and the next pass resumes from it: strict message order. After a duplicate the chain
  // cannot hold (the stream's last id is another), so duplicates go one at a time.
  base::Result<std::vector<broker::AppendResult>> AppendBatch(
      const std::vector<broker::LogMessage>& msgs) override {
    for (const auto& m : msgs) RELAIS_RETURN_IF_ERROR(broker::ValidateMessage(m));
    std::lock_guard lock(batch_mu_);
    std::vector<std::optional<broker::AppendResult>> results(msgs.size());
    size_t next = 0;
    while (next < msgs.size()) {
      batches_->Publish(msgs, next, results);
      // The unconditioned first one failed (election, lost ack): retried alone to the deadline.
      if (!results[next]) {
        RELAIS_ASSIGN_OR_RETURN(results[next], Publish(msgs[next], std::nullopt));
      }
      while (next < msgs.size() && results[next]) ++next;
      while (next < msgs.size() && results[next - 1]->duplicate) {
        RELAIS_ASSIGN_OR_RETURN(results[next], Publish(msgs[next], std::nullopt));
        ++next;
      }
    }
    std::vector<broker::AppendResult> out;
    out.reserve(msgs.size());
    for (const auto& r : results) out.push_back(*r);
    return out;
  }

  // Bounded by the stream's last seq (stream info, answered by the stream leader), so nothing
  // waits for messages that do not exist. Sequential reads (from_seq = the last returned + 1)
  // continue on a cached ephemeral consumer; a long read from elsewhere starts a new one; short
  // reads elsewhere (FindHighWater's backward windows are long, the audit writer's checks of
  // one record are not), and whatever a failed consumer left, go one js_GetMsg per seq.
  base::Result<std::vector<broker::LogRecord>> Read(uint64_t from_seq, size_t limit) override {
    from_seq = std::max<uint64_t>(from_seq, 1);
    RELAIS_ASSIGN_OR_RETURN(uint64_t last, LastSeq());
    std::vector<broker::LogRecord> out;
    if (limit == 0 || from_seq > last) return out;
    const uint64_t until = limit - 1 >= last - from_seq ? last : from_seq + (limit - 1);
    if (conn_->options.consumer_reads) {
      out = readers_.Read(from_seq, until, until - from_seq + 1 >= kMinConsumerRead);
    }
    RELAIS_RETURN_IF_ERROR(ReadEach(from_seq + out.size(), until, &out));
    return out;
  }

  base::Result<uint64_t> LastSeq() override {
    RELAIS_ASSIGN_OR_RETURN(auto bounds, Bounds());
    return bounds.second;
  }

  base::Result<std::unique_ptr<broker::LogCursor>> OpenCursor(
      const broker::CursorOptions& options) override {
    return internal::OpenCursor(conn_.get(), options);
  }

 private:
  const char* Stream() const { return conn_->options.stream.c_str(); }
  Deadline DeadlineFromNow() const {
    return std::chrono::steady_clock::now() + conn_->options.deadline;
  }

  // The stream's first and last seqs (stream info).
  base::Result<std::pair<uint64_t, uint64_t>> Bounds() {
    const Deadline deadline = DeadlineFromNow();
    while (true) {
      jsStreamInfo* si = nullptr;
      jsErrCode jerr{};
      const natsStatus s = js_GetStreamInfo(&si, conn_->js, Stream(), nullptr, &jerr);
      if (s == NATS_OK) {
        const std::pair<uint64_t, uint64_t> bounds{si->State.FirstSeq, si->State.LastSeq};
        jsStreamInfo_Destroy(si);
        return bounds;
      }
      if (!Transient(s, jerr) || !Backoff(deadline)) return Unavailable("stream info", s, jerr);
    }
  }

  // One js_GetMsg per seq in [from, until] (stream_log.h's Read), appended to `out`. A seq not
  // found below the stream's first seq was removed by limits set by hand (never on a DenyDelete
  // stream created here): skipped. One not found above it is retried until the deadline, then
  // kRetryLater: a SIGKILLed stream leader that restarts answers for a moment (~0.2 s measured,
  // nats-server 2.9.10) from its older copy, and a reader must not step over what it lacks.
  base::Status ReadEach(uint64_t from, uint64_t until, std::vector<broker::LogRecord>* out) {
    const Deadline deadline = DeadlineFromNow();
    for (uint64_t seq = from; seq <= until;) {
      natsMsg* msg = nullptr;
      jsErrCode jerr{};
      const natsStatus s = js_GetMsg(&msg, conn_->js, Stream(), seq, nullptr, &jerr);
      if (s == NATS_OK) {
        out->push_back(internal::ToRecord(msg, seq, natsMsg_GetTime(msg)));
        natsMsg_Destroy(msg);
        ++seq;
      } else if (s == NATS_NOT_FOUND || jerr == JSNoMessageFoundErr) {
        RELAIS_ASSIGN_OR_RETURN(auto bounds, Bounds());
        if (seq < bounds.first) {
          ++seq;
        } else if (!Backoff(deadline)) {
          return Unavailable("reading seq " + std::to_string(seq), s, jerr);
        }
      } else if (!Transient(s, jerr) || !Backoff(deadline)) {
        return Unavailable("reading seq " + std::to_string(seq), s, jerr);
      }
    }
    return base::Ok();
  }

  base::Result<broker::AppendResult> Publish(const broker::LogMessage& m,
                                             std::optional<uint64_t> expected) {
    RELAIS_RETURN_IF_ERROR(broker::ValidateMessage(m));
    if (expected && *expected == 0) {
      // The 2.9 server does not check an expected last sequence of 0: best effort (see header).
      RELAIS_ASSIGN_OR_RETURN(uint64_t last, LastSeq());
      if (last != 0) return WrongLastSeq(0, last);
    }
    natsMsg* msg = nullptr;
    if (natsMsg_Create(&msg, m.subject.c_str(), nullptr,
                       reinterpret_cast<const char*>(m.data.data()),
                       static_cast<int>(m.data.size())) != NATS_OK) {
      return base::FailStop("stream_failed", "cannot create a message");
    }
    for (const auto& [name, value] : m.headers) natsMsgHeader_Add(msg, name.c_str(), value.c_str());
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MsgId = m.id.c_str();
    po.MaxWait = conn_->options.request_timeout.count();
    if (expected) po.ExpectLastSeq = *expected;
    const Deadline deadline = DeadlineFromNow();
    base::Result<broker::AppendResult> result = base::FailStop("stream_failed", "unreachable");
    while (true) {
      jsPubAck* pa = nullptr;
      jsErrCode jerr{};
      const natsStatus s = js_PublishMsg(&pa, conn_->js, msg, &po, &jerr);
      if (s == NATS_OK) {
        result = broker::AppendResult{pa->Sequence, pa->Duplicate};
        jsPubAck_Destroy(pa);
        break;
      }
      if (jerr == JSStreamWrongLastSequenceErr) {
        auto last = LastSeq();
        result = WrongLastSeq(*expected, last ? *last : 0);
        break;
      }
      if (!Transient(s, jerr) || !Backoff(deadline)) {
        result = Unavailable("publish", s, jerr);
        break;
      }
    }
    natsMsg_Destroy(msg);
    return result;
  }

  static base::Error WrongLastSeq(uint64_t expected, uint64_t last) {
    return base::InvalidInput("wrong_last_seq", "expected last seq " + std::to_string(expected) +
                                                    ", stream at " + std::to_string(last));
  }

  std::unique_ptr<Conn> conn_;
  std::unique_ptr<internal::BatchPublisher> batches_;  // destroyed before conn_
  std::mutex batch_mu_;                                // one batch in flight
  internal::SequentialReaders readers_;                // destroyed before conn_
};

base::Status CheckOptions(const JetStreamOptions& o) {
  if (o.urls.empty() || o.stream.empty() || (o.create && o.subjects.empty()) ||
      (o.replicas != 1 && o.replicas != 3) || o.duplicates.count() <= 0 ||
      o.deadline.count() <= 0 || o.request_timeout.count() <= 0) {
    return base::InvalidInput("bad_stream_config", "incomplete or out-of-range JetStream options");
  }
  return base::Ok();
}

base::Status EnsureStream(Conn& conn) {
  const JetStreamOptions& o = conn.options;
  std::vector<const char*> subjects;
  for (const auto& s : o.subjects) subjects.push_back(s.c_str());
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = o.stream.c_str();
  sc.Subjects = subjects.data();
  sc.SubjectsLen = static_cast<int>(subjects.size());
  sc.Storage = js_FileStorage;
  sc.Replicas = o.replicas;
  sc.Duplicates = std::chrono::duration_cast<std::chrono::nanoseconds>(o.duplicates).count();
  sc.DenyDelete = true;
  sc.DenyPurge = true;
  const Deadline deadline = std::chrono::steady_clock::now() + o.deadline;
  while (true) {
    jsStreamInfo* si = nullptr;
    jsErrCode jerr{};
    natsStatus s = js_GetStreamInfo(&si, conn.js, sc.Name, nullptr, &jerr);
    if (s == NATS_OK) {
      const bool ok = si->Config->DenyDelete && si->Config->DenyPurge;
      jsStreamInfo_Destroy(si);
      if (!ok) return base::InvalidInput("bad_stream_config", "stream allows delete or purge");
      return base::Ok();
    }
    if ((s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) && !o.create) {
      return base::NotFound("stream_not_found", "no stream named " + o.stream);
    }
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
      jerr = {};
      s = js_AddStream(&si, conn.js, &sc, nullptr, &jerr);
      if (si != nullptr) jsStreamInfo_Destroy(si);
      if (s == NATS_OK || jerr == JSStreamNameExistErr) continue;  // checked on the next turn
    }
    if (!Transient(s, jerr) || !Backoff(deadline)) return Unavailable("creating stream", s, jerr);
  }
}

}  // namespace

namespace internal {

base::Result<std::unique_ptr<Conn>> Connect(const JetStreamOptions& options) {
  // The library's global state, initialised once rather than lazily by concurrent first connects.
  static std::once_flag opened;
  std::call_once(opened, [] { nats_Open(-1); });
  auto conn = std::make_unique<Conn>();
  conn->options = options;
  natsOptions* no = nullptr;
  if (natsOptions_Create(&no) != NATS_OK) return base::FailStop("stream_failed", "nats options");
  std::vector<const char*> urls;
  for (const auto& u : options.urls) urls.push_back(u.c_str());
  natsOptions_SetServers(no, urls.data(), static_cast<int>(urls.size()));
  natsOptions_SetMaxReconnect(no, -1);  // keep trying: calls fail by their own deadline
  natsOptions_SetReconnectWait(no, 100);
  natsOptions_SetTimeout(no, options.request_timeout.count());
  const Deadline deadline = std::chrono::steady_clock::now() + options.deadline;
  natsStatus s;
  while ((s = natsConnection_Connect(&conn->nc, no)) != NATS_OK && Backoff(deadline)) {
  }
  natsOptions_Destroy(no);
  if (s != NATS_OK) return Unavailable("connecting", s, {});
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = options.request_timeout.count();
  if (natsConnection_JetStream(&conn->js, conn->nc, &jo) != NATS_OK) {
    return base::FailStop("stream_failed", "jetstream context");
  }
  return conn;
}

}  // namespace internal

base::Result<std::unique_ptr<broker::StreamLog>> OpenJetStreamLog(const JetStreamOptions& options) {
  RELAIS_RETURN_IF_ERROR(CheckOptions(options));
  RELAIS_ASSIGN_OR_RETURN(auto conn, internal::Connect(options));
  RELAIS_RETURN_IF_ERROR(EnsureStream(*conn));
  RELAIS_ASSIGN_OR_RETURN(auto batches, internal::BatchPublisher::Create(conn.get()));
  return std::unique_ptr<broker::StreamLog>(new JetStreamLog(std::move(conn), std::move(batches)));
}

}  // namespace relais::jetstream
