#include "broker/journal/case_number_index.h"

#include <cstring>
#include <limits>

#include "base/bytes.h"
#include "crypto/hash.h"

namespace relais::journal::internal {

CaseNumberIndex::Key CaseNumberIndex::KeyOf(std::string_view case_ref) {
  const crypto::Digest d =
      crypto::Blake2b({base::AsBytes("relais-case-number-v1"), base::AsBytes(case_ref)});
  Key k;
  std::memcpy(&k.hi, d.data(), sizeof k.hi);
  std::memcpy(&k.lo, d.data() + sizeof k.hi, sizeof k.lo);
  return k;
}

size_t CaseNumberIndex::Probe(const Key& key) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = key.hi & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.no == 0 || (s.hi == key.hi && s.lo == key.lo)) return i;
  }
}

std::optional<int64_t> CaseNumberIndex::Find(std::string_view case_ref) const {
  if (!wide_.empty()) {
    if (auto it = wide_.find(std::string(case_ref)); it != wide_.end()) return it->second;
  }
  if (slots_.empty()) return std::nullopt;
  const Slot& s = slots_[Probe(KeyOf(case_ref))];
  if (s.no == 0) return std::nullopt;
  return static_cast<int64_t>(s.no);
}

void CaseNumberIndex::Insert(std::string_view case_ref, int64_t case_no) {
  if (case_no > std::numeric_limits<uint32_t>::max()) {
    wide_.emplace(std::string(case_ref), case_no);
    return;
  }
  if ((size_ + 1) * 8 > slots_.size() * 7) Grow();
  const Key key = KeyOf(case_ref);
  Slot& s = slots_[Probe(key)];
  if (s.no == 0) ++size_;
  s = Slot{key.hi, key.lo, static_cast<uint32_t>(case_no)};
}

void CaseNumberIndex::Erase(std::string_view case_ref) {
  if (!wide_.empty() && wide_.erase(std::string(case_ref)) > 0) return;
  if (slots_.empty()) return;
  const size_t mask = slots_.size() - 1;
  size_t hole = Probe(KeyOf(case_ref));
  if (slots_[hole].no == 0) return;
  slots_[hole] = Slot{};
  --size_;
  // Backward shift: move up each following slot whose home lies at or before the hole.
  for (size_t i = (hole + 1) & mask; slots_[i].no != 0; i = (i + 1) & mask) {
    const size_t home = slots_[i].hi & mask;
    const bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
    if (movable) {
      slots_[hole] = slots_[i];
      slots_[i] = Slot{};
      hole = i;
    }
  }
}

void CaseNumberIndex::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : old.size() * 2, Slot{});
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.no == 0) continue;
    size_t i = s.hi & mask;
    while (slots_[i].no != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

}  // namespace relais::journal::internal
