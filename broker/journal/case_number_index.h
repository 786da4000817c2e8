// The case number of every case of the journal, by case ref, in 16-byte slots: the writer's
// map (batch_writer.h), also read by the broker to load a case by number (case_residency.cc).
//
// A case is keyed by a 96-bit BLAKE2b digest of its ref instead of the ref itself (36 bytes and
// a heap allocation). Two refs with the same digest would share a number; among a billion cases
// the chance is about 2^-37 (birthday bound), far below that of two random case refs colliding
// in their own 122 bits of randomness over the deployment's life, and finding such a pair on
// purpose costs about 2^48 hash evaluations per targeted case.
//
// 64 shards (by digest bits), each an open-addressing table with linear probing, at most 7/8
// full, doubling on its own: growth never copies more than one shard at a time, so the peak is
// not twice the index. An erase (the rollback of a case first seen in a failed transaction)
// shifts the following slots back, so no tombstones. Numbers above 2^32 - 1 go to a plain map
// (a journal would need four billion cases to use it).
//
// Not thread-safe: the writer guards it with its shared mutex.
#ifndef RELAIS_BROKER_JOURNAL_CASE_NUMBER_INDEX_H_
#define RELAIS_BROKER_JOURNAL_CASE_NUMBER_INDEX_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace relais::journal::internal {

class CaseNumberIndex {
 public:
  std::optional<int64_t> Find(std::string_view case_ref) const;
  // `case_ref` must not be present; `case_no` >= 1.
  void Insert(std::string_view case_ref, int64_t case_no);
  void Erase(std::string_view case_ref);
  size_t size() const;
  // Bytes held by the slots (for the tests and the documentation of the memory budget).
  size_t bytes() const;

 private:
  struct Slot {
    uint64_t hi = 0;
    uint32_t lo = 0;
    uint32_t no = 0;  // 0: empty (case numbers start at 1)
  };
  struct Key {
    uint64_t hi;
    uint32_t lo;
  };
  struct Shard {
    std::vector<Slot> slots;  // size a power of two, or empty
    size_t size = 0;
  };
  static constexpr size_t kShards = 64;
  static Key KeyOf(std::string_view case_ref);
  Shard& ShardOf(const Key& key) { return shards_[key.lo % kShards]; }
  const Shard& ShardOf(const Key& key) const { return shards_[key.lo % kShards]; }
  // The slot holding `key`, or the empty slot where it would go.
  static size_t Probe(const Shard& shard, const Key& key);
  static void Grow(Shard& shard);

  std::array<Shard, kShards> shards_;
  std::unordered_map<std::string, int64_t> wide_;
};

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_CASE_NUMBER_INDEX_H_
