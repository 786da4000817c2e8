#include "broker/transport/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "broker/transport/listen_filter.h"
#include "crypto/secret.h"

namespace relais::transport {
namespace {

struct CurvePair {
  base::Bytes pub = base::Bytes(32);
  base::Bytes sec = base::Bytes(32);
};

CurvePair NewCurvePair() {
  char pub_z85[41], sec_z85[41];
  EXPECT_EQ(zmq_curve_keypair(pub_z85, sec_z85), 0);
  CurvePair p;
  zmq_z85_decode(p.pub.data(), pub_z85);
  zmq_z85_decode(p.sec.data(), sec_z85);
  return p;
}

// Whether a plain TCP connection from `source` to the port of `bound` ("tcp://HOST:PORT")
// completes its handshake within `ms`. With `keep`, the connection stays open in it.
bool TcpHandshakeCompletes(const std::string& source, const std::string& bound, int ms,
                           std::vector<int>* keep = nullptr) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &from.sin_addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from), 0);
  const size_t colon = bound.rfind(':');
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(std::stoi(bound.substr(colon + 1))));
  inet_pton(AF_INET, bound.substr(6, colon - 6).c_str(), &to.sin_addr);
  (void)connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  pollfd p{fd, POLLOUT, 0};
  int error = -1;
  socklen_t len = sizeof error;
  if (poll(&p, 1, ms) == 1) getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
  if (keep != nullptr) {
    keep->push_back(fd);
  } else {
    close(fd);
  }
  return error == 0;
}

TEST(ListenFilter, ParsesIpv4NetworksOnly) {
  auto n = ParseIpv4Network("10.1.2.3/16");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->address, 0x0a010000u);
  EXPECT_EQ(n->mask, 0xffff0000u);
  EXPECT_TRUE(n->Contains(0x0a01ff07u));
  EXPECT_FALSE(n->Contains(0x0a02ff07u));
  EXPECT_EQ(ParseIpv4Network("192.0.2.7")->mask, 0xffffffffu);
  EXPECT_EQ(ParseIpv4Network("0.0.0.0/0")->mask, 0u);
  EXPECT_FALSE(ParseIpv4Network("10.0.0.0/33"));
  EXPECT_FALSE(ParseIpv4Network("10.0.0.0/"));
  EXPECT_FALSE(ParseIpv4Network("::1/128"));
  EXPECT_FALSE(ParseIpv4Network("partner.example"));
}

class TransportTest : public ::testing::Test {
 protected:
  // A server's options with this fixture's keys.
  ServerOptions Options(const std::string& endpoint) const {
    ServerOptions options;
    options.endpoint = endpoint;
    options.curve_public = server_keys_.pub;
    options.curve_secret = &server_secret_;
    return options;
  }

  void SetUp() override {
    crypto::Init();
    server_keys_ = NewCurvePair();
    server_secret_ = crypto::Secret::Copy(server_keys_.sec);
    alice_ = NewCurvePair();
    auto server = Server::Create(Options("tcp://127.0.0.1:*"),
                                 [this](base::ByteView key) -> std::optional<std::string> {
                                   std::lock_guard lock(mu_);
                                   base::Bytes k(key.begin(), key.end());
                                   if (k == alice_.pub && !alice_revoked_) return "alice";
                                   return std::nullopt;
                                 });
    ASSERT_TRUE(server) << server.error().ToString();
    server_ = std::move(server).value();
  }

  zmq::socket_t Connect(const CurvePair& client) {
    zmq::socket_t s(ctx_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_keys_.pub.data(), 32));
    s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(client.pub.data(), 32));
    s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(client.sec.data(), 32));
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::reconnect_ivl, 50);
    s.connect(server_->BoundEndpoint());
    return s;
  }

  // Polls the server until `n` frames arrived or `ms` elapsed.
  std::vector<Inbound> Receive(size_t n, int ms) {
    std::vector<Inbound> got;
    for (int waited = 0; waited < ms && got.size() < n; waited += 20) {
      auto batch = server_->Poll(20, {});
      EXPECT_TRUE(batch);
      for (auto& in : *batch) got.push_back(std::move(in));
    }
    return got;
  }

  zmq::context_t ctx_;
  CurvePair server_keys_;
  crypto::Secret server_secret_;
  CurvePair alice_;
  std::mutex mu_;
  bool alice_revoked_ = false;
  std::unique_ptr<Server> server_;
};

