#include "adapters/hospital/forwarder.h"

#include <thread>

#include "adapters/sdk/envelope_builder.h"
#include "base/log.h"
#include "crypto/random.h"
#include "schema/codec.h"

namespace relais::hospital {

using namespace std::chrono_literals;

Forwarder::Forwarder(std::unique_ptr<LocalStore> store, sdk::ClientOptions options,
                     const schema::Registry& registry, const crypto::AgencyIdentity& identity,
                     const base::Clock& clock)
    : store_(std::move(store)),
      options_(std::move(options)),
      registry_(registry),
      identity_(identity),
      clock_(clock) {}

void Forwarder::Connect() {
  auto client = sdk::Client::Connect(options_);
  if (!client) {
    base::LogWarn("broker_unreachable", {{"code", client.error().code}});
    for (int i = 0; i < 10 && !stop_.load(); ++i) std::this_thread::sleep_for(100ms);
    return;
  }
  client_ = std::move(*client);
  schema::Subscribe s;
  s.credit = 100;
  if (auto st = client_->Subscribe(s); !st) {
    base::LogWarn("subscribe_failed", {{"code", st.error().code}});
  }
  stats_.connected.store(true);
  base::LogInfo("broker_connected", {{"endpoint", client_->endpoint()}});
}

void Forwarder::Submit() {
  std::vector<int64_t> busy;
  for (const auto& [id, row] : in_flight_) busy.push_back(row);
  auto heads = store_->PendingHeads(256, busy);
  if (!heads) {
    base::LogError("outbox_read_failed", {{"code", heads.error().code}});
    return;
  }
  for (auto& e : *heads) {
    auto env = schema::DecodeEnvelope(e.envelope);
    if (!env) {
      base::LogError("outbox_corrupt", {{"id", e.id}});
      (void)store_->MarkFailed(e.id, "corrupt");
      continue;
    }
    auto st = client_->SubmitPublish(*env, sdk::DeadlineAfter(30s));
    if (!st) {
      if (st.error().code != "window_full") {
        base::LogWarn("submit_failed", {{"code", st.error().code}, {"id", e.id}});
      }
      return;
    }
    in_flight_[e.event_id] = e.id;
  }
}

void Forwarder::CollectAcks(std::chrono::milliseconds wait) {
  auto results = client_->PollAcks(wait);
  if (results.empty()) return;
  // One transaction for every removal of this round: one fsync, not one per event.
  bool in_tx = static_cast<bool>(store_->Begin());
  for (auto& r : results) {
    auto it = in_flight_.find(r.event_id);
    if (it == in_flight_.end()) continue;
    int64_t row = it->second;
    in_flight_.erase(it);
    std::string event = crypto::FormatUuid(r.event_id);
    if (r.outcome) {
      if (auto st = store_->RemoveFromOutbox(row); !st) {
        base::LogError("outbox_remove_failed", {{"code", st.error().code}});
      }
      ++stats_.published;
      base::LogInfo(
          "event_published",
          {{"event", event}, {"seq", r.outcome->seq}, {"duplicate", r.outcome->duplicate}});
    } else if (sdk::IsRefusal(r.outcome.error())) {
      // Refused for good: kept in the outbox for the operator, the case's next events go on.
      (void)store_->MarkFailed(row, r.outcome.error().code);
      ++stats_.refused;
      base::LogError("event_refused", {{"event", event}, {"code", r.outcome.error().code}});
    } else {
      base::LogWarn("event_retry", {{"event", event}, {"code", r.outcome.error().code}});
    }
  }
  if (in_tx) {
    if (auto st = store_->Commit(); !st) {
      // The events stay in the outbox and are published again (same event ids: deduplicated).
      store_->Rollback();
      base::LogError("outbox_commit_failed", {{"code", st.error().code}});
    }
  }
}

void Forwarder::OnDelivery(const sdk::Delivery& d) {
  auto opened = sdk::VerifyAndOpen(d.envelope, registry_, identity_, d.received_at);
  if (!opened) {
    base::LogWarn("delivery_rejected", {{"seq", d.seq}, {"code", opened.error().code}});
    (void)client_->Nack(d, opened.error().code);
    return;
  }
  const schema::Header& h = opened->header;
  base::LogInfo("delivery", {{"seq", d.seq},
                             {"kind", schema::EventKindName(h.kind)},
                             {"case", h.case_ref},
                             {"from", h.emitter}});
  if (h.kind == schema::EventKind::kAccepted) {
    auto found = store_->FindCaseByRef(h.case_ref);
    if (!found) {
      (void)client_->Nack(d, "local_store");
      return;
    }
    if (*found && (*found)->case_ref == h.case_ref && (*found)->state == ReferralState::kReferred) {
      CaseRecord c = **found;
      c.state = ReferralState::kAccepted;
      c.acceptor = h.emitter;
      if (auto st = store_->UpdateCase(c); !st) {
        (void)client_->Nack(d, "local_store");
        return;
      }
      ++stats_.accepted_seen;
      base::LogInfo("referral_accepted", {{"case", h.case_ref}, {"by", h.emitter}});
    }
  }
  (void)client_->Ack(d);
}

void Forwarder::ReadDeliveries(std::chrono::milliseconds wait) {
  for (int i = 0; i < 100; ++i) {
    auto d = client_->Next(i == 0 ? wait : 0ms);
    if (!d) {
      base::LogWarn("subscription_error", {{"code", d.error().code}});
      return;
    }
    if (!*d) return;
    OnDelivery(**d);
  }
}

void Forwarder::Run() {
  while (!stop_.load()) {
    if (!client_) {
      Connect();
      continue;
    }
    Submit();
    CollectAcks(in_flight_.empty() ? 0ms : 20ms);
    ReadDeliveries(in_flight_.empty() ? 30ms : 0ms);
  }
}

}  // namespace relais::hospital
