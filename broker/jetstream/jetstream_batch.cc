#include <utility>

#include "broker/jetstream/jetstream_internal.h"

namespace relais::jetstream::internal {

base::Result<std::unique_ptr<BatchPublisher>> BatchPublisher::Create(Conn* conn) {
  std::unique_ptr<BatchPublisher> p(new BatchPublisher(conn));
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = conn->options.request_timeout.count();
  jo.PublishAsync.AckHandler = &BatchPublisher::OnAck;
  jo.PublishAsync.AckHandlerClosure = p.get();
  if (natsConnection_JetStream(&p->js_, conn->nc, &jo) != NATS_OK) {
    return base::FailStop("stream_failed", "jetstream context for batches");
  }
  return p;
}

BatchPublisher::~BatchPublisher() {
  if (js_ != nullptr) jsCtx_Destroy(js_);
}

void BatchPublisher::OnAck(jsCtx* /*js*/, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae,
                           void* closure) {
  auto* self = static_cast<BatchPublisher*>(closure);
  const char* id = nullptr;
  if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) != NATS_OK) id = nullptr;
  {
    std::lock_guard lock(self->mu_);
    auto it = id != nullptr && self->active_ ? self->pending_.find(id) : self->pending_.end();
    if (it != self->pending_.end() && !it->second.empty()) {
      const size_t index = it->second.front();
      it->second.pop_front();
      if (pa != nullptr && pae == nullptr) {
        (*self->results_)[index] = broker::AppendResult{pa->Sequence, pa->Duplicate};
      } else {
        self->failed_ = true;  // lost ack (MaxWait), no responders, election: resent by the caller
      }
      ++self->responded_;
    }
  }
  self->cv_.notify_all();
  natsMsg_Destroy(msg);
}

void BatchPublisher::Publish(const std::vector<broker::LogMessage>& msgs, size_t from,
                             std::vector<std::optional<broker::AppendResult>>& results) {
  {
    std::lock_guard lock(mu_);
    active_ = true;
    pending_.clear();
    results_ = &results;
    responded_ = 0;
    failed_ = false;
  }
  size_t sent = 0;
  for (size_t i = from; i < msgs.size(); ++i) {
    const broker::LogMessage& m = msgs[i];
    {
      std::lock_guard lock(mu_);
      if (failed_) break;           // stop pipelining: the rest is resent one at a time, in order
      pending_[m.id].push_back(i);  // before publishing: the ack may come back first
    }
    natsMsg* msg = nullptr;
    natsStatus s = natsMsg_Create(&msg, m.subject.c_str(), nullptr,
                                  reinterpret_cast<const char*>(m.data.data()),
                                  static_cast<int>(m.data.size()));
    if (s == NATS_OK) {
      for (const auto& [name, value] : m.headers) {
        natsMsgHeader_Add(msg, name.c_str(), value.c_str());
      }
      jsPubOptions po;
      jsPubOptions_Init(&po);
      po.MsgId = m.id.c_str();
      po.MaxWait = conn_->options.request_timeout.count();  // else a lost ack never times out
      // Chained: stored only right after the previous message of the batch, so nothing after a
      // failed message can be stored before it is.
      if (i > from) po.ExpectLastMsgId = msgs[i - 1].id.c_str();
      s = js_PublishMsgAsync(js_, &msg, &po);
    }
    natsMsg_Destroy(msg);  // no-op when the library took it
    if (s != NATS_OK) {
      std::lock_guard lock(mu_);
      pending_[m.id].pop_back();
      break;
    }
    ++sent;
  }
  // Every sent message gets its ack or its MaxWait timeout; the margin covers a slow handler.
  const auto deadline = std::chrono::steady_clock::now() + 2 * conn_->options.request_timeout +
                        std::chrono::seconds(1);
  std::unique_lock lock(mu_);
  cv_.wait_until(lock, deadline, [&] { return responded_ >= sent; });
  active_ = false;
  pending_.clear();
  results_ = nullptr;
}

}  // namespace relais::jetstream::internal
