// Internal to sdk/: one DEALER socket in CURVE client mode plus its socket monitor. client.cc
// drives the protocol on top of it; a reconnection destroys the Connection and opens another.
// Never throws: cppzmq exceptions are turned into Errors here.
//
// Threading: owned by the Client's thread.
#ifndef RELAIS_ADAPTERS_SDK_CLIENT_SESSION_H_
#define RELAIS_ADAPTERS_SDK_CLIENT_SESSION_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/identity.h"

namespace relais::sdk::internal {

struct ConnectionOptions {
  std::string endpoint;
  std::string monitor_address;  // a fresh inproc:// address (unique within the context)
  base::ByteView broker_curve_public;
  const crypto::AgencyIdentity* identity = nullptr;
  int heartbeat_ivl_ms = 5000;  // ZMTP heartbeats (libzmq's own, below the protocol's)
  int heartbeat_timeout_ms = 15000;
  int max_frame_bytes = 16 << 20;
};

// What the socket monitor reports about the connection's handshakes.
enum class ConnectionEvent {
  kHandshakeSucceeded,
  kHandshakeRefused,  // ZAP refused our key (value: the ZAP status code, e.g. 400)
  kHandshakeFailed,   // protocol error or other failure (e.g. wrong broker key)
  kDisconnected,
  kConnectRetried,  // a TCP connect failed (refused, unreachable); ZeroMQ retries later
};

struct MonitorEvent {
  ConnectionEvent event;
  uint32_t value = 0;
};

class Connection {
 public:
  // Creates the socket and starts connecting (asynchronously: nothing is known about the broker
  // until a handshake event or a frame arrives). Errors: kInvalidInput "bad_endpoint",
  // "bad_key".
  static base::Result<std::unique_ptr<Connection>> Open(zmq::context_t& context,
                                                        const ConnectionOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues one single-frame message without blocking. False when ZeroMQ's queue is full (or the
  // socket failed): the caller tries again later.
  bool Send(base::ByteView payload);
  // Waits up to `timeout` for a frame or a monitor event.
  void Wait(std::chrono::milliseconds timeout);
  // The next received single-frame message, without waiting. Multi-part messages are dropped.
  std::optional<base::Bytes> Receive();
  // Monitor events since the last call.
  std::vector<MonitorEvent> TakeEvents();
  // Sets how long closing waits for queued messages to be sent (default 0: drop them).
  void SetLinger(std::chrono::milliseconds linger);

  const std::string& endpoint() const { return endpoint_; }

 private:
  Connection(zmq::context_t& context, std::string endpoint);

  std::string endpoint_;
  zmq::socket_t dealer_;
  zmq::socket_t monitor_;
  bool monitoring_ = false;
};

}  // namespace relais::sdk::internal

#endif  // RELAIS_ADAPTERS_SDK_CLIENT_SESSION_H_