TEST_F(TransportTest, AdmitsRegisteredKeyAndAttachesAgencyId) {
  zmq::socket_t client = Connect(alice_);
  client.send(zmq::buffer(std::string_view("hello")), zmq::send_flags::none);
  auto got = Receive(1, 3000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].agency_id, "alice");
  EXPECT_EQ(base::ToString(got[0].payload), "hello");
  ASSERT_TRUE(server_->Send(got[0].peer, base::AsBytes("welcome")));
  zmq::message_t reply;
  client.set(zmq::sockopt::rcvtimeo, 3000);
  ASSERT_TRUE(client.recv(reply));
  EXPECT_EQ(reply.to_string(), "welcome");
  EXPECT_EQ(server_->Stats().zap_accepted.load(), 1u);
}

TEST_F(TransportTest, UnknownKeyGetsNothingAndNothingIsReceived) {
  CurvePair mallory = NewCurvePair();
  zmq::socket_t client = Connect(mallory);
  client.send(zmq::buffer(std::string_view("let me in")), zmq::send_flags::dontwait);
  EXPECT_TRUE(Receive(1, 800).empty());
  EXPECT_GE(server_->Stats().zap_refused.load(), 1u);
  client.set(zmq::sockopt::rcvtimeo, 200);
  zmq::message_t reply;
  EXPECT_FALSE(client.recv(reply));
}

TEST_F(TransportTest, ClientWithoutCurveIsNeverServed) {
  zmq::socket_t plain(ctx_, zmq::socket_type::dealer);
  plain.set(zmq::sockopt::linger, 0);
  plain.connect(server_->BoundEndpoint());
  plain.send(zmq::buffer(std::string_view("plain")), zmq::send_flags::dontwait);
  EXPECT_TRUE(Receive(1, 500).empty());
}

TEST_F(TransportTest, SendToUnknownPeerIsPeerGone) {
  auto st = server_->Send("no-such-peer", base::AsBytes("x"));
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "peer_gone");
}

TEST_F(TransportTest, MultipartFramesAreRefused) {
  zmq::socket_t client = Connect(alice_);
  client.send(zmq::buffer(std::string_view("a")), zmq::send_flags::sndmore);
  client.send(zmq::buffer(std::string_view("b")), zmq::send_flags::none);
  client.send(zmq::buffer(std::string_view("single")), zmq::send_flags::none);
  auto got = Receive(1, 3000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(base::ToString(got[0].payload), "single");
  EXPECT_EQ(server_->Stats().multipart_refused.load(), 1u);
}

TEST_F(TransportTest, CutConnectionOfRevokedAgencyCannotComeBack) {
  zmq::socket_t client = Connect(alice_);
  client.send(zmq::buffer(std::string_view("one")), zmq::send_flags::none);
  auto got = Receive(1, 3000);
  ASSERT_EQ(got.size(), 1u);
  {
    std::lock_guard lock(mu_);
    alice_revoked_ = true;
  }
  server_->Cut(got[0].peer);
  // The old session is gone: a send to it fails once libzmq has torn it down.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    (void)server_->Poll(20, {});
    gone = !server_->Send(got[0].peer, base::AsBytes("still there?"));
  }
  EXPECT_TRUE(gone);
  client.send(zmq::buffer(std::string_view("two")), zmq::send_flags::dontwait);
  EXPECT_TRUE(Receive(1, 800).empty());
}

