#include "broker/case_recovery.h"

#include <algorithm>

#include "base/log.h"
#include "schema/codec.h"

namespace relais::broker {

CaseRecovery::CaseRecovery(EventStore& store, CaseEngine& engine,
                           std::shared_ptr<const RegistryView> registry, base::TimeMs now)
    : store_(store),
      engine_(engine),
      registry_(std::move(registry)),
      now_(now),
      end_seq_(store.HeadSeq()),
      started_us_(base::MonotonicMicros()) {
  engine_.BeginReplay(&loaded_);
}

void CaseRecovery::Apply(uint64_t seq, const base::Bytes& header_bytes, bool on_demand) {
  auto h = schema::DecodeHeader(header_bytes);
  if (!h) {
    ++events_;
    base::LogError("replay_undecodable_header", {{"seq", seq}});
    return;
  }
  // An entry of a loaded case was applied by its load, with every later entry of the case.
  if (!on_demand && loaded_.count(h->case_ref)) return;
  ++events_;
  // An evicted case is read back up to the entry before this one (Load reads it back first).
  if (!on_demand) engine_.ReplayPosition(seq - 1);
  Effects fx = engine_.Apply(*h, seq, registry_.get(), now_);
  for (auto& e : fx.emissions) emissions_.push_back(std::move(e));
  if (fx.erase) erased_.push_back(*fx.erase);
}

base::Status CaseRecovery::Step(size_t max_headers, int64_t max_us, uint64_t limit_seq) {
  if (done()) return base::Ok();
  const uint64_t last = std::min(end_seq_, limit_seq);
  if (next_seq_ > last) return base::Ok();
  const int64_t deadline = base::MonotonicMicros() + max_us;
  size_t visited = 0;
  RELAIS_RETURN_IF_ERROR(store_.Replay(next_seq_, [&](uint64_t seq, const base::Bytes& header) {
    if (seq > last) return false;
    Apply(seq, header, /*on_demand=*/false);
    next_seq_ = seq + 1;
    ++visited;
    // The clock is read every 64 headers only.
    return visited < max_headers && (visited % 64 != 0 || base::MonotonicMicros() < deadline);
  }));
  if (visited == 0 || next_seq_ > last) {
    // Nothing (more) stored up to `last`: seqs are dense, but a store may have holes.
    next_seq_ = std::max(next_seq_, last + 1);
  }
  if (done()) loaded_.clear();  // every case is complete now
  return base::Ok();
}

base::Status CaseRecovery::Load(const std::string& case_ref) {
  if (done() || loaded_.count(case_ref)) return base::Ok();
  // Evicted (bounded residency): its entries before the position are read back first.
  engine_.ReplayPosition(next_seq_ - 1);
  RELAIS_RETURN_IF_ERROR(engine_.EnsureCase(case_ref));
  RELAIS_RETURN_IF_ERROR(
      store_.ReplayCase(case_ref, next_seq_, [&](uint64_t seq, const base::Bytes& header) {
        if (seq > end_seq_) return false;  // appended since the start: applied after its commit
        Apply(seq, header, /*on_demand=*/true);
        return true;
      }));
  loaded_.insert(case_ref);
  return base::Ok();
}

base::Status CaseRecovery::Prepare(const schema::Header& h) {
  if (done()) return base::Ok();
  if (h.kind == schema::EventKind::kConsentGranted && h.consent && !h.consent->consent_id.empty()) {
    RELAIS_ASSIGN_OR_RETURN(auto owner, store_.ConsentCase(h.consent->consent_id));
    if (owner && *owner != h.case_ref) RELAIS_RETURN_IF_ERROR(Load(*owner));
  }
  return Load(h.case_ref);
}

}  // namespace relais::broker
