// Durable subscriptions: credit-bounded, ordered delivery with acks, redelivery with back-off and
// dead letters (docs/protocol.md §4).
//
// One subscription per agency at a time. First deliveries go out in seq order; the broker never
// has more than `credit` deliveries unacknowledged for a subscription. Everything durable lives in
// the EventStore (which events are addressed to whom, which were acked); this class holds only
// what is in flight, so a restart or a reconnect simply rescans the store.
//
// Threading: the broker's I/O thread only. Time is monotonic microseconds passed in by the caller.
#ifndef RELAIS_BROKER_DELIVERY_H_
#define RELAIS_BROKER_DELIVERY_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "base/bytes.h"
#include "broker/event_store.h"
#include "schema/wire.h"

namespace relais::broker {

struct DeliveryOptions {
  int64_t ack_timeout_us = 30'000'000;
  int64_t max_backoff_us = 300'000'000;
  uint32_t max_attempts = 10;
  uint32_t max_credit = 10'000;
  // Recently appended events kept, as encoded Deliver frames, for live fan-out: at most this
  // many, and at most cache_bytes of frames.
  size_t cache_events = 4096;
  size_t cache_bytes = 16u << 20;
  // Events read from the store for subscribers behind the cache, shared by them all (one read
  // serves every subscriber catching up over the same seqs); the oldest reads go first.
  size_t read_ahead_events = 2048;
  size_t read_ahead_bytes = 8u << 20;
  // Seqs read from the store in one query.
  size_t read_chunk = 256;
  // Live seqs queued in memory for a subscriber that falls behind; beyond, it reads the later
  // ones from the store when it catches up, so its lag costs disk reads, not memory.
  size_t max_live = 8192;
};

// Sends an encoded Deliver frame (schema::EncodeFrame) to a connection; false if the connection
// is gone. The first attempt of an event is encoded once and the same bytes go to every recipient
// (shared, not copied: the frame must not change once handed over).
using DeliverFn = std::function<bool(const std::string& peer, const base::SharedBytes& frame)>;

struct DeliveryStats {
  uint64_t delivered = 0;
  uint64_t redelivered = 0;
  uint64_t acked = 0;
  uint64_t dead_lettered = 0;
  uint64_t in_flight = 0;
};

class DeliveryManager {
 public:
  DeliveryManager(EventStore& store, DeliveryOptions options, DeliverFn deliver);

  // Starts or replaces the subscription of `agency` on connection `peer`. Deliveries in flight on a
  // previous connection become pending again.
  base::Status Subscribe(const std::string& agency, const std::string& peer,
                         const schema::Subscribe& request, int64_t now_us);
  // The connection is gone: its subscription ends; in-flight deliveries become pending again.
  void Disconnected(const std::string& peer);
  // Stops every delivery to `agency` (revocation).
  void Drop(const std::string& agency);

  void Ack(const std::string& agency, uint64_t seq);
  // Several acknowledgements of `agency` together (an ack frame's seq and `more`): settled one by
  // one, recorded in the store at once.
  void Ack(const std::string& agency, const std::vector<uint64_t>& seqs);
  // An acknowledgement given on another relaisd instance (JetStream mode): the same, recorded
  // with EventStore::RecordAckFromStream.
  void AckFromStream(const std::string& agency, uint64_t seq);
  void Nack(const std::string& agency, uint64_t seq, const std::string& reason, int64_t now_us);

  // A newly durable event: fans out to caught-up subscribers.
  void Appended(uint64_t seq, base::TimeMs received_at, schema::Envelope envelope,
                const std::vector<std::string>& recipients, int64_t now_us);
  // `seq` became pending again for `agency` (a re-queued dead letter): scan the store again.
  void Rescan(const std::string& agency, uint64_t seq);
  // Stops delivering and forgets cached bodies of the given seqs (consent withdrawal).
  void Withhold(const std::vector<uint64_t>& seqs);

  // Sends what credit allows and redelivers what timed out. Returns the next time it needs to run.
  int64_t Pump(int64_t now_us);

