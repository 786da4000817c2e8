// The inbox's receiving loop: subscribes as this agency, verifies and opens each delivery, stores
// it (encrypted) and only then acknowledges it; applies purge requests (delete the local copy,
// keep a trace, answer purge_receipt); announces new referrals and near deadlines through the
// Notifier. A machine that was off catches up: the broker redelivers everything not yet acked.
//
// Threading: a Subscriber and its Client belong to the thread that calls Run/Poll.
#ifndef RELAIS_ADAPTERS_INBOX_SUBSCRIBER_H_
#define RELAIS_ADAPTERS_INBOX_SUBSCRIBER_H_

#include <atomic>
#include <chrono>
#include <memory>

#include "adapters/inbox/agency.h"
#include "adapters/inbox/notifier.h"
#include "adapters/inbox/store.h"
#include "adapters/sdk/client.h"
#include "base/clock.h"

namespace relais::inbox {

struct SubscriberStats {
  uint64_t stored = 0;      // new events committed
  uint64_t duplicates = 0;  // redeliveries of stored events (acked again)
  uint64_t purged = 0;      // purge requests applied
  uint64_t rejected = 0;    // deliveries that did not verify or open (nacked)
};

class Subscriber {
 public:
  // `store`, `agency`, `notifier` and `clock` must outlive the Subscriber; notifier may be null.
  Subscriber(const InboxAgency& agency, Store& store, Notifier* notifier, const base::Clock& clock)
      : agency_(agency), store_(store), notifier_(notifier), clock_(clock) {}

  // Connects and subscribes (credit 100, resume from the stored cursor).
  base::Status Start();
  // Receives for up to `timeout`, handling each delivery; then retries pending purge receipts and
  // sends due notifications. Broker refusals (not_a_receiver, handshake_refused) are returned.
  base::Status Poll(std::chrono::milliseconds timeout);
  // Polls until `stop` becomes true.
  base::Status Run(const std::atomic<bool>& stop);
  const SubscriberStats& stats() const { return stats_; }

 private:
  base::Status Handle(const sdk::Delivery& delivery);
  base::Status HandlePurge(const schema::Header& header);
  void RetryPurgeReceipts();
  void NotifyDue();

  const InboxAgency& agency_;
  Store& store_;
  Notifier* notifier_;
  const base::Clock& clock_;
  std::unique_ptr<sdk::Client> client_;
  SubscriberStats stats_;
  int pending_new_ = 0;
  std::chrono::steady_clock::time_point last_housekeeping_{};
};

}  // namespace relais::inbox

#endif  // RELAIS_ADAPTERS_INBOX_SUBSCRIBER_H_
