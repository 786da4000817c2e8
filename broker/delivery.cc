#include "broker/delivery.h"

#include <algorithm>

#include "base/crash_point.h"
#include "base/log.h"
#include "schema/codec.h"

namespace relais::broker {

namespace {

base::SharedBytes EncodeDeliver(uint64_t seq, base::TimeMs received_at, uint32_t attempt,
                                schema::Envelope envelope) {
  schema::Deliver d;
  d.seq = seq;
  d.received_at = received_at;
  d.attempt = attempt;
  d.envelope = std::move(envelope);
  return std::make_shared<const base::Bytes>(schema::EncodeFrame(schema::Frame(std::move(d))));
}

// The frame of a later attempt: the first attempt's, with its attempt number changed.
base::SharedBytes WithAttempt(const base::Bytes& first, uint32_t attempt) {
  schema::DecodeLimits limits;  // our own encoding: only its size bounds it
  limits.max_bytes = std::max<uint64_t>(limits.max_bytes, first.size());
  limits.traversal_limit_words =
      std::max<uint64_t>(limits.traversal_limit_words, first.size() / 8 + 1024);
  auto frame = schema::DecodeFrame(first, limits);
  if (!frame || !std::holds_alternative<schema::Deliver>(*frame)) return nullptr;
  auto& d = std::get<schema::Deliver>(*frame);
  d.attempt = attempt;
  return std::make_shared<const base::Bytes>(schema::EncodeFrame(*frame));
}

}  // namespace

base::SharedBytes DeliveryManager::FrameCache::Find(uint64_t seq) const {
  auto it = frames_.find(seq);
  return it == frames_.end() ? nullptr : it->second;
}

void DeliveryManager::FrameCache::Put(uint64_t seq, base::SharedBytes frame) {
  bytes_ += frame->size();
  auto [it, inserted] = frames_.try_emplace(seq, frame);
  if (!inserted) {
    bytes_ -= it->second->size();
    it->second = std::move(frame);
  }
  order_.push_back(seq);
  while (!order_.empty() &&
         (frames_.size() > max_events_ || bytes_ > max_bytes_ || order_.size() > 2 * max_events_)) {
    Erase(order_.front());
    order_.pop_front();
  }
}

void DeliveryManager::FrameCache::Erase(uint64_t seq) {
  auto it = frames_.find(seq);
  if (it == frames_.end()) return;
  bytes_ -= it->second->size();
  frames_.erase(it);
}

DeliveryManager::DeliveryManager(EventStore& store, DeliveryOptions options, DeliverFn deliver)
    : store_(store),
      options_(options),
      deliver_(std::move(deliver)),
      cache_(options.cache_events, options.cache_bytes),
      read_ahead_(options.read_ahead_events, options.read_ahead_bytes) {}

base::Status DeliveryManager::Subscribe(const std::string& agency, const std::string& peer,
                                        const schema::Subscribe& request, int64_t now_us) {
  auto previous = subs_.find(agency);
  if (previous != subs_.end()) {
    agency_by_peer_.erase(previous->second.peer);
    EndSubscription(previous);
  }
  Subscription sub;
  sub.agency = agency;
  sub.peer = peer;
  sub.credit = std::clamp<uint32_t>(request.credit, 1, options_.max_credit);
  switch (request.resume) {
    case schema::Subscribe::Resume::kStoredCursor:
      sub.scanned_to = 0;
      break;
    case schema::Subscribe::Resume::kFromSeq:
      sub.scanned_to = request.from_seq > 0 ? request.from_seq - 1 : 0;
      break;
    case schema::Subscribe::Resume::kFromNow:
      sub.scanned_to = store_.HeadSeq();
      break;
  }
  agency_by_peer_[peer] = agency;
  subs_.emplace(agency, std::move(sub));
  PumpOne(subs_.at(agency), now_us);
  return base::Ok();
}

void DeliveryManager::Disconnected(const std::string& peer) {
  auto it = agency_by_peer_.find(peer);
  if (it == agency_by_peer_.end()) return;
  auto sub = subs_.find(it->second);
  if (sub != subs_.end() && sub->second.peer == peer) {
    stats_.in_flight -= sub->second.in_flight.size();
    EndSubscription(sub);
  }
  agency_by_peer_.erase(it);
}

void DeliveryManager::EndSubscription(std::map<std::string, Subscription>::iterator sub) {
  if (!sub->second.in_flight.empty()) {
    auto& attempts = attempts_[sub->first];
    for (const auto& [seq, f] : sub->second.in_flight) attempts[seq] = f.attempt;
  }
  subs_.erase(sub);
}

uint32_t DeliveryManager::PriorAttempts(const std::string& agency, uint64_t seq) const {
  auto attempts = attempts_.find(agency);
  if (attempts == attempts_.end()) return 0;
  auto it = attempts->second.find(seq);
  return it != attempts->second.end() ? it->second : 0;
}

void DeliveryManager::Drop(const std::string& agency) {
  auto sub = subs_.find(agency);
  if (sub == subs_.end()) return;
  Disconnected(sub->second.peer);
}

void DeliveryManager::Settle(const std::string& agency, uint64_t seq) {
  auto sub = subs_.find(agency);
  if (sub != subs_.end()) {
    if (EraseInFlight(sub->second, seq)) --stats_.in_flight;
    sub->second.nacked.erase(seq);
  }
  auto attempts = attempts_.find(agency);
  if (attempts != attempts_.end()) attempts->second.erase(seq);
  ++stats_.acked;
}

void DeliveryManager::Ack(const std::string& agency, uint64_t seq) {
  Settle(agency, seq);
  store_.RecordAck(agency, seq);
}

void DeliveryManager::Ack(const std::string& agency, const std::vector<uint64_t>& seqs) {
  for (uint64_t seq : seqs) Settle(agency, seq);
  store_.RecordAcks(agency, seqs);
}

void DeliveryManager::AckFromStream(const std::string& agency, uint64_t seq) {
  auto sub = subs_.find(agency);
  if (sub != subs_.end()) {  // not sent yet here: it never will be
    auto& live = sub->second.live;
    live.erase(std::remove(live.begin(), live.end(), seq), live.end());
  }
  Settle(agency, seq);
  store_.RecordAckFromStream(agency, seq);
}

void DeliveryManager::Nack(const std::string& agency, uint64_t seq, const std::string& reason,
                           int64_t now_us) {
  auto sub = subs_.find(agency);
  if (sub == subs_.end()) return;
  auto it = sub->second.in_flight.find(seq);
  if (it == sub->second.in_flight.end()) return;
  sub->second.deadlines.erase({it->second.due_us, seq});
  it->second.due_us = now_us + Backoff(it->second.attempt);
  sub->second.deadlines.emplace(it->second.due_us, seq);
  sub->second.nacked[seq] = reason.substr(0, 200);
}

void DeliveryManager::Appended(uint64_t seq, base::TimeMs received_at, schema::Envelope envelope,
                               const std::vector<std::string>& recipients, int64_t now_us) {
  cache_.Put(seq, EncodeDeliver(seq, received_at, 1, std::move(envelope)));
  for (const auto& agency : recipients) {
    auto sub = subs_.find(agency);
    if (sub == subs_.end()) continue;
    if (sub->second.caught_up && seq > sub->second.scanned_to) {
      if (sub->second.live.size() < options_.max_live) {
        sub->second.live.push_back(seq);
        sub->second.scanned_to = seq;
      } else {
        sub->second.caught_up = false;  // seqs after scanned_to come from the store
      }
    }
    PumpOne(sub->second, now_us);
  }
}

void DeliveryManager::Rescan(const std::string& agency, uint64_t seq) {
  auto attempts = attempts_.find(agency);
  if (attempts != attempts_.end()) attempts->second.erase(seq);
  auto sub = subs_.find(agency);
  if (sub == subs_.end()) return;
  sub->second.caught_up = false;
  sub->second.live.clear();
  sub->second.scanned_to = std::min(sub->second.scanned_to, seq > 0 ? seq - 1 : 0);
}

void DeliveryManager::Withhold(const std::vector<uint64_t>& seqs) {
  for (uint64_t seq : seqs) {
    cache_.Erase(seq);
    read_ahead_.Erase(seq);
    for (auto& [agency, sub] : subs_) {
      if (EraseInFlight(sub, seq)) --stats_.in_flight;
      sub.nacked.erase(seq);
      sub.live.erase(std::remove(sub.live.begin(), sub.live.end(), seq), sub.live.end());
    }
  }
}

int64_t DeliveryManager::Pump(int64_t now_us) {
  int64_t next = now_us + 1'000'000;
  std::vector<std::string> gone;
  for (auto& [agency, sub] : subs_) {
    PumpOne(sub, now_us);
    if (sub.gone) gone.push_back(sub.peer);
    if (!sub.deadlines.empty()) next = std::min(next, sub.deadlines.begin()->first);
  }
  for (const auto& peer : gone) Disconnected(peer);
  return next;
}

void DeliveryManager::PumpOne(Subscription& sub, int64_t now_us) {
  if (sub.gone) return;
  Redeliver(sub, now_us);
  while (!sub.gone && sub.in_flight.size() < sub.credit) {
    if (!sub.live.empty()) {
      uint64_t seq = sub.live.front();
      if (!IsCached(seq)) {  // behind the cache: read this and the next ones in one query
        std::vector<uint64_t> next;
        for (size_t i = 0; i < sub.live.size() && next.size() < options_.read_chunk; ++i) {
          next.push_back(sub.live[i]);
        }
        Prefetch(next);
      }
      sub.live.pop_front();
      if (!sub.in_flight.count(seq)) Send(sub, seq, PriorAttempts(sub.agency, seq) + 1, now_us);
      continue;
    }
    if (sub.caught_up) break;
    FillFromStore(sub, now_us);
    if (sub.live.empty()) break;
  }
}

void DeliveryManager::FillFromStore(Subscription& sub, int64_t now_us) {
  (void)now_us;
  size_t want = std::max<size_t>(sub.credit - sub.in_flight.size(), 64);
  auto pending = store_.Pending(sub.agency, sub.scanned_to, want);
  if (!pending) {
    base::LogError("delivery_scan_failed",
                   {{"agency", sub.agency}, {"code", pending.error().code}});
    return;
  }
  for (uint64_t seq : *pending) {
    sub.live.push_back(seq);
    sub.scanned_to = std::max(sub.scanned_to, seq);
  }
  if (pending->size() < want) sub.caught_up = true;
}

void DeliveryManager::Prefetch(const std::vector<uint64_t>& seqs) {
  std::vector<uint64_t> missing;
  for (uint64_t seq : seqs) {
    if (!IsCached(seq)) missing.push_back(seq);
  }
  if (missing.size() < 2) return;  // a single read is no cheaper ahead of time
  auto events = store_.ReadMany(missing);
  if (!events) {
    base::LogError("delivery_read_failed", {{"code", events.error().code}});
    return;  // Send reads them one by one
  }
  for (auto& e : *events) {
    read_ahead_.Put(e.seq, EncodeDeliver(e.seq, e.received_at, 1, std::move(e.envelope)));
  }
}

void DeliveryManager::AddInFlight(Subscription& sub, uint64_t seq, InFlight f) {
  auto [it, inserted] = sub.in_flight.try_emplace(seq, f);
  if (!inserted) {
    sub.deadlines.erase({it->second.due_us, seq});
    it->second = f;
  }
  sub.deadlines.emplace(f.due_us, seq);
}

bool DeliveryManager::EraseInFlight(Subscription& sub, uint64_t seq) {
  auto it = sub.in_flight.find(seq);
  if (it == sub.in_flight.end()) return false;
  sub.deadlines.erase({it->second.due_us, seq});
  sub.in_flight.erase(it);
  return true;
}

void DeliveryManager::Redeliver(Subscription& sub, int64_t now_us) {
  std::vector<uint64_t> due;
  for (auto it = sub.deadlines.begin(); it != sub.deadlines.end() && it->first <= now_us; ++it) {
    due.push_back(it->second);
  }
  if (due.empty()) return;
  std::sort(due.begin(), due.end());  // redelivered in seq order
  for (uint64_t seq : due) {
    uint32_t attempt = sub.in_flight[seq].attempt;
    if (attempt >= options_.max_attempts) {
      auto reason = sub.nacked.count(seq) ? sub.nacked[seq] : std::string("no ack within timeout");
      store_.RecordDeadLetter(sub.agency, seq, attempt, reason);
      EraseInFlight(sub, seq);
      sub.nacked.erase(seq);
      if (auto attempts = attempts_.find(sub.agency); attempts != attempts_.end()) {
        attempts->second.erase(seq);
      }
      --stats_.in_flight;
      ++stats_.dead_lettered;
      base::LogWarn("dead_letter", {{"agency", sub.agency}, {"seq", seq}, {"attempts", attempt}});
      continue;
    }
    EraseInFlight(sub, seq);
    --stats_.in_flight;
    ++stats_.redelivered;
    if (!Send(sub, seq, attempt + 1, now_us)) {
      attempts_[sub.agency][seq] = attempt;  // its connection is gone: the count goes on later
      return;
    }
  }
}

bool DeliveryManager::Send(Subscription& sub, uint64_t seq, uint32_t attempt, int64_t now_us) {
  base::SharedBytes frame = Lookup(seq);
  if (frame == nullptr) return true;  // erased or unreadable: nothing to deliver
  if (attempt != 1) {
    frame = WithAttempt(*frame, attempt);
    if (frame == nullptr) {
      base::LogError("delivery_encode_failed", {{"seq", seq}});
      return true;
    }
  }
  if (!deliver_(sub.peer, frame)) {
    sub.gone = true;
    return false;
  }
  RELAIS_CRASH_POINT("during_delivery");
  AddInFlight(sub, seq, InFlight{attempt, now_us + Backoff(attempt)});
  ++stats_.in_flight;
  ++stats_.delivered;
  return true;
}

base::SharedBytes DeliveryManager::Cached(uint64_t seq) const {
  base::SharedBytes frame = cache_.Find(seq);
  return frame != nullptr ? frame : read_ahead_.Find(seq);
}

base::SharedBytes DeliveryManager::Lookup(uint64_t seq) {
  if (base::SharedBytes frame = Cached(seq)) return frame;
  auto read = store_.Read(seq);
  if (!read) {
    base::LogError("delivery_read_failed", {{"seq", seq}, {"code", read.error().code}});
    return nullptr;
  }
  return EncodeDeliver(seq, read->received_at, 1, std::move(read->envelope));
}

int64_t DeliveryManager::Backoff(uint32_t attempt) const {
  int64_t b = options_.ack_timeout_us;
  for (uint32_t i = 1; i < attempt && b < options_.max_backoff_us; ++i) b *= 2;
  return std::min(b, options_.max_backoff_us);
}

}  // namespace relais::broker
