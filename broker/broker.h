// relaisd's core: the single I/O thread that owns the ROUTER socket and drives the publish
// pipeline (decode -> verify on the worker pool -> journal -> ack), the subscriptions and the
// operator requests. main() builds the parts and hands them in; the Broker owns none of them.
//
// Threading: Run() on one thread. RequestStop() and RequestReload() are async-signal-safe.
#ifndef RELAIS_BROKER_BROKER_H_
#define RELAIS_BROKER_BROKER_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "broker/case_engine.h"
#include "broker/case_recovery.h"
#include "broker/delivery.h"
#include "broker/event_store.h"
#include "broker/ingest_source.h"
#include "broker/metrics.h"
#include "broker/registry_store.h"
#include "broker/transport/server.h"
#include "broker/wake_queue.h"
#include "broker/worker_pool.h"
#include "crypto/identity.h"
#include "schema/wire.h"

namespace relais::broker {

struct BrokerOptions {
  std::string broker_agency;  // the broker's own agency id (admin requests)
  int64_t session_timeout_us = 15'000'000;
  size_t max_pending_publishes = 20'000;  // verify + journal queue; beyond: transient overloaded
  int64_t shutdown_grace_us = 5'000'000;  // time to finish commits and send their acks
  DeliveryOptions delivery;
  // The start-up replay runs between polls in chunks of at most this many headers or this time.
  size_t replay_chunk = 4096;
  int64_t replay_chunk_us = 5'000;
  // TEST ONLY (relaisd_test_hooks): while this file exists, the replay does not go past the seq
  // written in it (decimal; empty: 0), so that tests act while it is still running.
  std::string test_replay_hold_file;
};

class Broker {
 public:
  // `self` is the broker's identity: it signs the events the broker emits (reminders,
  // escalations, ruptures, offer_taken, purge requests).
  Broker(BrokerOptions options, transport::Server& server, RegistryStore& registry,
         EventStore& store, WorkerPool& verifiers, CaseEngine& engine,
         const crypto::AgencyIdentity& self, const base::Clock& clock, BrokerMetrics& metrics);
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Serves until RequestStop(); then stops reading, finishes pending commits, acks them and
  // returns. Returns an error if the journal failed (fail-stop) or the ZAP handler died.
  // Serving starts at once: the case engine is rebuilt from the journal between polls, and a
  // case an event concerns is loaded first (case_recovery.h, broker_recovery.cc).
  base::Status Run();

  // JetStream mode with several instances: the other instances' records to store and deliver
  // here (stream_ingester.h). Call before Run(); `ingester` must outlive Run().
  void AttachIngester(IngestSource* ingester) { ingester_ = ingester; }

  void RequestStop() { stop_.store(true); }
  void RequestReload() { reload_.store(true); }

 private:
  struct Session {
    std::string agency;
    int64_t last_seen_us = 0;
  };
  struct Verified {
    std::string peer;
    std::string agency;
    int64_t received_us = 0;
    uint64_t arrival = 0;  // position among this peer's publishes

    schema::Envelope envelope;
    base::Result<schema::Header> header = base::InvalidInput("", "");
    // Another instance's event read from the stream (peer empty): its stream seq and time.
    uint64_t stream_seq = 0;
    base::TimeMs stream_at = 0;
    int64_t verified_us = 0;  // when the checks ended (metrics: publish stages)
  };
  struct Committed {
    std::string peer;  // empty for the broker's own emissions
    int64_t received_us = 0;
    schema::Envelope envelope;
    schema::Header header;
    base::Result<Appended> result = base::InvalidInput("", "");
    std::optional<Emission> emission;  // set for the broker's own emissions
    uint64_t stream_seq = 0;           // set for another instance's event (Verified::stream_seq)
    // Publish stages (metrics): checks ended, handed to the journal, durable.
    int64_t verified_us = 0, handed_us = 0, durable_us = 0;
  };

