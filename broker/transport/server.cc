#include "broker/transport/server.h"

#include <sys/socket.h>

#include <map>
#include <mutex>
#include <zmq.hpp>

namespace relais::transport {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char* kZapDomain = "relais";

// RFC 27 (ZAP): answers each request from the ROUTER socket's security handshake.
void RunZapHandler(zmq::socket_t& zap, const KeyAuthorizer& authorizer,
                   const std::atomic<bool>& stop, TransportStats& stats) {
  while (!stop.load()) {
    zmq::pollitem_t item{zap.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) <= 0) continue;
    std::vector<zmq::message_t> request;
    while (true) {
      zmq::message_t part;
      if (!zap.recv(part, zmq::recv_flags::dontwait)) break;
      bool more = part.more();
      request.push_back(std::move(part));
      if (!more) break;
    }
    // version, request id, domain, address, identity, mechanism, credentials...
    std::string status = "400";
    std::string status_text = "refused";
    std::string user_id;
    if (request.size() >= 7 && request[0].to_string_view() == "1.0" &&
        request[5].to_string_view() == "CURVE" && request[6].size() == 32) {
      auto agency = authorizer(
          base::ByteView(static_cast<const uint8_t*>(request[6].data()), request[6].size()));
      if (agency) {
        status = "200";
        status_text = "OK";
        user_id = *agency;
      }
    }
    (status == "200" ? stats.zap_accepted : stats.zap_refused).fetch_add(1);
    std::string request_id = request.size() > 1 ? request[1].to_string() : std::string();
    zap.send(zmq::buffer(std::string_view("1.0")), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(request_id), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(status), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(status_text), zmq::send_flags::sndmore);
    zap.send(zmq::buffer(user_id), zmq::send_flags::sndmore);
    zap.send(zmq::message_t(), zmq::send_flags::none);  // metadata: none
  }
}

}  // namespace

struct Server::Impl {
  zmq::context_t context{1};
  zmq::socket_t zap{context, zmq::socket_type::rep};
  zmq::socket_t router{context, zmq::socket_type::router};
  std::thread zap_thread;
  std::atomic<bool> stop{false};
  std::atomic<bool> zap_alive{true};
  TransportStats stats;
  std::map<std::string, int> peer_fds;

