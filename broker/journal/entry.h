// What goes into the journal and what comes back out (docs/journal-format.md §2).
#ifndef RELAIS_BROKER_JOURNAL_ENTRY_H_
#define RELAIS_BROKER_JOURNAL_ENTRY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "broker/journal/derived.h"
#include "crypto/hash.h"
#include "schema/envelope.h"

namespace relais::journal {

// One event to append. The broker has already decoded, validated and signature-checked the
// envelope; the journal checks only what its own integrity depends on (sizes, digests, and that
// `header` is what `envelope.header` decodes to) and never verifies the signature.
struct AppendRequest {
  schema::Envelope envelope;  // header bytes exactly as signed, sealed body, wraps, digests
  schema::Header header;      // schema::DecodeHeader(envelope.header)
  std::vector<DerivedMutation> mutations;  // applied in the same transaction as the entry
  // Give the envelope back in AppendResult::envelope once the append succeeded, so that a caller
  // that needs it afterwards (the broker delivers it) does not keep a copy meanwhile.
  bool hand_back = false;
};

struct AppendResult {
  uint64_t seq = 0;
  base::TimeMs received_at = 0;
  bool duplicate = false;  // the event id was already journaled: seq is the original's
  std::optional<schema::Envelope> envelope;  // the request's, when it asked for it (hand_back)
  bool operator==(const AppendResult&) const = default;
};

using AppendCallback = std::function<void(base::Result<AppendResult>)>;
using StatusCallback = std::function<void(base::Status)>;

// The last entry of the chain. seq 0 (and a zero hash) for an empty journal.
struct Head {
  uint64_t seq = 0;
  crypto::Digest hash{};
  base::TimeMs received_at = 0;
  bool operator==(const Head&) const = default;
};

// An entry as read back. `envelope` holds the stored header bytes, signature and digests; its body
// and wraps are empty when the case was erased (`erased`) or when sealed bytes were not asked for.
struct StoredEntry {
  uint64_t seq = 0;
  base::TimeMs received_at = 0;
  base::Bytes event_id;
  schema::EventKind kind = schema::EventKind::kUnknown;
  std::string case_ref;
  std::string emitter;
  base::TimeMs due_at = 0;
  schema::Envelope envelope;
  bool erased = false;
  crypto::Digest entry_hash{};
};

// Whether reads load the sealed body and wraps (delivery) or only metadata (audit, rebuild).
enum class ReadScope { kMetadata, kWithSealed };

// Called for each entry in seq order; returning false stops the iteration.
using EntryVisitor = std::function<bool(const StoredEntry&)>;

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_ENTRY_H_
