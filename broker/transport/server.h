// The broker's side of the wire: one ROUTER socket in CURVE server mode, guarded by a ZAP handler.
// The only place on the broker side that includes zmq.hpp.
//
// Threading: Create() starts the ZAP handler thread. Every other method belongs to the single
// thread that owns the Server (the broker's I/O thread). The KeyAuthorizer is called on the ZAP
// thread and must be thread-safe.
//
// Authentication: ZAP admits a connection only if the authorizer maps the client's CURVE public
// key to an agency id; that id becomes the connection's User-Id and is attached to every Inbound.
// A refused client completes no handshake and receives nothing, not even an error frame.
#ifndef RELAIS_BROKER_TRANSPORT_SERVER_H_
#define RELAIS_BROKER_TRANSPORT_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/secret.h"

namespace relais::transport {

// Maps a client's 32-byte CURVE public key to its agency id, or nullopt to refuse. Thread-safe.
using KeyAuthorizer = std::function<std::optional<std::string>(base::ByteView curve_public_key)>;

struct ServerOptions {
  std::string endpoint = "tcp://127.0.0.1:7411";
  base::Bytes curve_public;                      // the broker's CURVE public key (32 bytes)
  const crypto::Secret* curve_secret = nullptr;  // 32 bytes; must outlive Create()
  int heartbeat_ivl_ms = 5000;  // ZMTP heartbeats: a silent peer is dropped after the timeout
  int heartbeat_timeout_ms = 15000;
  int max_message_bytes = 8 << 20;  // ZMQ_MAXMSGSIZE: larger frames close the connection
  int send_hwm = 100000;  // credit keeps us far below; reaching it is reported, not dropped
  // Source networks allowed to connect ("10.1.0.0/16", "192.0.2.7"; IPv4). On an IPv4 endpoint
  // the kernel drops the others' connection requests before the TCP handshake (listen_filter.h);
  // otherwise they are closed at accept, before any CURVE work (ZMQ_TCP_ACCEPT_FILTER). Empty:
  // every address.
  std::vector<std::string> allow_from;
  // A source address opening more than `ban_connections` connections within `ban_window_ms` is
  // dropped by the kernel for `ban_ms` (IPv4 endpoints only; 0: never). A partner's adapter holds
  // one connection for hours; a flood of handshakes opens thousands.
  int ban_connections = 100;
  int64_t ban_window_ms = 10'000;
  int64_t ban_ms = 60'000;
};

struct Inbound {
  std::string peer;       // ROUTER routing id of the connection
  std::string agency_id;  // authenticated by ZAP
  // A copy of the frame: ZeroMQ's own buffer is not word-aligned, a vector is, so the decoder
  // reads the copy in place (one copy either way).
  base::Bytes payload;
};

// Counts for /metrics.
struct TransportStats {
  std::atomic<uint64_t> zap_accepted{0};
  std::atomic<uint64_t> zap_refused{0};
  std::atomic<uint64_t> frames_in{0};
  std::atomic<uint64_t> frames_out{0};
  std::atomic<uint64_t> multipart_refused{0};
  std::atomic<uint64_t> sources_banned{0};  // bans so far (ServerOptions::ban_connections)
  std::atomic<uint64_t> banned_now{0};      // addresses banned at the moment
};

class Server {
 public:
  // Binds the ZAP handler, then the ROUTER socket. Errors: kInvalidInput "bad_endpoint" (cannot
  // bind), kInvalidInput "bad_key".
  static base::Result<std::unique_ptr<Server>> Create(const ServerOptions& options,
                                                      KeyAuthorizer authorizer);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Waits up to timeout_ms for a frame on the ROUTER socket or readability of one of `wake_fds`
  // (e.g. an eventfd the broker's worker threads signal). Returns the frames received (at most
  // `max_batch`); an empty vector on timeout or fd wake-up.
  base::Result<std::vector<Inbound>> Poll(int timeout_ms, const std::vector<int>& wake_fds,
                                          size_t max_batch = 256);

  // Sends one frame to a connection. kNotFound "peer_gone" if the connection no longer exists;
  // kRetryLater "peer_busy" if its send queue is full.
  base::Status Send(const std::string& peer, base::ByteView payload);
  // The same without copying: ZeroMQ holds `payload` until its I/O thread has encrypted it.
  base::Status Send(const std::string& peer, base::SharedBytes payload);

  // Cuts a live connection (used when its agency is revoked): the TCP connection is shut down so
  // the client must handshake again, which ZAP then refuses.
  void Cut(const std::string& peer);

  // The endpoint actually bound (resolves "tcp://127.0.0.1:*").
  std::string BoundEndpoint() const;
  const TransportStats& Stats() const;
  // False once the ZAP handler thread has died; the broker treats that as fatal.
  bool ZapHandlerAlive() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relais::transport

#endif  // RELAIS_BROKER_TRANSPORT_SERVER_H_