  ~Impl() {
    stop.store(true);
    if (zap_thread.joinable()) zap_thread.join();
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() = default;

base::Result<std::unique_ptr<Server>> Server::Create(const ServerOptions& options,
                                                     KeyAuthorizer authorizer) {
  if (options.curve_secret == nullptr || options.curve_secret->Size() != 32 ||
      options.curve_public.size() != 32) {
    return base::InvalidInput("bad_key", "the broker's CURVE key pair must be 32-byte keys");
  }
  auto impl = std::make_unique<Impl>();
  try {
    // The ZAP handler must be bound before the CURVE server socket binds.
    impl->zap.bind(kZapEndpoint);
    impl->zap_thread = std::thread([raw = impl.get(), authorizer = std::move(authorizer)] {
      try {
        RunZapHandler(raw->zap, authorizer, raw->stop, raw->stats);
      } catch (const zmq::error_t&) {
        // Context terminated or socket failure: the broker sees zap_alive == false.
      }
      raw->zap_alive.store(false);
    });
    zmq::socket_t& r = impl->router;
    r.set(zmq::sockopt::curve_server, 1);
    r.set(zmq::sockopt::curve_secretkey,
          zmq::const_buffer(options.curve_secret->Data(), options.curve_secret->Size()));
    r.set(zmq::sockopt::zap_domain, kZapDomain);
    r.set(zmq::sockopt::router_mandatory, 1);
    r.set(zmq::sockopt::heartbeat_ivl, options.heartbeat_ivl_ms);
    r.set(zmq::sockopt::heartbeat_timeout, options.heartbeat_timeout_ms);
    r.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(options.max_message_bytes));
    r.set(zmq::sockopt::sndhwm, options.send_hwm);
    r.set(zmq::sockopt::rcvhwm, options.send_hwm);
    r.set(zmq::sockopt::linger, 2000);
    for (const auto& network : options.allow_from) {
      // A deprecated option of libzmq 4.3 (no cppzmq sockopt): the C API.
      if (network.empty() ||
          zmq_setsockopt(r.handle(), ZMQ_TCP_ACCEPT_FILTER, network.data(), network.size()) != 0) {
        return base::InvalidInput("bad_allow_from",
                                  "allow-from '" + network + "' is not an IP address or CIDR");
      }
    }
    r.bind(options.endpoint);
  } catch (const zmq::error_t& e) {
    return base::InvalidInput("bad_endpoint", "cannot bind " + options.endpoint + ": " + e.what());
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

base::Result<std::vector<Inbound>> Server::Poll(int timeout_ms, const std::vector<int>& wake_fds,
                                                size_t max_batch) {
  std::vector<zmq::pollitem_t> items;
  items.push_back({impl_->router.handle(), 0, ZMQ_POLLIN, 0});
  for (int fd : wake_fds) items.push_back({nullptr, fd, ZMQ_POLLIN, 0});
  std::vector<Inbound> out;
  try {
    zmq::poll(items.data(), items.size(), std::chrono::milliseconds(timeout_ms));
    while (out.size() < max_batch) {
      zmq::message_t id;
      if (!impl_->router.recv(id, zmq::recv_flags::dontwait)) break;
      std::vector<zmq::message_t> parts;
      while (true) {
        zmq::message_t part;
        (void)impl_->router.recv(part, zmq::recv_flags::none);
        bool more = part.more();
        parts.push_back(std::move(part));
        if (!more) break;
      }
      if (parts.size() != 1) {
        impl_->stats.multipart_refused.fetch_add(1);
        continue;
      }
      zmq::message_t& payload = parts[0];
      Inbound in;
      in.peer = id.to_string();
      const char* user = zmq_msg_gets(payload.handle(), "User-Id");
      if (user == nullptr || *user == '\0') continue;  // not authenticated: never serve
      in.agency_id = user;
      int fd = zmq_msg_get(payload.handle(), ZMQ_SRCFD);
      if (fd >= 0) impl_->peer_fds[in.peer] = fd;
      const auto* data = static_cast<const uint8_t*>(payload.data());
      in.payload.assign(data, data + payload.size());
      impl_->stats.frames_in.fetch_add(1);
      out.push_back(std::move(in));
    }
  } catch (const zmq::error_t& e) {
    return base::FailStop("transport_failed", std::string("ROUTER socket failed: ") + e.what());
  }
  return out;
}

base::Status Server::Send(const std::string& peer, base::ByteView payload) {
  try {
    if (!impl_->router.send(zmq::buffer(peer),
                            zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return base::RetryLater("peer_busy", "the connection's send queue is full");
    }
    impl_->router.send(zmq::buffer(payload.data(), payload.size()), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) {
      impl_->peer_fds.erase(peer);
      return base::NotFound("peer_gone", "the connection is closed");
    }
    return base::RetryLater("send_failed", e.what());
  }
  impl_->stats.frames_out.fetch_add(1);
  return base::Ok();
}

void Server::Cut(const std::string& peer) {
  auto it = impl_->peer_fds.find(peer);
  if (it == impl_->peer_fds.end()) return;
  // Shutting the socket down (not closing it: libzmq owns the descriptor) makes libzmq's engine
  // see an error and tear the connection down; a reconnect must pass ZAP again.
  ::shutdown(it->second, SHUT_RDWR);
  impl_->peer_fds.erase(it);
}

std::string Server::BoundEndpoint() const { return impl_->router.get(zmq::sockopt::last_endpoint); }

const TransportStats& Server::Stats() const { return impl_->stats; }

bool Server::ZapHandlerAlive() const { return impl_->zap_alive.load(); }

}  // namespace relais::transport
