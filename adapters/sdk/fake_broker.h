// Test-only: a scripted stand-in for relaisd's wire side, to test the client SDK without the real
// broker. A ROUTER socket in CURVE server mode with a ZAP handler admitting a fixed set of CURVE
// keys, run by its own thread. Tests script its answers and inspect what it received.
#ifndef RELAIS_ADAPTERS_SDK_FAKE_BROKER_H_
#define RELAIS_ADAPTERS_SDK_FAKE_BROKER_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "crypto/identity.h"
#include "schema/wire.h"

namespace relais::sdk::testing {

class FakeBroker {
 public:
  // Answer to one publish: called with the event id, how many times this id has been received
  // (1 the first time) and the index of the connection (0 for the first one seen). nullopt: no
  // answer at all.
  using PublishPolicy = std::function<std::optional<schema::PublishAck>(const base::Bytes& event_id,
                                                                        int times_seen, int peer)>;
  // True: drop everything from this connection (never answer it).
  using IgnorePolicy = std::function<bool(int peer, const schema::Frame& frame)>;

  struct Received {
    int peer = 0;
    schema::Frame frame;
  };

  // Binds tcp://127.0.0.1:PORT (PORT 0: any free port) with `broker`'s CURVE key; ZAP admits
  // the CURVE public keys of `admitted` only.
  FakeBroker(const crypto::AgencyIdentity& broker,
             std::vector<const crypto::AgencyIdentity*> admitted, int port = 0);
  ~FakeBroker();
  FakeBroker(const FakeBroker&) = delete;
  FakeBroker& operator=(const FakeBroker&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  int port() const;

  void SetPublishPolicy(PublishPolicy policy);
  void SetIgnorePolicy(IgnorePolicy policy);
  void SetAnswerHeartbeats(bool answer);
  // Sends error{code} in answer to every subscribe instead of delivering.
  void SetRefuseSubscriptions(std::string code);
  // Sends this raw (undecodable) payload before the next publish ack.
  void SendGarbageBeforeNextAck();
  // Events to deliver to the subscriber, in order, within its credit.
  void QueueDeliveries(std::vector<schema::Deliver> deliveries);

  std::vector<Received> received() const;
  std::vector<base::Bytes> PublishedEventIds() const;  // every publish received, in order
  size_t MaxOutstanding() const;
  size_t Outstanding() const;
  int PeerCount() const;
  std::set<uint64_t> Acked() const;

  // Polls `pred` (under no lock) until true or `timeout`.
  static bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds timeout);

  struct State;

 private:
  void Run();

  std::string endpoint_;
  std::unique_ptr<State> state_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace relais::sdk::testing

#endif  // RELAIS_ADAPTERS_SDK_FAKE_BROKER_H_
