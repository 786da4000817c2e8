#include "adapters/sdk/fake_broker.h"

#include <algorithm>
#include <zmq.hpp>

#include "base/check.h"
#include "schema/codec.h"

namespace relais::sdk::testing {

struct FakeBroker::State {
  zmq::context_t context{1};
  zmq::socket_t zap{context, zmq::socket_type::rep};
  zmq::socket_t router{context, zmq::socket_type::router};
  std::set<base::Bytes> admitted;

  mutable std::mutex mu;
  PublishPolicy publish_policy;
  IgnorePolicy ignore_policy;
  bool answer_heartbeats = true;
  std::string refuse_subscriptions;
  bool garbage_before_ack = false;
  std::vector<Received> received;
  std::map<std::string, int> peers;  // routing id -> index
  std::map<base::Bytes, int> times_seen;

  // Delivery: one subscriber, credit-bounded.
  std::optional<std::string> subscriber;
  uint32_t credit = 0;
  std::deque<schema::Deliver> queue;
  std::map<uint64_t, schema::Deliver> outstanding;
  size_t max_outstanding = 0;
  std::set<uint64_t> acked;

  void Send(const std::string& peer, base::ByteView payload) {
    router.send(zmq::buffer(peer), zmq::send_flags::sndmore);
    router.send(zmq::const_buffer(payload.data(), payload.size()), zmq::send_flags::none);
  }
  void SendFrame(const std::string& peer, const schema::Frame& frame) {
    Send(peer, schema::EncodeFrame(frame));
  }

  void PumpDeliveries() {
    if (!subscriber) return;
    while (outstanding.size() < credit && !queue.empty()) {
      schema::Deliver d = std::move(queue.front());
      queue.pop_front();
      SendFrame(*subscriber, d);
      outstanding[d.seq] = std::move(d);
      max_outstanding = std::max(max_outstanding, outstanding.size());
    }
  }

  void HandleZap() {
    std::vector<zmq::message_t> request;
    while (true) {
      zmq::message_t part;
      if (!zap.recv(part, zmq::recv_flags::dontwait)) break;
      bool more = part.more();
      request.push_back(std::move(part));
      if (!more) break;
    }
    bool ok = request.size() >= 7 && request[6].size() == 32 &&
              admitted.contains(base::Bytes(static_cast<const uint8_t*>(request[6].data()),
                                            static_cast<const uint8_t*>(request[6].data()) + 32));
    std::string request_id = request.size() > 1 ? request[1].to_string() : std::string();
    zap.send(zmq::buffer(std::string_view("1.0")), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(std::string_view(ok ? "200" : "400")), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(std::string_view(ok ? "OK" : "refused")), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(std::string_view(ok ? "agency" : "")), zmq::send_flags::sndmore);
    zap.send(zmq::message_t(), zmq::send_flags::none);
  }

  void HandleFrame(const std::string& peer, int index, schema::Frame& frame) {
    if (auto* p = std::get_if<schema::Publish>(&frame)) {
      auto header = schema::DecodeHeader(p->envelope.header);
      RELAIS_CHECK(header.has_value());
      int seen = ++times_seen[header->event_id];
      std::optional<schema::PublishAck> ack;
      if (publish_policy) ack = publish_policy(header->event_id, seen, index);
      if (!ack) return;
      if (garbage_before_ack) {
        garbage_before_ack = false;
        Send(peer, base::AsBytes("not a capnp frame"));
      }
      SendFrame(peer, *ack);
    } else if (std::holds_alternative<schema::Heartbeat>(frame)) {
      if (answer_heartbeats) SendFrame(peer, schema::Heartbeat{1});
    } else if (auto* s = std::get_if<schema::Subscribe>(&frame)) {
      if (!refuse_subscriptions.empty()) {
        SendFrame(peer, schema::ErrorFrame{refuse_subscriptions, "this agency may not receive"});
        return;
      }
      // A new subscription: what was outstanding becomes pending again, oldest first.
      for (auto it = outstanding.rbegin(); it != outstanding.rend(); ++it) {
        queue.push_front(std::move(it->second));
      }
      outstanding.clear();
      subscriber = peer;
      credit = s->credit;
      PumpDeliveries();
    } else if (auto* a = std::get_if<schema::Ack>(&frame)) {
      if (outstanding.erase(a->seq) > 0) acked.insert(a->seq);
      for (uint64_t seq : a->more) {
        if (outstanding.erase(seq) > 0) acked.insert(seq);
      }
      PumpDeliveries();
    } else if (auto* n = std::get_if<schema::Nack>(&frame)) {
      auto it = outstanding.find(n->seq);
      if (it != outstanding.end()) {
        schema::Deliver d = std::move(it->second);
        outstanding.erase(it);
        ++d.attempt;
        queue.push_back(std::move(d));
      }
      PumpDeliveries();
    } else if (auto* r = std::get_if<schema::AdminRequest>(&frame)) {
      schema::AdminReply reply;
      reply.request_id = r->request_id;
      reply.ok = true;
      reply.lines = {"op " + std::to_string(static_cast<int>(r->op))};
      SendFrame(peer, reply);
    }
  }

