// CaseEngine's residency: a bounded number of cases in memory, the others read back from the
// journal when they are needed (docs/lifecycle.md §3, "Cases in memory").
//
// Why a case read back is the case that was evicted. A case's state is a function of its entries
// applied in seq order (ApplyEvent touches cases_[ref], early_[ref], consents_of_case_[ref] and
// the consents granted by entries of ref only), plus the fired flags of timers whose emission is
// not journaled yet. Once the residency is bounded, Apply runs in seq order (the broker applies
// commits in the order the journal completes them), so every entry up to applied_seq_ has been
// applied and none after it: reading a case's entries up to applied_seq_ rebuilds exactly what was
// evicted, and an entry committed but not yet applied comes through Apply afterwards. A fired
// flag whose emission is not journaled yet is lost by an eviction: the timer fires again, with
// the same deterministic event id, and the journal keeps the first (duplicate = true).
// The counts (escalations, ruptures, accepted in time) are not counted again on a read-back.
// Evicted cases' deadlines wait in dormant_ (12 bytes each); when one is due its case is read
// back and its timers decide, as for any case in memory.
#include <algorithm>

#include "base/log.h"
#include "broker/case_engine.h"
#include "schema/codec.h"

namespace relais::broker {

void CaseEngine::BoundResidency(EventStore* store, uint64_t applied_seq, RegistrySource registry) {
  if (options_.max_resident_cases == 0 || store == nullptr) return;
  store_ = store;
  registry_ = std::move(registry);
  applied_seq_ = applied_seq;
  // Every case with state is resident now; the oldest are evicted first, in no particular order.
  for (const auto& [ref, c] : cases_) MarkUsed(ref);
  for (const auto& [ref, e] : early_) MarkUsed(ref);
  for (const auto& [ref, ids] : consents_of_case_) MarkUsed(ref);
  EvictBeyondBound();
}

void CaseEngine::BeginReplay(const std::unordered_set<std::string>* pinned) {
  if (store_ != nullptr) pinned_ = pinned;
}

void CaseEngine::ReplayPosition(uint64_t seq) {
  if (store_ != nullptr) applied_seq_ = seq;
}

void CaseEngine::EndReplay(uint64_t replayed_to) {
  if (store_ == nullptr) return;
  pinned_ = nullptr;
  // The live events applied meanwhile (seq > replayed_to) came in seq order.
  applied_seq_ = std::max(replayed_to, max_applied_);
  EvictBeyondBound();
}

CaseEngine::ResidencyCounts CaseEngine::Residency() const {
  return {store_ != nullptr ? resident_.size() : cases_.size(), dormant_.size(), loads_,
          evictions_};
}

base::Status CaseEngine::Ensure(const schema::Header& h) {
  if (store_ == nullptr) return base::Ok();
  if (h.kind == schema::EventKind::kConsentGranted && h.consent && !h.consent->consent_id.empty()) {
    // "consent id already used for another case" needs the case that owns the id in memory,
    // and still there once this event's case is: both are then the most recently used.
    std::optional<std::string> owner;
    if (auto it = consents_.find(h.consent->consent_id); it != consents_.end()) {
      owner = it->second.case_ref;
    } else {
      RELAIS_ASSIGN_OR_RETURN(owner, store_->ConsentCase(h.consent->consent_id));
    }
    if (owner && *owner != h.case_ref) RELAIS_RETURN_IF_ERROR(EnsureCase(*owner));
  }
  return EnsureCase(h.case_ref);
}

base::Status CaseEngine::EnsureCase(const std::string& case_ref) {
  if (store_ == nullptr) return base::Ok();
  if (auto it = resident_.find(case_ref); it != resident_.end()) {
    use_order_.splice(use_order_.end(), use_order_, it->second);
    return base::Ok();
  }
  // Not in memory: either never applied (nothing to read) or evicted.
  std::optional<int64_t> no;
  if (!evicted_.empty()) no = store_->CaseNumber(case_ref);
  if (no && static_cast<size_t>(*no) < evicted_.size() && evicted_[*no]) {
    std::string ref;
    RELAIS_RETURN_IF_ERROR(Load(*no, ref));
  }
  Touch(case_ref);
  return base::Ok();
}

base::Status CaseEngine::Load(int64_t case_no, std::string& case_ref) {
  case_ref.clear();
  bool skip = false;
  // The registry as the start-up replay uses it (the emitter's territory); the effects were had
  // when the entries were applied the first time.
  std::shared_ptr<const RegistryView> registry = registry_ ? registry_() : nullptr;
  loading_ = true;
  auto st = store_->ReplayCaseNumber(case_no, 1, [&](uint64_t seq, const base::Bytes& bytes) {
    if (seq > applied_seq_) return false;  // comes through Apply
    auto h = schema::DecodeHeader(bytes);
    if (!h) {
      base::LogError("case_read_back_undecodable", {{"seq", seq}});
      return true;
    }
    if (case_ref.empty()) {
      case_ref = h->case_ref;
      skip = resident_.count(case_ref) > 0;  // read back already (a superseded deadline)
      if (skip) return false;
    }
    ApplyOne(*h, seq, registry.get());
    return true;
  });
  loading_ = false;
  if (!st) {
    if (!skip && !case_ref.empty()) Drop(case_ref);  // no half-read case
    return st;
  }
  if (!skip && !case_ref.empty()) ++loads_;
  return base::Ok();
}

void CaseEngine::Touch(const std::string& case_ref) {
  MarkUsed(case_ref);
  EvictBeyondBound();
}

void CaseEngine::MarkUsed(const std::string& case_ref) {
  auto [it, inserted] = resident_.try_emplace(case_ref);
  if (inserted) {
    it->second = use_order_.insert(use_order_.end(), &it->first);
  } else {
    use_order_.splice(use_order_.end(), use_order_, it->second);
  }
}

void CaseEngine::EvictBeyondBound() {
  // At least the two cases one admission needs (its own and the owner of a consent id). The
  // pinned cases (loaded while the replay runs) do not count: they cannot be evicted.
  const size_t bound = std::max<size_t>(options_.max_resident_cases, 2);
  const size_t pinned = pinned_ != nullptr ? pinned_->size() : 0;
  if (store_ == nullptr) return;
  // The least recently used go first; the case used last is at the back, never among them.
  // A case that stays (pinned, or kept by Evict) goes to the back, so each is passed over once.
  size_t passed = 0;
  while (resident_.size() > bound + pinned && passed < resident_.size()) {
    const std::string* oldest = use_order_.front();
    if (pinned_ != nullptr && pinned_->count(*oldest)) {
      use_order_.splice(use_order_.end(), use_order_, use_order_.begin());
      ++passed;
      continue;
    }
    const size_t before = resident_.size();
    const std::string ref = *oldest;  // Evict erases the key it points at
    Evict(ref);
    if (resident_.size() == before) ++passed;  // kept (Evict moved it to the back)
  }
}

void CaseEngine::Evict(const std::string& case_ref) {
  const bool has_state =
      cases_.count(case_ref) || early_.count(case_ref) || consents_of_case_.count(case_ref);
  std::optional<int64_t> no;
  if (has_state) {
    no = store_->CaseNumber(case_ref);
    if (!no || *no < 0 || *no > std::numeric_limits<uint32_t>::max()) {
      // State comes from journaled entries, so the first cannot happen; the second needs four
      // billion cases. Keep the case in memory.
      MarkUsed(case_ref);
      return;
    }
  }
  auto t = timer_of_.find(case_ref);
  const base::TimeMs next =
      t != timer_of_.end() ? t->second : std::numeric_limits<base::TimeMs>::max();
  Drop(case_ref);
  if (!has_state) return;
  const auto index = static_cast<size_t>(*no);
  if (index >= evicted_.size()) evicted_.resize(std::max(index + 1, evicted_.size() * 2));
  if (index >= queued_due_.size()) queued_due_.resize(index + 1, kNothingQueued);
  evicted_[index] = true;
  // Queued once per deadline: a case read back and evicted again with the same next deadline
  // adds nothing, so the queue stays about one entry per evicted case with a deadline.
  if (next != std::numeric_limits<base::TimeMs>::max() && queued_due_[index] != next) {
    dormant_.emplace(next, static_cast<uint32_t>(*no));
    queued_due_[index] = next;
  }
  ++evictions_;
}

void CaseEngine::Drop(const std::string& case_ref) {
  if (auto t = timer_of_.find(case_ref); t != timer_of_.end()) {
    timers_.erase({t->second, case_ref});
    timer_of_.erase(t);
  }
  if (auto r = resident_.find(case_ref); r != resident_.end()) {
    use_order_.erase(r->second);
    resident_.erase(r);
  }
  cases_.erase(case_ref);
  early_.erase(case_ref);
  if (auto ids = consents_of_case_.find(case_ref); ids != consents_of_case_.end()) {
    for (const auto& id : ids->second) {
      auto consent = consents_.find(id);
      if (consent != consents_.end() && consent->second.case_ref == case_ref) {
        consents_.erase(consent);
      }
    }
    consents_of_case_.erase(ids);
  }
}

base::Status CaseEngine::WakeDormant(base::TimeMs now, size_t max) {
  for (size_t woken = 0; woken < max && !dormant_.empty() && dormant_.top().due() <= now; ++woken) {
    const Dormant due = dormant_.top();
    dormant_.pop();
    const auto index = static_cast<size_t>(due.case_no);
    if (queued_due_[index] != due.due()) continue;  // superseded by a later deadline
    queued_due_[index] = kNothingQueued;
    std::string ref;
    if (auto st = Load(due.case_no, ref); !st) {
      // Tried again a second later (not at once: a read error would make the timer loop spin).
      const Dormant retry(now + 1000, due.case_no);
      dormant_.push(retry);
      queued_due_[index] = retry.due();
      return st;
    }
    // Not Touch: no eviction before its timers had their turn in DueTimers.
    if (!ref.empty()) MarkUsed(ref);
  }
  return base::Ok();
}

}  // namespace relais::broker
