#include "tests/security/raw_dealer.h"

#include <vector>
#include <zmq.hpp>

#include "schema/codec.h"

namespace relais::testing {
namespace {

// A fresh CURVE key pair, from libzmq (tests do not include sodium.h: only crypto/ does).
void CurveKeyPair(uint8_t pub[32], uint8_t sec[32]) {
  char pub_z85[41];
  char sec_z85[41];
  zmq_curve_keypair(pub_z85, sec_z85);
  zmq_z85_decode(pub, pub_z85);
  zmq_z85_decode(sec, sec_z85);
}

}  // namespace

struct RawDealer::Impl {
  zmq::context_t ctx;
  zmq::socket_t socket{ctx, zmq::socket_type::dealer};
};

RawDealer::RawDealer(const std::string& endpoint, base::ByteView broker_curve_public,
                     base::ByteView curve_public, base::ByteView curve_secret)
    : impl_(std::make_unique<Impl>()) {
  auto& s = impl_->socket;
  s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(broker_curve_public.data(), 32));
  s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(curve_public.data(), 32));
  s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(curve_secret.data(), 32));
  s.set(zmq::sockopt::linger, 0);
  s.set(zmq::sockopt::reconnect_ivl, 100);
  s.set(zmq::sockopt::sndtimeo, 5000);
  s.connect(endpoint);
}

RawDealer::~RawDealer() = default;

bool RawDealer::Send(base::ByteView bytes) {
  auto r = impl_->socket.send(zmq::const_buffer(bytes.data(), bytes.size()), zmq::send_flags::none);
  return r.has_value();
}

std::optional<schema::Frame> RawDealer::Receive(std::chrono::milliseconds timeout) {
  impl_->socket.set(zmq::sockopt::rcvtimeo, static_cast<int>(timeout.count()));
  zmq::message_t m;
  if (!impl_->socket.recv(m, zmq::recv_flags::none)) return std::nullopt;
  auto frame = schema::DecodeFrame(base::ByteView(static_cast<const uint8_t*>(m.data()), m.size()));
  if (!frame) {
    ++undecodable_;
    return std::nullopt;
  }
  return std::move(frame).value();
}

struct UnauthenticatedFlood::Impl {
  zmq::context_t ctx{2};
  std::vector<zmq::socket_t> sockets;
};

UnauthenticatedFlood::UnauthenticatedFlood(const std::string& endpoint,
                                           base::ByteView broker_curve_public, int count,
                                           int reconnect_ms, int cpu)
    : impl_(std::make_unique<Impl>()) {
  impl_->ctx.set(zmq::ctxopt::max_sockets, count + 64);
  if (cpu >= 0) impl_->ctx.set(zmq::ctxopt::thread_affinity_cpu_add, cpu);
  for (int i = 0; i < count; ++i) {
    uint8_t pub[32];
    uint8_t sec[32];
    CurveKeyPair(pub, sec);  // a fresh key pair no registry lists
    zmq::socket_t s(impl_->ctx, zmq::socket_type::dealer);
    if (i % 10 == 9) {
      // Some intruders do not even know the broker's key: their handshake fails earlier.
      uint8_t wrong[32];
      uint8_t unused[32];
      CurveKeyPair(wrong, unused);
      s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(wrong, 32));
    } else {
      s.set(zmq::sockopt::curve_serverkey, zmq::const_buffer(broker_curve_public.data(), 32));
    }
    s.set(zmq::sockopt::curve_publickey, zmq::const_buffer(pub, 32));
    s.set(zmq::sockopt::curve_secretkey, zmq::const_buffer(sec, 32));
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::reconnect_ivl, reconnect_ms);
    s.set(zmq::sockopt::reconnect_ivl_max, reconnect_ms);
    s.connect(endpoint);
    impl_->sockets.push_back(std::move(s));
  }
}

UnauthenticatedFlood::~UnauthenticatedFlood() = default;

void UnauthenticatedFlood::Poke() {
  static const char kJunk[] = "let me in";
  for (auto& s : impl_->sockets) {
    (void)s.send(zmq::const_buffer(kJunk, sizeof kJunk), zmq::send_flags::dontwait);
  }
}

}  // namespace relais::testing
