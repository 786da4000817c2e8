// The hash chain over journal entries (docs/journal-format.md §3 has the grammar).
//
//   entryHash(n) = BLAKE2b-256( prevHash      32 bytes, entryHash(n-1); 32 zero bytes for seq 1
//                             ‖ seq           u64 big-endian
//                             ‖ receivedAt    i64 big-endian, ms since the Unix epoch
//                             ‖ headerHash    32 bytes, BLAKE2b-256(header bytes as signed)
//                             ‖ signature     64 bytes, the emitter's Ed25519 signature
//                             ‖ bodyDigest    32 bytes
//                             ‖ wrapsDigest   32 bytes )
//
// The chain never covers the sealed body or wraps, only their digests, so erasing them keeps the
// chain verifiable. ChainVerifier additionally checks everything else a row stores: the sealed
// bytes against their digests (while present) and the metadata columns against the header.
// Pure functions and a single-threaded checker; no I/O.
#ifndef RELAIS_BROKER_JOURNAL_CHAIN_H_
#define RELAIS_BROKER_JOURNAL_CHAIN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "broker/journal/entry.h"
#include "crypto/hash.h"

namespace relais::journal {

inline constexpr crypto::Digest kGenesisHash{};  // prevHash of seq 1
inline constexpr size_t kEntryHashInputSize = 32 + 8 + 8 + 32 + 64 + 32 + 32;
inline constexpr size_t kSignatureSize = 64;

struct ChainLink {
  uint64_t seq = 0;
  base::TimeMs received_at = 0;
  crypto::Digest header_hash{};
  base::ByteView signature;     // 64 bytes
  base::ByteView body_digest;   // 32 bytes
  base::ByteView wraps_digest;  // 32 bytes
};

// The exact bytes hashed (kEntryHashInputSize of them). CHECK-fails on wrong field sizes: callers
// validate sizes before building a link.
base::Bytes EntryHashInput(const crypto::Digest& prev_hash, const ChainLink& link);
crypto::Digest EntryHash(const crypto::Digest& prev_hash, const ChainLink& link);

// One stored row as raw column values (views valid for the duration of a Check call).
struct RowView {
  uint64_t seq = 0;
  base::TimeMs received_at = 0;
  base::ByteView event_id;
  int64_t kind = 0;
  std::string_view case_ref;
  std::string_view emitter;
  base::TimeMs due_at = 0;
  base::ByteView header;
  base::ByteView signature;
  base::ByteView body_digest;
  base::ByteView wraps_digest;
  std::optional<base::ByteView> body;   // nullopt: NULL (erased)
  std::optional<base::ByteView> wraps;  // nullopt: NULL (erased)
  base::ByteView entry_hash;
  bool case_index_ok = true;  // the row's case number matches case_keys for its case ref
};

// The first problem found: which seq and what (never stored values, only column names).
struct ChainFault {
  uint64_t seq = 0;
  std::string reason;
};

// kCorruption "chain_broken", message "first bad seq N: reason".
base::Error FaultError(const ChainFault& fault);

// Checks rows given in ascending seq order, starting right after `start` (Head{} for seq 1).
class ChainVerifier {
 public:
  explicit ChainVerifier(const Head& start);

  // Returns the first problem of `row` (a missing predecessor counts), or nullopt after
  // advancing the head to `row`.
  std::optional<ChainFault> Check(const RowView& row);

  const Head& head() const { return head_; }
  uint64_t rows_checked() const { return rows_; }

 private:
  std::optional<std::string> CheckSizes(const RowView& row) const;
  std::optional<std::string> CheckSealed(const RowView& row) const;
  std::optional<std::string> CheckHeaderColumns(const RowView& row) const;

  Head head_;
  uint64_t rows_ = 0;
};

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_CHAIN_H_
