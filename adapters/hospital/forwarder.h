// The broker side of the adapter: drains the outbox to relaisd (one event in flight per case, so a
// case's events keep their order; the envelope and its event id never change between attempts)
// and subscribes as the hospital agency to learn which referrals were accepted (an `accepted`
// addressed to us moves the local case to accepted, so an A03 then yields handed_over).
//
// Threading: Run() on its own thread; it owns the sdk::Client and its own LocalStore connection.
// Stop() may be called from any thread.
#ifndef RELAIS_ADAPTERS_HOSPITAL_FORWARDER_H_
#define RELAIS_ADAPTERS_HOSPITAL_FORWARDER_H_

#include <atomic>
#include <chrono>
#include <map>
#include <memory>

#include "adapters/hospital/store.h"
#include "adapters/sdk/client.h"
#include "base/clock.h"
#include "crypto/identity.h"
#include "schema/registry.h"

namespace relais::hospital {

struct ForwarderStats {
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> accepted_seen{0};
  std::atomic<bool> connected{false};
};

class Forwarder {
 public:
  // `options` must carry endpoints, broker key and identity. Nothing is owned but `store`.
  Forwarder(std::unique_ptr<LocalStore> store, sdk::ClientOptions options,
            const schema::Registry& registry, const crypto::AgencyIdentity& identity,
            const base::Clock& clock);

  // Loops until Stop(): connect (retrying every second while the broker is away), publish the
  // outbox heads, read deliveries.
  void Run();
  void Stop() { stop_.store(true); }
  const ForwarderStats& stats() const { return stats_; }

 private:
  void Connect();
  void Submit();
  void CollectAcks(std::chrono::milliseconds wait);
  void ReadDeliveries(std::chrono::milliseconds wait);
  void OnDelivery(const sdk::Delivery& d);

  std::unique_ptr<LocalStore> store_;
  sdk::ClientOptions options_;
  const schema::Registry& registry_;
  const crypto::AgencyIdentity& identity_;
  const base::Clock& clock_;
  std::unique_ptr<sdk::Client> client_;
  std::map<base::Bytes, int64_t> in_flight_;  // event id -> outbox id
  std::atomic<bool> stop_{false};
  ForwarderStats stats_;
};

}  // namespace relais::hospital

#endif  // RELAIS_ADAPTERS_HOSPITAL_FORWARDER_H_