  void HandleInbound(transport::Inbound& in, int64_t now_us);
  void HandlePublish(const std::string& peer, const std::string& agency, schema::Publish& publish,
                     int64_t now_us);
  void HandleSubscribe(const std::string& peer, const std::string& agency,
                       const schema::Subscribe& subscribe, int64_t now_us);
  void HandleAdmin(const std::string& peer, const std::string& agency,
                   const schema::AdminRequest& request);
  // The person's disclosure receipt, for the case's emitter or consent collector (or the operator).
  void HandleCaseReceipt(const std::string& peer, const std::string& agency,
                         const schema::AdminRequest& request);
  // Verification runs in parallel, so results come back in any order; they are admitted in the
  // order each connection sent them (a consent then its referral, pipelined, stay in that order).
  void HandleVerified(Verified v);
  void AdmitVerified(Verified v);
  // Consent and lifecycle admission, one event per case at a time (broker_cases.cc).
  void Admit(Verified v);
  // Moves c.envelope into the delivery cache.
  void AfterCommit(Committed& c, int64_t now_us);
  void Emit(Emission emission);
  // Start-up recovery (broker_recovery.cc).
  void StartRecovery();
  // Whether a replay chunk can run now (not finished, not held by the test hook).
  bool RecoveryRunnable() const;
  base::Status ContinueRecovery();
  // Erasures a crash interrupted, emissions never journaled, the escalation gauges.
  void FinishRecovery();
  // Loads what admitting `v` needs; false (and `v` answered) when the journal could not be read.
  bool PrepareAdmission(const Verified& v);
  uint64_t ReplayLimit() const;
  void FireTimers();
  void HandleCommitted(Committed& c, int64_t now_us);
  // Another instance's event or acknowledgement (broker_stream.cc).
  void HandleIngested(IngestedRecord r, int64_t now_us);
  void HandleIngestCommitted(Committed& c, int64_t now_us);
  // Applies the acknowledgements read for c's event while it was being journaled.
  void SettlePendingAcks(Committed& c);
  void SendAck(const std::string& peer, const base::Bytes& event_id, schema::AckStatus status,
               uint64_t seq, const base::Error* error, bool duplicate, int64_t received_us);
  bool SendFrame(const std::string& peer, const schema::Frame& frame);
  // Whether a send went out; a connection found gone ends its session.
  bool Sent(const std::string& peer, const base::Status& st);
  void SendError(const std::string& peer, const std::string& code, const std::string& message);
  base::Result<std::vector<std::string>> ReloadRegistry();
  void ExpireSessions(int64_t now_us);
  void DropSession(const std::string& peer);
  void DrainWorkers(int64_t now_us);
  std::vector<int> WakeFds();
  void UpdateGauges();

  BrokerOptions options_;
  transport::Server& server_;
  RegistryStore& registry_;
  EventStore& store_;
  WorkerPool& verifiers_;
  const base::Clock& clock_;
  BrokerMetrics& metrics_;
  CaseEngine& engine_;
  const crypto::AgencyIdentity& self_;
  DeliveryManager delivery_;
  // Cases with an event being journaled; later events of the same case wait here.
  std::unordered_map<std::string, std::vector<Verified>> case_waiting_;
  // Per peer with publishes being verified: arrival numbers handed out and admitted so far, and
  // the results that came back ahead of their turn. Erased when nothing is in flight.
  struct ArrivalOrder {
    uint64_t assigned = 0;
    uint64_t admitted = 0;
    std::map<uint64_t, Verified> early;
  };
  std::unordered_map<std::string, ArrivalOrder> arrival_;
  int64_t next_timer_check_us_ = 0;

  std::unordered_map<std::string, Session> sessions_;  // by peer
  WakeQueue<Verified> verified_;
  WakeQueue<Committed> committed_;
  // The last batches drained from them, handed back to the queues at the next drain.
  std::vector<Verified> verified_batch_;
  std::vector<Committed> committed_batch_;
  IngestSource* ingester_ = nullptr;
  // Other instances' events handed to the journal and not committed yet (by event id), with the
  // acknowledgements read meanwhile for them (agency, stream seq): applied once the event has
  // its local seq (broker_stream.cc).
  std::map<base::Bytes, std::vector<std::pair<std::string, uint64_t>>> ingest_pending_;
  std::unique_ptr<CaseRecovery> recovery_;  // while the start-up replay runs
  size_t pending_publishes_ = 0;
  bool journal_failed_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<bool> reload_{false};
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_BROKER_H_