// Only the allowed networks reach the handshake: a key the registry knows, connecting from
// 127.0.0.2 while only 127.0.0.1 is allowed, is closed at accept (no ZAP request at all), and a
// bad network is refused at creation.
TEST_F(TransportTest, ConnectionsFromOutsideTheAllowedNetworksAreClosedBeforeTheHandshake) {
  ServerOptions options = Options("tcp://127.0.0.1:*");
  options.allow_from = {"127.0.0.1/32"};
  auto guarded = Server::Create(options, [](base::ByteView) { return std::string("alice"); });
  ASSERT_TRUE(guarded) << guarded.error().ToString();
  auto connect_from = [&](const std::string& source) {
    zmq::socket_t s(ctx_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_keys_.pub.data(), 32));
    s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(alice_.pub.data(), 32));
    s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(alice_.sec.data(), 32));
    s.set(zmq::sockopt::linger, 0);
    const std::string target = (*guarded)->BoundEndpoint().substr(6);
    s.connect(source.empty() ? "tcp://" + target : "tcp://" + source + ":0;" + target);
    s.send(zmq::buffer(std::string_view("hello")), zmq::send_flags::dontwait);
    return s;
  };
  {  // the same connection to the open server (this fixture's) is served: the source works
    zmq::socket_t s(ctx_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_keys_.pub.data(), 32));
    s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(alice_.pub.data(), 32));
    s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(alice_.sec.data(), 32));
    s.set(zmq::sockopt::linger, 0);
    s.connect("tcp://127.0.0.2:0;" + server_->BoundEndpoint().substr(6));
    s.send(zmq::buffer(std::string_view("hello")), zmq::send_flags::dontwait);
    ASSERT_EQ(Receive(1, 3000).size(), 1u) << "a connection from 127.0.0.2 does not work here";
  }
  auto outsider = connect_from("127.0.0.2");
  std::vector<Inbound> got;
  for (int waited = 0; waited < 800; waited += 20) {
    auto batch = (*guarded)->Poll(20, {});
    ASSERT_TRUE(batch);
    for (auto& in : *batch) got.push_back(std::move(in));
  }
  EXPECT_TRUE(got.empty());
  EXPECT_EQ((*guarded)->Stats().zap_accepted.load() + (*guarded)->Stats().zap_refused.load(), 0u);
  auto partner = connect_from("");
  for (int waited = 0; waited < 3000 && got.empty(); waited += 20) {
    auto batch = (*guarded)->Poll(20, {});
    ASSERT_TRUE(batch);
    for (auto& in : *batch) got.push_back(std::move(in));
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].agency_id, "alice");

  // The kernel drops the outsider's connection request: its TCP handshake never completes,
  // while a partner's does (ZeroMQ's accept filter alone would let both complete, then close).
  EXPECT_FALSE(TcpHandshakeCompletes("127.0.0.2", (*guarded)->BoundEndpoint(), 500));
  EXPECT_TRUE(TcpHandshakeCompletes("127.0.0.1", (*guarded)->BoundEndpoint(), 2000));

  options.allow_from = {"not-an-address"};
  auto bad = Server::Create(options, [](base::ByteView) { return std::nullopt; });
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "bad_allow_from");
}

// On an endpoint the kernel filter does not handle (an interface name), ZeroMQ's accept filter
// alone applies: the outsider completes the TCP handshake but is closed before any CURVE work.
TEST_F(TransportTest, OnANamedInterfaceTheAcceptFilterStillClosesOutsiders) {
  ServerOptions options = Options("tcp://lo:*");
  options.allow_from = {"127.0.0.1/32"};
  auto guarded = Server::Create(options, [](base::ByteView) { return std::string("alice"); });
  ASSERT_TRUE(guarded) << guarded.error().ToString();
  EXPECT_TRUE(TcpHandshakeCompletes("127.0.0.2", (*guarded)->BoundEndpoint(), 2000));
  zmq::socket_t s(ctx_, zmq::socket_type::dealer);
  s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(server_keys_.pub.data(), 32));
  s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(alice_.pub.data(), 32));
  s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(alice_.sec.data(), 32));
  s.set(zmq::sockopt::linger, 0);
  s.connect("tcp://127.0.0.2:0;" + (*guarded)->BoundEndpoint().substr(6));
  s.send(zmq::buffer(std::string_view("hello")), zmq::send_flags::dontwait);
  for (int waited = 0; waited < 800; waited += 20) {
    auto batch = (*guarded)->Poll(20, {});
    ASSERT_TRUE(batch);
    EXPECT_TRUE(batch->empty());
  }
  EXPECT_EQ((*guarded)->Stats().zap_accepted.load() + (*guarded)->Stats().zap_refused.load(), 0u);
}

