#include "broker/transport/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <zmq.hpp>

#include "base/log.h"
#include "broker/transport/listen_filter.h"

namespace relais::transport {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr const char* kZapDomain = "relais";
constexpr const char* kMonitorEndpoint = "inproc://relais.listener.events";
constexpr int kBacklog = 100;  // ZeroMQ's default

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The kernel filter of the broker's own listener (listen_filter.h): allowed networks and bans.
class ListenGuard {
 public:
  ListenGuard(int fd, std::vector<Ipv4Network> networks, const ServerOptions& options,
              TransportStats& stats)
      : fd_(fd),
        networks_(std::move(networks)),
        bans_(fd >= 0 ? options.ban_connections : 0, options.ban_window_ms, options.ban_ms),
        stats_(stats) {}

  // ZAP thread: the listener accepted connection `fd` (a monitor event; the connection may be
  // closed already, then it is not counted).
  void Accepted(int fd) {
    sockaddr_in peer{};
    socklen_t len = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0 ||
        peer.sin_family != AF_INET) {
      return;
    }
    const uint32_t ip = ntohl(peer.sin_addr.s_addr);
    if (!bans_.Counted(ip, NowMs())) return;
    stats_.sources_banned.fetch_add(1);
    base::LogWarn("source_banned", {{"address", FormatIpv4(ip)}});
    Apply();
  }
  bool bans_enabled() const { return bans_.enabled(); }
  // ZAP thread, now and then: lifts the bans that expired.
  void Tick() {
    if (bans_.enabled() && bans_.Expire(NowMs())) {
      base::LogInfo("source_ban_lifted", {{"banned_now", static_cast<uint64_t>(Apply())}});
    }
  }

 private:
  size_t Apply() {
    const std::vector<uint32_t> banned = bans_.Banned();
    stats_.banned_now.store(banned.size());
    if (auto st = AttachListenFilter(fd_, networks_, banned); !st) {
      base::LogError("listen_filter_failed", {{"code", st.error().code}});
    }
    return banned.size();
  }

  const int fd_;
  const std::vector<Ipv4Network> networks_;
  BanList bans_;
  TransportStats& stats_;
};

// The ROUTER's monitor events (only ZMQ_EVENT_ACCEPTED is asked for): counted per source.
void DrainMonitor(zmq::socket_t& monitor, ListenGuard& guard) {
  while (true) {
    zmq::message_t event;
    if (!monitor.recv(event, zmq::recv_flags::dontwait)) return;
    const bool more = event.more();
    if (more) {
      zmq::message_t endpoint;
      (void)monitor.recv(endpoint, zmq::recv_flags::none);
    }
    if (event.size() < 6) continue;
    uint16_t id;
    uint32_t value;
    std::memcpy(&id, event.data(), sizeof id);
    std::memcpy(&value, static_cast<const char*>(event.data()) + 2, sizeof value);
    if (id == ZMQ_EVENT_ACCEPTED) guard.Accepted(static_cast<int>(value));
  }
}

