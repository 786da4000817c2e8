// The Broker's side of the case engine: admission one event per case at a time, effects after
// commit (deliveries, withholding, erasure, broker emissions), recovery and timers.
#include <algorithm>

#include "base/log.h"
#include "broker/broker.h"
#include "crypto/random.h"
#include "crypto/seal.h"
#include "schema/codec.h"

namespace relais::broker {

void Broker::Admit(Verified v) {
  if (!PrepareAdmission(v)) return;
  const schema::Header& h = *v.header;
  auto busy = case_waiting_.find(h.case_ref);
  if (busy != case_waiting_.end()) {
    busy->second.push_back(std::move(v));
    return;
  }
  const bool from_stream = v.stream_seq != 0;
  auto mutations =
      engine_.Admit(h, *registry_.Current(), from_stream ? v.stream_at : clock_.NowMs());
  if (!mutations && from_stream) {
    // Another instance accepted it (its rules saw the case before this instance did): it is
    // stored and delivered here as well, without derived changes, and counted.
    metrics_.stream_conflicts.fetch_add(1);
    base::LogWarn("stream_conflict", {{"stream_seq", v.stream_seq},
                                      {"event", crypto::FormatUuid(h.event_id)},
                                      {"kind", schema::EventKindName(h.kind)},
                                      {"code", mutations.error().code}});
    mutations = std::vector<journal::DerivedMutation>();
  }
  if (!mutations) {
    // A retried publish of an event already journaled is acknowledged again, even though the
    // lifecycle has moved on since (an accept that already won, a withdrawal already applied).
    auto dup = store_.FindEvent(h.event_id);
    --pending_publishes_;
    if (dup && *dup) {
      SendAck(v.peer, h.event_id, schema::AckStatus::kOk, (*dup)->seq, nullptr, true,
              v.received_us);
      return;
    }
    base::LogWarn("publish_refused", {{"agency", v.agency},
                                      {"event", crypto::FormatUuid(h.event_id)},
                                      {"kind", schema::EventKindName(h.kind)},
                                      {"code", mutations.error().code}});
    SendAck(v.peer, h.event_id, schema::AckStatus::kFatal, 0, &mutations.error(), false,
            v.received_us);
    return;
  }
  case_waiting_[h.case_ref];  // the case is busy until this event is durable
  schema::Header header = std::move(v.header).value();
  schema::Header for_store = header;  // the callback keeps the other
  if (from_stream) mutations->push_back(journal::FromStream{v.stream_seq});
  // The store hands the envelope back once durable, for the deliveries: no copy is kept here.
  store_.Append(
      std::move(v.envelope), std::move(for_store), std::move(mutations).value(),
      [this, peer = std::move(v.peer), received_us = v.received_us, header = std::move(header),
       stream_seq = v.stream_seq, verified_us = v.verified_us,
       handed_us = base::MonotonicMicros()](base::Result<Appended> r) mutable {
        schema::Envelope envelope;
        if (r && r->envelope) {
          envelope = std::move(*r->envelope);
          r->envelope.reset();
        }
        committed_.Push(Committed{std::move(peer), received_us, std::move(envelope),
                                  std::move(header), std::move(r), std::nullopt, stream_seq,
                                  verified_us, handed_us, base::MonotonicMicros()});
      });
}

void Broker::AfterCommit(Committed& c, int64_t now_us) {
  if (c.result && !c.result->duplicate) {
    const Appended& a = *c.result;
    auto registry = registry_.Current();
    Effects fx = engine_.Apply(c.header, a.seq, registry.get(), clock_.NowMs());
    delivery_.Appended(a.seq, a.received_at, std::move(c.envelope), c.header.recipients, now_us);
    if (!fx.withhold.empty()) delivery_.Withhold(fx.withhold);
    if (fx.erase) {
      // Not waited for: the deliveries are already withheld, and the erasure is ordered before
      // any later append (an interrupted one is finished by Recover at the next start).
      store_.EraseAsync(*fx.erase, [ref = *fx.erase](base::Status st) {
        base::LogInfo("case_erased", {{"case", ref}, {"ok", st.has_value()}});
        if (!st) base::LogError("case_erase_failed", {{"case", ref}, {"code", st.error().code}});
      });
    }
    for (auto& e : fx.emissions) Emit(std::move(e));
    if (c.emission) {
      base::LogInfo("broker_event", {{"seq", a.seq},
                                     {"kind", schema::EventKindName(c.header.kind)},
                                     {"case", c.header.case_ref},
                                     {"stage", c.emission->body.stage}});
    }
  }
  if (c.emission) {
    if (!c.result) {
      engine_.Unfire(*c.emission);
      base::LogError("broker_event_failed", {{"code", c.result.error().code}});
    }
    return;
  }
  auto waiting = case_waiting_.find(c.header.case_ref);
  if (waiting == case_waiting_.end()) return;
  std::vector<Verified> next = std::move(waiting->second);
  case_waiting_.erase(waiting);
  for (auto& v : next) Admit(std::move(v));
}

void Broker::Emit(Emission e) {
  auto registry = registry_.Current();
  base::TimeMs now = clock_.NowMs();
  schema::Header& h = e.header;
  h.emitter = self_.pub.agency_id;
  h.emitter_key_id = self_.pub.key_id;
  h.emitted_at = now;
  std::vector<crypto::RecipientKey> keys;
  std::vector<std::string> reachable;
  for (const auto& r : h.recipients) {
    const schema::Agency* agency = registry->Find(r);
    const schema::AgencyKey* key = nullptr;
    if (agency != nullptr && !agency->revoked) {
      for (const auto& k : agency->keys) {
        if (KeyValidAt(k, now)) key = &k;
      }
    }
    if (key == nullptr) {
      base::LogWarn("emission_recipient_skipped", {{"agency", r}, {"case", h.case_ref}});
      continue;
    }
    keys.push_back({r, key->key_id, key->seal_key});
    reachable.push_back(r);
  }
  h.recipients = reachable;
  if (keys.empty()) return;
  auto envelope = crypto::SealEnvelope(h, schema::EventBody(e.body), keys, self_.sign_secret);
  if (!envelope) {
    base::LogError("emission_failed", {{"code", envelope.error().code}});
    engine_.Unfire(e);
    return;
  }
  schema::Header header = h;
  store_.Append(*envelope, header, {},
                [this, envelope = *envelope, header, e](base::Result<Appended> r) mutable {
                  committed_.Push(Committed{"", 0, std::move(envelope), std::move(header),
                                            std::move(r), std::move(e)});
                });
}

void Broker::FireTimers() {
  auto registry = registry_.Current();
  // While the replay runs, a case it has not finished may miss a journaled event: only the
  // cases loaded completely fire.
  auto due = recovery_ != nullptr
                 ? engine_.DueTimersOf(recovery_->loaded(), clock_.NowMs(), *registry)
                 : engine_.DueTimers(clock_.NowMs(), *registry);
  for (auto& e : due) Emit(std::move(e));
}

}  // namespace relais::broker
