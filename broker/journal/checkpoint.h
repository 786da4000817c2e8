// Signed checkpoints of the journal head, their export file and witness countersignatures
// (docs/journal-format.md §5 has the byte layouts and the file grammar).
//
//   checkpoint message = "relais-checkpoint-v1" (20 ASCII bytes) ‖ u64be seq ‖ headHash (32)
//                        ‖ i64be time
//   broker signature   = Ed25519(broker key, checkpoint message)
//   witness message    = "relais-checkpoint-witness-v1" (28 ASCII bytes) ‖ checkpoint message
//                        ‖ broker signature (64) ‖ u32be len ‖ witness agency ‖ i64be witnessedAt
//   witness signature  = Ed25519(witness key, witness message)
//
// Pure functions; thread-safe. Messages of errors name seqs and key ids, never key material.
#ifndef RELAIS_BROKER_JOURNAL_CHECKPOINT_H_
#define RELAIS_BROKER_JOURNAL_CHECKPOINT_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/hash.h"
#include "crypto/secret.h"

namespace relais::journal {

struct Checkpoint {
  uint64_t seq = 0;
  crypto::Digest head_hash{};  // entryHash of `seq`
  base::TimeMs time = 0;
  std::string key_id;  // crypto::KeyId of the signing key
  base::Bytes signature;
  bool operator==(const Checkpoint&) const = default;
};

struct Witness {
  std::string agency;
  std::string key_id;
  base::TimeMs witnessed_at = 0;
  base::Bytes signature;
  bool operator==(const Witness&) const = default;
};

// What an exported checkpoint file holds.
struct CheckpointFile {
  Checkpoint checkpoint;
  std::vector<Witness> witnesses;
  bool operator==(const CheckpointFile&) const = default;
};

// Ed25519 public keys trusted for a role (the broker's checkpoint keys, or witnesses), by key id.
class KeySet {
 public:
  // `owner` is an agency id or "broker"; `public_key` must be 32 bytes (CHECK).
  void Add(std::string owner, base::ByteView public_key);
  struct Entry {
    std::string owner;
    base::Bytes public_key;
  };
  const Entry* Find(const std::string& key_id) const;
  bool empty() const { return keys_.empty(); }

 private:
  std::map<std::string, Entry> keys_;
};

// The public half of a 64-byte libsodium Ed25519 secret key (its last 32 bytes).
base::Bytes SigningPublicKey(const crypto::Secret& secret_key);

base::Bytes CheckpointMessage(uint64_t seq, const crypto::Digest& head_hash, base::TimeMs time);
Checkpoint SignCheckpoint(uint64_t seq, const crypto::Digest& head_hash, base::TimeMs time,
                          const crypto::Secret& broker_key);
// kUnauthenticated "unknown_checkpoint_key" when key_id is not in `broker_keys`;
// kUnauthenticated "bad_checkpoint_signature" when the signature does not verify.
base::Status VerifyCheckpoint(const Checkpoint& checkpoint, const KeySet& broker_keys);

base::Bytes WitnessMessage(const Checkpoint& checkpoint, std::string_view agency,
                           base::TimeMs witnessed_at);
// Checks the broker signature against `broker_keys` first (a witness never signs what it cannot
// attribute), then appends this witness's countersignature.
base::Status Countersign(CheckpointFile& file, const std::string& agency,
                         const crypto::Secret& witness_key, base::TimeMs now,
                         const KeySet& broker_keys);
// Every witness line must verify against `witness_keys` (kUnauthenticated "unknown_witness_key"
// or "bad_witness_signature" naming the agency), and at least `min_witnesses` distinct agencies
// must have signed (kNotAuthorised "too_few_witnesses").
base::Status VerifyWitnesses(const CheckpointFile& file, const KeySet& witness_keys,
                             size_t min_witnesses);

// The text form. Parsing is strict (kInvalidInput "bad_checkpoint_file" naming the line) and
// limited to kMaxCheckpointFileBytes and kMaxWitnesses.
inline constexpr size_t kMaxCheckpointFileBytes = size_t{64} * 1024;
inline constexpr size_t kMaxWitnesses = 64;
std::string FormatCheckpointFile(const CheckpointFile& file);
base::Result<CheckpointFile> ParseCheckpointFile(std::string_view text);
base::Status WriteCheckpointFile(const std::filesystem::path& path, const CheckpointFile& file);
base::Result<CheckpointFile> ReadCheckpointFile(const std::filesystem::path& path);

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_CHECKPOINT_H_