// RFC 27 (ZAP): answers each request from the ROUTER socket's security handshake. Also counts
// the listener's accepted connections per source for the bans (ListenGuard).
void RunZapHandler(zmq::socket_t& zap, zmq::socket_t* monitor, const KeyAuthorizer& authorizer,
                   const std::atomic<bool>& stop, TransportStats& stats, ListenGuard& guard) {
  while (!stop.load()) {
    guard.Tick();
    zmq::pollitem_t items[2] = {
        {zap.handle(), 0, ZMQ_POLLIN, 0},
        {monitor != nullptr ? monitor->handle() : nullptr, 0, ZMQ_POLLIN, 0}};
    if (zmq::poll(items, monitor != nullptr ? 2 : 1, std::chrono::milliseconds(100)) <= 0) {
      continue;
    }
    if (monitor != nullptr && (items[1].revents & ZMQ_POLLIN) != 0) DrainMonitor(*monitor, guard);
    if ((items[0].revents & ZMQ_POLLIN) == 0) continue;
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
  std::unique_ptr<ListenGuard> guard;
  std::unique_ptr<zmq::socket_t> monitor;  // ROUTER events, when bans are enabled
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
  // The broker's own listener when the endpoint is IPv4 (listen_filter.h); ZeroMQ's otherwise.
  std::string why_not;
  auto listener = OpenFilteredListener(options.endpoint, options.allow_from, kBacklog, &why_not);
  if (!listener) return std::move(listener).error();
  std::vector<Ipv4Network> networks;
  for (const auto& text : options.allow_from) {
    if (auto n = ParseIpv4Network(text)) networks.push_back(*n);
  }
  impl->guard = std::make_unique<ListenGuard>(listener->value_or(-1), std::move(networks), options,
                                              impl->stats);
  // Until ZeroMQ owns it, the listener is closed on every way out.
  std::unique_ptr<int, void (*)(int*)> unowned(*listener ? &**listener : nullptr,
                                               [](int* fd) { close(*fd); });
  try {
    // The ZAP handler must be bound before the CURVE server socket binds.
    impl->zap.bind(kZapEndpoint);
    if (impl->guard->bans_enabled()) {
      if (zmq_socket_monitor(impl->router.handle(), kMonitorEndpoint, ZMQ_EVENT_ACCEPTED) != 0) {
        throw zmq::error_t();
      }
      impl->monitor = std::make_unique<zmq::socket_t>(impl->context, zmq::socket_type::pair);
      impl->monitor->connect(kMonitorEndpoint);
    }
    impl->zap_thread = std::thread([raw = impl.get(), authorizer = std::move(authorizer)] {
      try {
        RunZapHandler(raw->zap, raw->monitor.get(), authorizer, raw->stop, raw->stats, *raw->guard);
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
    if (*listener) {
      r.set(zmq::sockopt::use_fd, **listener);
      (void)unowned.release();  // ZeroMQ closes it with the socket
    } else {
      // No bans; ZeroMQ's accept filter closes sources outside allow-from after the handshake.
      base::LogWarn("listen_filter_off", {{"reason", why_not}});
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
      zmq::message_t payload;
      (void)impl_->router.recv(payload, zmq::recv_flags::none);
      if (payload.more()) {  // several parts: read them all, serve none
        zmq::message_t rest;
        do {
          (void)impl_->router.recv(rest, zmq::recv_flags::none);
        } while (rest.more());
        impl_->stats.multipart_refused.fetch_add(1);
        continue;
      }
      const char* user = zmq_msg_gets(payload.handle(), "User-Id");
      if (user == nullptr || *user == '\0') continue;  // not authenticated: never serve
      if (out.empty()) out.reserve(std::min<size_t>(max_batch, 256));
      Inbound& in = out.emplace_back();
      in.peer = id.to_string();
      in.agency_id = user;
      int fd = zmq_msg_get(payload.handle(), ZMQ_SRCFD);
      if (fd >= 0) impl_->peer_fds[in.peer] = fd;
      const auto* data = static_cast<const uint8_t*>(payload.data());
      in.payload.assign(data, data + payload.size());
      impl_->stats.frames_in.fetch_add(1);
    }
  } catch (const zmq::error_t& e) {
    return base::FailStop("transport_failed", std::string("ROUTER socket failed: ") + e.what());
  }
  return out;
}

namespace {

// Sends `message` to connection `peer` (both parts without blocking).
base::Status SendMessage(Server::Impl& impl, const std::string& peer, zmq::message_t message) {
  try {
    if (!impl.router.send(zmq::buffer(peer),
                          zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return base::RetryLater("peer_busy", "the connection's send queue is full");
    }
    impl.router.send(message, zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    if (e.num() == EHOSTUNREACH) {
      impl.peer_fds.erase(peer);
      return base::NotFound("peer_gone", "the connection is closed");
    }
    return base::RetryLater("send_failed", e.what());
  }
  impl.stats.frames_out.fetch_add(1);
  return base::Ok();
}

}  // namespace

base::Status Server::Send(const std::string& peer, base::ByteView payload) {
  return SendMessage(*impl_, peer, zmq::message_t(payload.data(), payload.size()));
}

base::Status Server::Send(const std::string& peer, base::SharedBytes payload) {
  // The message points into the shared bytes; ZeroMQ's I/O thread drops this reference once it
  // has encrypted them (or at once if the message is not sent).
  auto* held = new base::SharedBytes(std::move(payload));
  zmq::message_t message(
      const_cast<uint8_t*>((*held)->data()), (*held)->size(),
      [](void*, void* hint) { delete static_cast<base::SharedBytes*>(hint); }, held);
  return SendMessage(*impl_, peer, std::move(message));
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
