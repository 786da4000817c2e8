// The Broker's side of the stream ingester (JetStream mode with several instances,
// docs/scale-out.md section 12): the other instances' events are admitted like publishes but
// never refused (another instance accepted them), journaled here with their stream seq and
// delivered to the recipients connected here; their acknowledgements settle the deliveries here.
#include "base/log.h"
#include "broker/broker.h"
#include "crypto/random.h"
#include "schema/codec.h"

namespace relais::broker {

void Broker::HandleIngested(IngestedRecord r, int64_t now_us) {
  if (r.ack) {
    auto found = store_.FindEvent(r.ack->event_id);
    if (!found) {
      ingester_->Done(r.stream_seq, false);
      return;
    }
    if (*found) {
      delivery_.AckFromStream(r.ack->agency, (*found)->seq);
      metrics_.stream_acks_ingested.fetch_add(1);
    } else if (auto pending = ingest_pending_.find(r.ack->event_id);
               pending != ingest_pending_.end()) {
      // Its event (read just before it, often in the same batch) is still being journaled here:
      // applied, and reported done, once it is committed (HandleIngestCommitted).
      pending->second.emplace_back(std::move(r.ack->agency), r.stream_seq);
      return;
    }
    ingester_->Done(r.stream_seq, true);
    return;
  }
  auto header = schema::DecodeHeader(r.event->header);
  if (!header) {
    base::LogError("stream_record_unreadable", {{"stream_seq", r.stream_seq}});
    metrics_.stream_unreadable.fetch_add(1);
    ingester_->Done(r.stream_seq, true);
    return;
  }
  auto found = store_.FindEvent(header->event_id);
  if (!found || *found || journal_failed_) {
    // Already here (published here too, or read again after a restart); or not now.
    ingester_->Done(r.stream_seq, found && *found && !journal_failed_);
    return;
  }
  Verified v{"", header->emitter, now_us, 0, std::move(*r.event), std::move(header).value()};
  v.stream_seq = r.stream_seq;
  v.stream_at = r.stored_at;
  ingest_pending_[v.header->event_id];
  Admit(std::move(v));
}

void Broker::SettlePendingAcks(Committed& c) {
  auto pending = ingest_pending_.find(c.header.event_id);
  if (pending == ingest_pending_.end()) return;
  for (const auto& [agency, stream_seq] : pending->second) {
    if (c.result) {
      delivery_.AckFromStream(agency, c.result->seq);
      metrics_.stream_acks_ingested.fetch_add(1);
    }
    ingester_->Done(stream_seq, c.result.has_value());  // not stored: both read again
  }
  ingest_pending_.erase(pending);
}

void Broker::HandleIngestCommitted(Committed& c, int64_t now_us) {
  AfterCommit(c, now_us);
  SettlePendingAcks(c);
  if (!c.result) {
    const base::Error& e = c.result.error();
    if (e.kind == base::ErrorKind::kFailStop) {
      journal_failed_ = true;
      metrics_.healthy.store(false);
      base::LogError("journal_failed", {{"code", e.code}});
    }
    ingester_->Done(c.stream_seq, false);
    return;
  }
  ingester_->Done(c.stream_seq, true);
  if (c.result->duplicate) return;
  metrics_.stream_ingested.fetch_add(1);
  metrics_.journal_head_seq.store(c.result->seq);
  base::LogInfo("event_ingested", {{"seq", c.result->seq},
                                   {"stream_seq", c.stream_seq},
                                   {"event", crypto::FormatUuid(c.header.event_id)},
                                   {"kind", schema::EventKindName(c.header.kind)},
                                   {"emitter", c.header.emitter}});
}

}  // namespace relais::broker