  void HandleRouter() {
    while (true) {
      zmq::message_t id;
      if (!router.recv(id, zmq::recv_flags::dontwait)) return;
      zmq::message_t payload;
      (void)router.recv(payload, zmq::recv_flags::none);
      std::string peer = id.to_string();
      auto frame = schema::DecodeFrame(
          base::ByteView(static_cast<const uint8_t*>(payload.data()), payload.size()));
      RELAIS_CHECK(frame.has_value());
      std::lock_guard lock(mu);
      auto [it, fresh] = peers.try_emplace(peer, static_cast<int>(peers.size()));
      int index = it->second;
      if (ignore_policy && ignore_policy(index, *frame)) continue;
      received.push_back(Received{index, *frame});
      HandleFrame(peer, index, *frame);
    }
  }
};

FakeBroker::FakeBroker(const crypto::AgencyIdentity& broker,
                       std::vector<const crypto::AgencyIdentity*> admitted, int port)
    : state_(std::make_unique<State>()) {
  for (const auto* a : admitted) state_->admitted.insert(a->pub.curve_public);
  state_->zap.bind("inproc://zeromq.zap.01");
  zmq::socket_t& r = state_->router;
  r.set(zmq::sockopt::curve_server, 1);
  r.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(broker.curve_secret.Data(), 32));
  r.set(zmq::sockopt::zap_domain, "relais");
  r.set(zmq::sockopt::linger, 0);
  r.bind("tcp://127.0.0.1:" + (port == 0 ? std::string("*") : std::to_string(port)));
  endpoint_ = r.get(zmq::sockopt::last_endpoint);
  thread_ = std::thread([this] { Run(); });
}

FakeBroker::~FakeBroker() {
  stop_.store(true);
  thread_.join();
}

int FakeBroker::port() const { return std::stoi(endpoint_.substr(endpoint_.rfind(':') + 1)); }

void FakeBroker::Run() {
  while (!stop_.load()) {
    zmq::pollitem_t items[] = {{state_->router.handle(), 0, ZMQ_POLLIN, 0},
                               {state_->zap.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 2, std::chrono::milliseconds(10));
    if (items[1].revents & ZMQ_POLLIN) state_->HandleZap();
    if (items[0].revents & ZMQ_POLLIN) state_->HandleRouter();
  }
}

void FakeBroker::SetPublishPolicy(PublishPolicy policy) {
  std::lock_guard lock(state_->mu);
  state_->publish_policy = std::move(policy);
}

void FakeBroker::SetIgnorePolicy(IgnorePolicy policy) {
  std::lock_guard lock(state_->mu);
  state_->ignore_policy = std::move(policy);
}

void FakeBroker::SetAnswerHeartbeats(bool answer) {
  std::lock_guard lock(state_->mu);
  state_->answer_heartbeats = answer;
}

void FakeBroker::SetRefuseSubscriptions(std::string code) {
  std::lock_guard lock(state_->mu);
  state_->refuse_subscriptions = std::move(code);
}

void FakeBroker::SendGarbageBeforeNextAck() {
  std::lock_guard lock(state_->mu);
  state_->garbage_before_ack = true;
}

void FakeBroker::QueueDeliveries(std::vector<schema::Deliver> deliveries) {
  std::lock_guard lock(state_->mu);
  for (auto& d : deliveries) state_->queue.push_back(std::move(d));
}

std::vector<FakeBroker::Received> FakeBroker::received() const {
  std::lock_guard lock(state_->mu);
  return state_->received;
}

std::vector<base::Bytes> FakeBroker::PublishedEventIds() const {
  std::vector<base::Bytes> ids;
  for (const auto& r : received()) {
    if (auto* p = std::get_if<schema::Publish>(&r.frame)) {
      ids.push_back(schema::DecodeHeader(p->envelope.header)->event_id);
    }
  }
  return ids;
}

size_t FakeBroker::MaxOutstanding() const {
  std::lock_guard lock(state_->mu);
  return state_->max_outstanding;
}

size_t FakeBroker::Outstanding() const {
  std::lock_guard lock(state_->mu);
  return state_->outstanding.size();
}

int FakeBroker::PeerCount() const {
  std::lock_guard lock(state_->mu);
  return static_cast<int>(state_->peers.size());
}

std::set<uint64_t> FakeBroker::Acked() const {
  std::lock_guard lock(state_->mu);
  return state_->acked;
}

bool FakeBroker::WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace relais::sdk::testing
