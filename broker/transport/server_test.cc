#include "broker/transport/server.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <zmq.hpp>

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

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    server_keys_ = NewCurvePair();
    server_secret_ = crypto::Secret::Copy(server_keys_.sec);
    alice_ = NewCurvePair();
    ServerOptions options;
    options.endpoint = "tcp://127.0.0.1:*";
    options.curve_public = server_keys_.pub;
    options.curve_secret = &server_secret_;
    auto server = Server::Create(options, [this](base::ByteView key) -> std::optional<std::string> {
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
  ServerOptions options;
  options.endpoint = "tcp://127.0.0.1:*";
  options.curve_public = server_keys_.pub;
  options.curve_secret = &server_secret_;
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

  options.allow_from = {"not-an-address"};
  auto bad = Server::Create(options, [](base::ByteView) { return std::nullopt; });
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "bad_allow_from");
}

}  // namespace
}  // namespace relais::transport
