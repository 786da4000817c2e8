// A raw ZeroMQ DEALER in CURVE client mode, for hostile-client tests: it sends arbitrary bytes as
// one frame (no SDK checks, no retries) and decodes what comes back. Test-only code.
#ifndef RELAIS_TESTS_SECURITY_RAW_DEALER_H_
#define RELAIS_TESTS_SECURITY_RAW_DEALER_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "schema/wire.h"

namespace relais::testing {

class RawDealer {
 public:
  // Connects (without waiting for the handshake) with the given 32-byte CURVE keys.
  RawDealer(const std::string& endpoint, base::ByteView broker_curve_public,
            base::ByteView curve_public, base::ByteView curve_secret);
  ~RawDealer();
  RawDealer(const RawDealer&) = delete;
  RawDealer& operator=(const RawDealer&) = delete;

  // Sends one single-part message; false if ZeroMQ could not queue it within 5 s.
  bool Send(base::ByteView bytes);
  // The next frame, decoded; nullopt when nothing came within `timeout` (or it did not decode:
  // `undecodable` counts those).
  std::optional<schema::Frame> Receive(std::chrono::milliseconds timeout);
  int undecodable() const { return undecodable_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int undecodable_ = 0;
};

// Many DEALER sockets with CURVE keys the registry does not know (or garbage server keys): each
// handshake is refused by the broker's ZAP handler and ZeroMQ retries it every `reconnect_ms`.
class UnauthenticatedFlood {
 public:
  // `cpu` >= 0: the flood's I/O threads (its whole handshake work) run on that CPU only.
  UnauthenticatedFlood(const std::string& endpoint, base::ByteView broker_curve_public, int count,
                       int reconnect_ms, int cpu = -1);
  ~UnauthenticatedFlood();
  // Pushes one message into each socket (queued until a handshake succeeds, which it never does).
  void Poke();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace relais::testing

#endif  // RELAIS_TESTS_SECURITY_RAW_DEALER_H_
