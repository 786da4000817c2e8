#include "adapters/sdk/client_session.h"

#include <cstring>
#include <utility>

namespace relais::sdk::internal {

namespace {

constexpr int kMonitoredEvents = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                                 ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_DISCONNECTED |
                                 ZMQ_EVENT_CONNECT_RETRIED;

}  // namespace

Connection::Connection(zmq::context_t& context, std::string endpoint)
    : endpoint_(std::move(endpoint)),
      dealer_(context, zmq::socket_type::dealer),
      monitor_(context, zmq::socket_type::pair) {}

base::Result<std::unique_ptr<Connection>> Connection::Open(zmq::context_t& context,
                                                           const ConnectionOptions& options) {
  if (options.identity == nullptr || options.identity->pub.curve_public.size() != 32 ||
      options.identity->curve_secret.Size() != 32 || options.broker_curve_public.size() != 32) {
    return base::InvalidInput("bad_key",
                              "the agency's CURVE key pair and the broker's CURVE public key must "
                              "be 32-byte keys");
  }
  std::unique_ptr<Connection> c;
  try {
    c.reset(new Connection(context, options.endpoint));
    zmq::socket_t& s = c->dealer_;
    const crypto::AgencyIdentity& id = *options.identity;
    s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(options.broker_curve_public.data(), 32));
    s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(id.pub.curve_public.data(), 32));
    s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(id.curve_secret.Data(), 32));
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::reconnect_ivl, 100);
    s.set(zmq::sockopt::reconnect_ivl_max, 5000);
    s.set(zmq::sockopt::heartbeat_ivl, options.heartbeat_ivl_ms);
    s.set(zmq::sockopt::heartbeat_timeout, options.heartbeat_timeout_ms);
    s.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options.max_frame_bytes));
    // Credit and the publish window bound what is queued; never drop at a high-water mark.
    s.set(zmq::sockopt::sndhwm, 0);
    s.set(zmq::sockopt::rcvhwm, 0);
    if (zmq_socket_monitor(s.handle(), options.monitor_address.c_str(), kMonitoredEvents) == 0) {
      c->monitor_.connect(options.monitor_address);
      c->monitoring_ = true;
    }
  } catch (const zmq::error_t& e) {
    return base::InvalidInput("bad_key",
                              std::string("cannot set up the client socket: ") + e.what());
  }
  try {
    c->dealer_.connect(options.endpoint);
  } catch (const zmq::error_t& e) {
    return base::InvalidInput("bad_endpoint",
                              "cannot connect to " + options.endpoint + ": " + e.what());
  }
  return c;
}

Connection::~Connection() {
  try {
    if (monitoring_) zmq_socket_monitor(dealer_.handle(), nullptr, 0);
    monitor_.close();
    dealer_.close();
  } catch (const zmq::error_t&) {
    // Closing cannot usefully fail; the context reclaims what is left.
  }
}

bool Connection::Send(base::ByteView payload) {
  try {
    return dealer_
        .send(zmq::const_buffer(payload.data(), payload.size()), zmq::send_flags::dontwait)
        .has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

void Connection::Wait(std::chrono::milliseconds timeout) {
  zmq::pollitem_t items[] = {{dealer_.handle(), 0, ZMQ_POLLIN, 0},
                             {monitor_.handle(), 0, ZMQ_POLLIN, 0}};
  try {
    zmq::poll(items, monitoring_ ? 2 : 1, timeout);
  } catch (const zmq::error_t&) {
    // EINTR: the caller loops with its own deadline.
  }
}

std::optional<base::Bytes> Connection::Receive() {
  try {
    while (true) {
      zmq::message_t msg;
      if (!dealer_.recv(msg, zmq::recv_flags::dontwait)) return std::nullopt;
      if (!msg.more()) {
        const auto* data = static_cast<const uint8_t*>(msg.data());
        return base::Bytes(data, data + msg.size());
      }
      // Multi-part: not a relais frame. Drain the remaining parts and drop it.
      while (msg.more()) {
        if (!dealer_.recv(msg, zmq::recv_flags::none)) break;
      }
    }
  } catch (const zmq::error_t&) {
    return std::nullopt;
  }
}

std::vector<MonitorEvent> Connection::TakeEvents() {
  std::vector<MonitorEvent> events;
  if (!monitoring_) return events;
  try {
    while (true) {
      zmq::message_t head;
      if (!monitor_.recv(head, zmq::recv_flags::dontwait)) break;
      zmq::message_t address;
      if (head.more()) (void)monitor_.recv(address, zmq::recv_flags::none);
      if (head.size() < 6) continue;
      uint16_t id = 0;
      uint32_t value = 0;
      std::memcpy(&id, head.data(), sizeof id);
      std::memcpy(&value, static_cast<const uint8_t*>(head.data()) + 2, sizeof value);
      switch (id) {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
          events.push_back({ConnectionEvent::kHandshakeSucceeded, value});
          break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
          events.push_back({ConnectionEvent::kHandshakeRefused, value});
          break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
          events.push_back({ConnectionEvent::kHandshakeFailed, value});
          break;
        case ZMQ_EVENT_DISCONNECTED:
          events.push_back({ConnectionEvent::kDisconnected, value});
          break;
        case ZMQ_EVENT_CONNECT_RETRIED:
          events.push_back({ConnectionEvent::kConnectRetried, value});
          break;
        default:
          break;
      }
    }
  } catch (const zmq::error_t&) {
    // A failed monitor only costs diagnostics; the protocol's heartbeats still detect silence.
  }
  return events;
}

void Connection::SetLinger(std::chrono::milliseconds linger) {
  try {
    dealer_.set(zmq::sockopt::linger, static_cast<int>(linger.count()));
  } catch (const zmq::error_t&) {
  }
}

}  // namespace relais::sdk::internal
