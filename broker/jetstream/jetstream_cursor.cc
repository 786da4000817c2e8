// Durable pull consumers behind LogCursor.
#include <cstdlib>
#include <map>
#include <mutex>

#include "broker/jetstream/jetstream_internal.h"

namespace relais::jetstream::internal {
namespace {

using Deadline = std::chrono::steady_clock::time_point;

class JetStreamCursor final : public broker::LogCursor {
 public:
  JetStreamCursor(Conn* conn, broker::CursorOptions options)
      : conn_(conn), options_(std::move(options)) {}

  ~JetStreamCursor() override {
    for (auto& [seq, msg] : outstanding_) natsMsg_Destroy(msg);
    // Destroy (not Unsubscribe): Unsubscribe would delete the durable consumer.
    if (sub_ != nullptr) natsSubscription_Destroy(sub_);
    if (advisories_ != nullptr) {
      natsSubscription_Unsubscribe(advisories_);
      natsSubscription_Destroy(advisories_);
    }
  }

  base::Status Start() {
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = conn_->options.stream.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.AckWait =
        std::chrono::duration_cast<std::chrono::nanoseconds>(options_.ack_wait).count();
    so.Config.MaxDeliver = options_.max_deliver;
    const std::string filter =
        options_.filter.empty() ? conn_->options.subjects.front() : options_.filter;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = conn_->options.request_timeout.count();
    const Deadline deadline = std::chrono::steady_clock::now() + conn_->options.deadline;
    while (true) {
      jsErrCode jerr{};
      const natsStatus s = js_PullSubscribe(&sub_, conn_->js, filter.c_str(),
                                            options_.durable.c_str(), &jo, &so, &jerr);
      if (s == NATS_OK) break;
      sub_ = nullptr;
      if (Transient(s, jerr) && Backoff(deadline)) continue;
      if (s == NATS_ERR || s == NATS_INVALID_ARG) {
        // cnats refuses to bind a durable whose stored configuration differs (e.g. the filter).
        return base::InvalidInput("bad_cursor",
                                  std::string("consumer: ") + nats_GetLastError(nullptr));
      }
      return Unavailable("creating consumer", s, jerr);
    }
    const std::string advisory = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." +
                                 conn_->options.stream + "." + options_.durable;
    if (natsConnection_Subscribe(&advisories_, conn_->nc, advisory.c_str(), &OnAdvisory, this) !=
        NATS_OK) {
      advisories_ = nullptr;  // best effort (see jetstream_stream_log.h)
    }
    return base::Ok();
  }

  base::Result<std::vector<broker::CursorDelivery>> Fetch(size_t max,
                                                          std::chrono::milliseconds wait) override {
    std::vector<broker::CursorDelivery> out;
    if (max == 0) return out;
    natsMsgList list{};
    jsErrCode jerr{};
    // cnats needs a positive timeout; it sends a no-wait request first and returns early.
    const int64_t timeout = std::max<int64_t>(wait.count(), 10);
    const natsStatus s = natsSubscription_Fetch(&list, sub_, static_cast<int>(max), timeout, &jerr);
    if (s == NATS_TIMEOUT) return out;
    if (s != NATS_OK) return Unavailable("fetch", s, jerr);
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* msg = list.Msgs[i];
      list.Msgs[i] = nullptr;
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) {
        natsMsg_Destroy(msg);
        continue;
      }
      const uint64_t seq = meta->Sequence.Stream;
      const auto count = static_cast<uint32_t>(meta->NumDelivered);
      out.push_back(broker::CursorDelivery{ToRecord(msg, seq, meta->Timestamp), count,
                                           count >= options_.max_deliver});
      jsMsgMetaData_Destroy(meta);
      if (auto it = outstanding_.find(seq); it != outstanding_.end()) natsMsg_Destroy(it->second);
      outstanding_[seq] = msg;
    }
    natsMsgList_Destroy(&list);
    return out;
  }

  base::Status Ack(uint64_t seq) override {
    auto it = outstanding_.find(seq);
    if (it == outstanding_.end()) return NotDelivered(seq);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = conn_->options.request_timeout.count();
    jsErrCode jerr{};
    // Synchronous: returns once the (replicated) consumer recorded the ack.
    const natsStatus s = natsMsg_AckSync(it->second, &jo, &jerr);
    if (s != NATS_OK) return Unavailable("ack", s, jerr);
    natsMsg_Destroy(it->second);
    outstanding_.erase(it);
    return base::Ok();
  }

  base::Status Nak(uint64_t seq) override {
    auto it = outstanding_.find(seq);
    if (it == outstanding_.end()) return NotDelivered(seq);
    const natsStatus s = natsMsg_Nak(it->second, nullptr);
    natsMsg_Destroy(it->second);
    outstanding_.erase(it);
    if (s != NATS_OK) return Unavailable("nak", s, {});
    return base::Ok();
  }

  std::vector<uint64_t> Exhausted() override {
    std::lock_guard lock(mu_);
    return exhausted_;
  }

 private:
  static base::Error NotDelivered(uint64_t seq) {
    return base::NotFound("not_delivered", "seq " + std::to_string(seq) + " is not pending");
  }

  // {"type":"io.nats.jetstream.advisory.v1.max_deliver",...,"stream_seq":12,"deliveries":3}
  static void OnAdvisory(natsConnection*, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<JetStreamCursor*>(closure);
    const std::string body(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
    natsMsg_Destroy(msg);
    const std::string key = "\"stream_seq\":";
    const size_t at = body.find(key);
    if (at == std::string::npos) return;
    const uint64_t seq = std::strtoull(body.c_str() + at + key.size(), nullptr, 10);
    std::lock_guard lock(self->mu_);
    self->exhausted_.push_back(seq);
  }

  Conn* conn_;
  broker::CursorOptions options_;
  natsSubscription* sub_ = nullptr;
  natsSubscription* advisories_ = nullptr;
  std::map<uint64_t, natsMsg*> outstanding_;  // latest delivery of each unsettled seq
  std::mutex mu_;                             // guards exhausted_ (advisory callback thread)
  std::vector<uint64_t> exhausted_;
};

}  // namespace

base::Result<std::unique_ptr<broker::LogCursor>> OpenCursor(Conn* conn,
                                                            const broker::CursorOptions& options) {
  RELAIS_RETURN_IF_ERROR(broker::ValidateCursorOptions(options));
  auto cursor = std::make_unique<JetStreamCursor>(conn, options);
  RELAIS_RETURN_IF_ERROR(cursor->Start());
  return std::unique_ptr<broker::LogCursor>(std::move(cursor));
}

}  // namespace relais::jetstream::internal