  const DeliveryStats& Stats() const { return stats_; }
  bool HasSubscription(const std::string& agency) const { return subs_.count(agency) > 0; }

 private:
  struct InFlight {
    uint32_t attempt = 1;
    int64_t due_us = 0;
  };
  struct Subscription {
    std::string agency;
    std::string peer;
    uint32_t credit = 1;
    uint64_t scanned_to = 0;    // every pending seq <= scanned_to was fetched from the store
    bool caught_up = false;     // the store had nothing more: live events come through `live`
    std::deque<uint64_t> live;  // live seqs not yet sent (seq > scanned_to at the time)
    std::map<uint64_t, InFlight> in_flight;
    // The same deliveries ordered by (due_us, seq): a pass looks only at those due, not at all
    // `credit` deliveries in flight. Kept in step by AddInFlight, EraseInFlight and Nack.
    std::set<std::pair<int64_t, uint64_t>> deadlines;
    std::map<uint64_t, std::string> nacked;  // seq -> reason given by the receiver
    bool gone = false;                       // its connection vanished during a send
  };

  // Forgets `seq` as in flight, naked or being retried for `agency` (an acknowledgement).
  void Settle(const std::string& agency, uint64_t seq);
  void AddInFlight(Subscription& sub, uint64_t seq, InFlight f);
  // Erases a subscription, keeping the attempt numbers of its deliveries in flight.
  void EndSubscription(std::map<std::string, Subscription>::iterator sub);
  // Attempts made before the current subscription (0 if none).
  uint32_t PriorAttempts(const std::string& agency, uint64_t seq) const;
  bool EraseInFlight(Subscription& sub, uint64_t seq);
  void PumpOne(Subscription& sub, int64_t now_us);
  bool Send(Subscription& sub, uint64_t seq, uint32_t attempt, int64_t now_us);
  void Redeliver(Subscription& sub, int64_t now_us);
  void FillFromStore(Subscription& sub, int64_t now_us);
  // Reads those of `seqs` that no cache holds into the read-ahead cache, in one query.
  void Prefetch(const std::vector<uint64_t>& seqs);
  // The first-attempt frame of `seq` from a cache, or read from the store (nullptr: erased or
  // unreadable).
  base::SharedBytes Lookup(uint64_t seq);
  base::SharedBytes Cached(uint64_t seq) const;
  bool IsCached(uint64_t seq) const { return cache_.Contains(seq) || read_ahead_.Contains(seq); }
  // First-attempt Deliver frames by seq, bounded in count and bytes; the first put goes first.
  class FrameCache {
   public:
    FrameCache(size_t max_events, size_t max_bytes)
        : max_events_(max_events), max_bytes_(max_bytes) {}
    base::SharedBytes Find(uint64_t seq) const;  // nullptr if not held
    bool Contains(uint64_t seq) const { return frames_.count(seq) > 0; }
    void Put(uint64_t seq, base::SharedBytes frame);
    void Erase(uint64_t seq);

   private:
    const size_t max_events_;
    const size_t max_bytes_;
    std::unordered_map<uint64_t, base::SharedBytes> frames_;
    std::deque<uint64_t> order_;  // put order; seqs erased since stay until they reach the front
    size_t bytes_ = 0;
  };
  int64_t Backoff(uint32_t attempt) const;

  EventStore& store_;
  DeliveryOptions options_;
  DeliverFn deliver_;
  std::map<std::string, Subscription> subs_;  // by agency
  std::unordered_map<std::string, std::string> agency_by_peer_;
  // agency -> seq -> attempts so far of a delivery that was in flight when its subscription
  // ended (a delivery in flight carries its own in InFlight): survives reconnects, not broker
  // restarts. Erased when the delivery is acknowledged, dead-lettered or rescanned.
  std::unordered_map<std::string, std::unordered_map<uint64_t, uint32_t>> attempts_;
  FrameCache cache_;       // the newest appended events
  FrameCache read_ahead_;  // events read from the store for subscribers behind
  DeliveryStats stats_;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_DELIVERY_H_
