// The auditor's timeline of a journal, from metadata only (docs/audit.md): each entry's clear
// header (who sent what kind to whom, when, under which consent) and the delivery state of each
// recipient. Sealed bodies and wraps are never read (ReadScope::kMetadata).
//
// Reading is chunked: every chunk of entries is its own short read transaction, so a timeline of
// a large journal never holds a snapshot for long while relaisd appends to it.
//
// Threading: uses the caller's JournalReader on the calling thread.
#ifndef RELAIS_BROKER_JOURNAL_TIMELINE_H_
#define RELAIS_BROKER_JOURNAL_TIMELINE_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "broker/journal/derived.h"
#include "broker/journal/reader.h"
#include "schema/envelope.h"

namespace relais::journal {

// Which entries a timeline holds. Empty strings match everything; times are receivedAt, the
// broker's clock, in [from, to).
struct TimelineFilter {
  std::string case_ref;
  std::string agency;  // the emitter or one of the recipients
  base::TimeMs from = std::numeric_limits<base::TimeMs>::min();
  base::TimeMs to = std::numeric_limits<base::TimeMs>::max();
};

struct TimelineEvent {
  uint64_t seq = 0;
  base::TimeMs received_at = 0;
  schema::Header header;  // decoded from the stored header bytes (as signed)
  bool erased = false;    // the case's sealed bytes were crypto-shredded
  // Delivery of this entry to each recipient (derived state: pending, acked or dead).
  std::vector<DeliveryRow> deliveries;
};

// How far a long read got (for progress on a terminal): the last seq read and the head.
using ProgressFn = std::function<void(uint64_t seq, uint64_t head_seq)>;

inline constexpr size_t kTimelineChunk = 4096;  // entries per read transaction

// Visits the matching entries in seq order. Stored headers that do not decode are skipped and
// counted in `*undecodable` (verify reports them); `with_deliveries` false skips the delivery
// lookups (reports). Errors are the reader's I/O errors.
base::Status ReadTimeline(JournalReader& reader, const TimelineFilter& filter, bool with_deliveries,
                          const std::function<void(const TimelineEvent&)>& visit,
                          const ProgressFn& progress, uint64_t* undecodable);

// Whether the event matches the filter's agency and case (times are checked by ReadTimeline).
bool MatchesAgencyAndCase(const TimelineFilter& filter, const schema::Header& header);

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_TIMELINE_H_
