// Derived state kept in the journal database (docs/journal-format.md §4).
//
// Two kinds of writes change it:
//   - DerivedMutation: computed by the broker from an event and passed with its append; applied in
//     the same transaction as the entry. These are pure functions of the log: Journal::Rebuild
//     replays them from seq 1 and must reach the same tables.
//   - DeliveryUpdate: acknowledgements, redelivery attempts and dead letters. They are not log
//     events (nothing is appended to the chain), so a rebuild keeps them (see Journal::Rebuild).
// New mutation kinds are added as new alternatives at the end of the variants.
#ifndef RELAIS_BROKER_JOURNAL_DERIVED_H_
#define RELAIS_BROKER_JOURNAL_DERIVED_H_

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "schema/envelope.h"

namespace relais::journal {

// --- Mutations carried by an append; they apply to the entry being appended (its seq, case ref
// and kind). None of them can fail on valid input: they are upserts or no-ops.

// A delivery of this entry to `agency` becomes pending (no-op if it already exists).
struct EnqueueDelivery {
  std::string agency;
  base::TimeMs next_attempt_at = 0;
};
// The case of this entry: its state text, due date, last event kind and updated seq.
struct SetCaseState {
  std::string state;
  base::TimeMs due_at = 0;
};
// Records (or replaces) consent `consent_id` for this entry's case, active from this seq.
// `terms` are opaque to the journal (the broker's encoding of schema::ConsentTerms).
struct GrantConsent {
  std::string consent_id;
  base::Bytes terms;
};
// Marks consent `consent_id` withdrawn at this seq (no-op if unknown).
struct WithdrawConsent {
  std::string consent_id;
};
// Every still-pending delivery of an entry of this case becomes dead with `reason` (consent
// withdrawal, cancellation).
struct StopCaseDeliveries {
  std::string reason;
};

// This entry was ingested from the replicated stream (JetStream mode, docs/scale-out.md): it is
// another instance's event, stored there at `stream_seq`. Not a function of the log (a rebuild
// keeps these rows, like acknowledgements); the forwarder never sends such an entry back.
struct FromStream {
  uint64_t stream_seq = 0;
};

using DerivedMutation = std::variant<EnqueueDelivery, SetCaseState, GrantConsent, WithdrawConsent,
                                     StopCaseDeliveries, FromStream>;

// --- Delivery updates (operational state, not log events).

// `agency` has acknowledged `seq` (and the seqs in `more`, acknowledged together: one request
// for an ack frame). Idempotent; acknowledging a dead letter also settles it. Every seq is
// updated; kNotFound "no_delivery" names the first that has no delivery to `agency`.
// `at` (the broker's clock) is kept as the delivery's acknowledgement time: the moment the
// recipient's system confirmed it holds the event (the first acknowledgement counts).
struct AckDelivery {
  std::string agency;
  uint64_t seq = 0;
  base::TimeMs at = 0;
  std::vector<uint64_t> more = {};
};
// Acknowledges every pending delivery to `agency` with a seq <= `seq`.
struct AdvanceCursor {
  std::string agency;
  uint64_t seq = 0;
  base::TimeMs at = 0;
};
// A delivery attempt was made; the next one is due at `next_attempt_at`. kNotFound "no_delivery".
struct RecordAttempt {
  std::string agency;
  uint64_t seq = 0;
  uint32_t attempts = 0;
  base::TimeMs next_attempt_at = 0;
};
// The delivery failed for good. kNotFound "no_delivery".
struct DeadLetter {
  std::string agency;
  uint64_t seq = 0;
  uint32_t attempts = 0;
  std::string reason;
};
// A dead letter becomes pending again (attempts reset). An empty agency requeues the dead letters
// of `seq` for every agency. kNotFound "no_dead_letter" when there is none.
struct RequeueDelivery {
  std::string agency;
  uint64_t seq = 0;
};

using DeliveryUpdate =
    std::variant<AckDelivery, AdvanceCursor, RecordAttempt, DeadLetter, RequeueDelivery>;

// --- Rows as read back (JournalReader).

enum class DeliveryState { kPending, kAcked, kDead };
const char* DeliveryStateName(DeliveryState state);  // "pending", "acked", "dead"
std::optional<DeliveryState> ParseDeliveryState(std::string_view name);

struct DeliveryRow {
  std::string agency;
  uint64_t seq = 0;
  DeliveryState state = DeliveryState::kPending;
  uint32_t attempts = 0;
  base::TimeMs next_attempt_at = 0;
  std::string reason;
  base::TimeMs acked_at = 0;  // 0 unless acked
  bool operator==(const DeliveryRow&) const = default;
};

// One entry of a case with one of its deliveries (or none: agency empty), for the person's
// disclosure receipt. Metadata only.
struct DisclosureRow {
  uint64_t seq = 0;
  schema::EventKind kind = schema::EventKind::kUnknown;
  std::string emitter;
  base::TimeMs received_at = 0;  // when the broker journaled the entry
  std::string agency;            // recipient; empty for an entry without deliveries
  DeliveryState state = DeliveryState::kPending;
  base::TimeMs acked_at = 0;
  std::string reason;  // why a delivery is dead (consent withdrawn, ...)
  bool operator==(const DisclosureRow&) const = default;
};

struct CaseRow {
  std::string case_ref;
  schema::EventKind last_kind = schema::EventKind::kUnknown;
  std::string state;
  base::TimeMs due_at = 0;
  uint64_t updated_seq = 0;
  bool operator==(const CaseRow&) const = default;
};

struct ConsentRow {
  std::string consent_id;
  std::string case_ref;
  base::Bytes terms;
  bool active = false;
  uint64_t granted_seq = 0;
  uint64_t withdrawn_seq = 0;  // 0 while active
  bool operator==(const ConsentRow&) const = default;
};

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_DERIVED_H_