// A source opening connection after connection is banned by the kernel for a while: its TCP
// handshakes stop completing, other sources are served, and the ban is lifted afterwards.
TEST_F(TransportTest, ASourceOpeningConnectionAfterConnectionIsBannedForAWhile) {
  ServerOptions options = Options("tcp://127.0.0.1:*");
  options.ban_connections = 3;
  options.ban_ms = 1500;
  auto guarded = Server::Create(options, [](base::ByteView) { return std::nullopt; });
  ASSERT_TRUE(guarded) << guarded.error().ToString();
  const std::string bound = (*guarded)->BoundEndpoint();
  const TransportStats& stats = (*guarded)->Stats();
  // Held open: a connection already closed when its accept is counted is not counted.
  std::vector<int> open;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(TcpHandshakeCompletes("127.0.0.2", bound, 2000, &open));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(stats.sources_banned.load(), 0u);  // 3 connections: within the limit
  EXPECT_TRUE(TcpHandshakeCompletes("127.0.0.2", bound, 2000, &open));  // the 4th bans
  for (int waited = 0; waited < 3000 && stats.sources_banned.load() == 0; waited += 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(stats.sources_banned.load(), 1u);
  EXPECT_EQ(stats.banned_now.load(), 1u);
  EXPECT_FALSE(TcpHandshakeCompletes("127.0.0.2", bound, 300));
  EXPECT_TRUE(TcpHandshakeCompletes("127.0.0.1", bound, 2000));
  for (int waited = 0; waited < 5000 && stats.banned_now.load() > 0; waited += 20) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(stats.banned_now.load(), 0u);
  EXPECT_TRUE(TcpHandshakeCompletes("127.0.0.2", bound, 2000));
  for (int fd : open) close(fd);
}

TEST(BanList, CountsConnectionsPerSourceWithinTheWindow) {
  BanList bans(2, 1000, 5000);
  EXPECT_FALSE(bans.Counted(1, 0));
  EXPECT_FALSE(bans.Counted(1, 100));
  EXPECT_FALSE(bans.Counted(2, 100));
  EXPECT_FALSE(bans.Counted(1, 1200));  // a new window: 1 connection
  EXPECT_FALSE(bans.Counted(1, 1300));
  EXPECT_TRUE(bans.Counted(1, 1400));   // 3 within the window
  EXPECT_FALSE(bans.Counted(1, 1500));  // already banned
  EXPECT_EQ(bans.Banned(), std::vector<uint32_t>{1});
  EXPECT_FALSE(bans.Expire(6399));
  EXPECT_TRUE(bans.Expire(6400));
  EXPECT_TRUE(bans.Banned().empty());
  BanList off(0, 1000, 5000);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(off.Counted(1, i));
}

// An endpoint the broker cannot listen on is refused with its reason, also with the filter.
TEST_F(TransportTest, AFilteredListenerOnABusyPortIsRefused) {
  ServerOptions options = Options(server_->BoundEndpoint());  // this fixture's server holds it
  options.allow_from = {"127.0.0.1"};
  auto busy = Server::Create(options, [](base::ByteView) { return std::nullopt; });
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, "bad_endpoint");
  EXPECT_NE(busy.error().message.find("bind"), std::string::npos) << busy.error().message;
}

}  // namespace
}  // namespace relais::transport
