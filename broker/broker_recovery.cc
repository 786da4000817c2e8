// The Broker's side of the start-up recovery (case_recovery.h): the replay of the journal into
// the case engine runs between polls while the broker serves; an event's case is loaded before
// the event is admitted; what needs every case runs when the replay ends.
//
// Erasures a crash interrupted are finished at the end of the replay, possibly long after the
// start. No body of such a case can be delivered meanwhile: the consent_withdrawn entry was
// journaled with StopCaseDeliveries in the same transaction (CaseEngine::Admit), which turned
// every pending delivery of the case's entries dead, and the broker admits nothing more for a
// withdrawn case but purge receipts (CaseEngine::CheckTransition). Deliveries are read back from
// the store's pending ones only (DeliveryManager), so dead ones are never sent; requeueing a dead
// letter is refused while the replay runs (HandleAdmin).
#include <fstream>

#include "base/log.h"
#include "broker/broker.h"

namespace relais::broker {

void Broker::StartRecovery() {
  // The cases in memory are bounded from the start: a journal of a million cases is replayed
  // without holding them all (cases evicted during the replay are read back when it reaches
  // their next entry).
  engine_.BoundResidency(&store_, 0, [this] { return registry_.Current(); });
  recovery_ = std::make_unique<CaseRecovery>(store_, engine_, registry_.Current(), clock_.NowMs());
  metrics_.replay_pending.store(true);
  base::LogInfo("replay_started", {{"head_seq", recovery_->end_seq()}});
  if (recovery_->done()) FinishRecovery();
}

uint64_t Broker::ReplayLimit() const {
  if (options_.test_replay_hold_file.empty()) return std::numeric_limits<uint64_t>::max();
  std::ifstream in(options_.test_replay_hold_file);
  if (!in) return std::numeric_limits<uint64_t>::max();
  uint64_t limit = 0;
  in >> limit;
  return limit;
}

bool Broker::RecoveryRunnable() const {
  return recovery_ != nullptr && recovery_->next_seq() <= ReplayLimit();
}

base::Status Broker::ContinueRecovery() {
  if (recovery_ == nullptr) return base::Ok();
  const uint64_t limit = ReplayLimit();
  if (recovery_->next_seq() > limit) return base::Ok();
  if (auto st = recovery_->Step(options_.replay_chunk, options_.replay_chunk_us, limit); !st) {
    metrics_.healthy.store(false);
    base::LogError("replay_failed", {{"code", st.error().code}});
    return st;
  }
  if (recovery_->done()) FinishRecovery();
  return base::Ok();
}

bool Broker::PrepareAdmission(const Verified& v) {
  auto st = recovery_ != nullptr ? recovery_->Prepare(*v.header) : engine_.Ensure(*v.header);
  if (st) return true;
  base::LogError("replay_case_failed", {{"code", st.error().code}});
  if (v.stream_seq != 0) {
    ingester_->Done(v.stream_seq, false);
    return false;
  }
  --pending_publishes_;
  base::Error retry = base::RetryLater("replay_pending", "the case could not be read; retry");
  SendAck(v.peer, v.header->event_id, schema::AckStatus::kTransient, 0, &retry, false,
          v.received_us);
  return false;
}

void Broker::FinishRecovery() {
  std::unique_ptr<CaseRecovery> r = std::move(recovery_);
  // Erasure is idempotent: finish any that a crash interrupted. Queued behind the appends already
  // submitted, without blocking the I/O thread.
  for (const auto& ref : r->erased()) {
    store_.EraseAsync(ref, [ref](base::Status st) {
      if (!st) base::LogError("case_erase_failed", {{"case", ref}, {"code", st.error().code}});
    });
  }
  // Emissions decided before a crash but never journaled.
  size_t reemitted = 0;
  for (auto& e : r->emissions()) {
    auto found = store_.FindEvent(e.header.event_id);
    if (found && !*found) {
      Emit(std::move(e));
      ++reemitted;
    }
  }
  // From now on a case is read back up to the last seq applied.
  engine_.EndReplay(r->end_seq());
  metrics_.replay_pending.store(false);
  UpdateGauges();
  base::LogInfo("recovered", {{"events", r->events()},
                              {"reemitted", static_cast<uint64_t>(reemitted)},
                              {"ms", (base::MonotonicMicros() - r->started_us()) / 1000}});
}

}  // namespace relais::broker
