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

size_t CaseNumberIndex::Probe(const Shard& shard, const Key& key) {
  const size_t mask = shard.slots.size() - 1;
  for (size_t i = key.hi & mask;; i = (i + 1) & mask) {
    const Slot& s = shard.slots[i];
    if (s.no == 0 || (s.hi == key.hi && s.lo == key.lo)) return i;
  }
}

size_t CaseNumberIndex::size() const {
  size_t n = wide_.size();
  for (const Shard& shard : shards_) n += shard.size;
  return n;
}

size_t CaseNumberIndex::bytes() const {
  size_t n = 0;
  for (const Shard& shard : shards_) n += shard.slots.capacity() * sizeof(Slot);
  return n;
}

std::optional<int64_t> CaseNumberIndex::Find(std::string_view case_ref) const {
  if (!wide_.empty()) {
    if (auto it = wide_.find(std::string(case_ref)); it != wide_.end()) return it->second;
  }
  const Key key = KeyOf(case_ref);
  const Shard& shard = ShardOf(key);
  if (shard.slots.empty()) return std::nullopt;
  const Slot& s = shard.slots[Probe(shard, key)];
  if (s.no == 0) return std::nullopt;
  return static_cast<int64_t>(s.no);
}

void CaseNumberIndex::Insert(std::string_view case_ref, int64_t case_no) {
  if (case_no > std::numeric_limits<uint32_t>::max()) {
    wide_.emplace(std::string(case_ref), case_no);
    return;
  }
  const Key key = KeyOf(case_ref);
  Shard& shard = ShardOf(key);
  if ((shard.size + 1) * 8 > shard.slots.size() * 7) Grow(shard);
  Slot& s = shard.slots[Probe(shard, key)];
  if (s.no == 0) ++shard.size;
  s = Slot{key.hi, key.lo, static_cast<uint32_t>(case_no)};
}

void CaseNumberIndex::Erase(std::string_view case_ref) {
  if (!wide_.empty() && wide_.erase(std::string(case_ref)) > 0) return;
  const Key key = KeyOf(case_ref);
  Shard& shard = ShardOf(key);
  if (shard.slots.empty()) return;
  std::vector<Slot>& slots = shard.slots;
  const size_t mask = slots.size() - 1;
  size_t hole = Probe(shard, key);
  if (slots[hole].no == 0) return;
  slots[hole] = Slot{};
  --shard.size;
  // Backward shift: move up each following slot whose home lies at or before the hole.
  for (size_t i = (hole + 1) & mask; slots[i].no != 0; i = (i + 1) & mask) {
    const size_t home = slots[i].hi & mask;
    const bool movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
    if (movable) {
      slots[hole] = slots[i];
      slots[i] = Slot{};
      hole = i;
    }
  }
}

void CaseNumberIndex::Grow(Shard& shard) {
  std::vector<Slot> old = std::move(shard.slots);
  shard.slots.assign(old.empty() ? 64 : old.size() * 2, Slot{});
  const size_t mask = shard.slots.size() - 1;
  for (const Slot& s : old) {
    if (s.no == 0) continue;
    size_t i = s.hi & mask;
    while (shard.slots[i].no != 0) i = (i + 1) & mask;
    shard.slots[i] = s;
  }
}

}  // namespace relais::journal::internal
