#include "broker/journal/timeline.h"

#include <algorithm>
#include <optional>

#include "schema/codec.h"

namespace relais::journal {

namespace {

bool TimeMatches(const TimelineFilter& f, base::TimeMs t) { return t >= f.from && t < f.to; }

// One chunk of entries with seq >= from_seq, at most kTimelineChunk of them.
base::Result<std::vector<StoredEntry>> ReadChunk(JournalReader& reader, uint64_t from_seq) {
  std::vector<StoredEntry> chunk;
  RELAIS_RETURN_IF_ERROR(reader.ForEachFrom(
      from_seq,
      [&chunk](const StoredEntry& e) {
        chunk.push_back(e);
        return chunk.size() < kTimelineChunk;
      },
      ReadScope::kMetadata));
  return chunk;
}

}  // namespace

bool MatchesAgencyAndCase(const TimelineFilter& filter, const schema::Header& h) {
  if (!filter.case_ref.empty() && h.case_ref != filter.case_ref) return false;
  if (filter.agency.empty() || h.emitter == filter.agency) return true;
  return std::find(h.recipients.begin(), h.recipients.end(), filter.agency) != h.recipients.end();
}

base::Status ReadTimeline(JournalReader& reader, const TimelineFilter& filter, bool with_deliveries,
                          const std::function<void(const TimelineEvent&)>& visit,
                          const ProgressFn& progress, uint64_t* undecodable) {
  RELAIS_ASSIGN_OR_RETURN(Head head, reader.GetHead());
  // One case: its entries through the case index, in one short read.
  std::optional<std::vector<StoredEntry>> by_case;
  if (!filter.case_ref.empty()) {
    by_case.emplace();
    RELAIS_RETURN_IF_ERROR(reader.ByCase(
        filter.case_ref,
        [&by_case](const StoredEntry& e) {
          by_case->push_back(e);
          return true;
        },
        ReadScope::kMetadata));
  }
  uint64_t next = 1;
  size_t case_pos = 0;
  while (true) {
    std::vector<StoredEntry> chunk;
    if (by_case) {
      size_t end = std::min(by_case->size(), case_pos + kTimelineChunk);
      chunk.assign(by_case->begin() + static_cast<std::ptrdiff_t>(case_pos),
                   by_case->begin() + static_cast<std::ptrdiff_t>(end));
      case_pos = end;
    } else {
      RELAIS_ASSIGN_OR_RETURN(chunk, ReadChunk(reader, next));
    }
    if (chunk.empty()) break;
    std::vector<DeliveryRow> deliveries;
    if (with_deliveries) {
      RELAIS_ASSIGN_OR_RETURN(deliveries,
                              reader.DeliveriesOfSeqs(chunk.front().seq, chunk.back().seq));
    }
    auto d = deliveries.begin();
    for (const StoredEntry& e : chunk) {
      while (d != deliveries.end() && d->seq < e.seq) ++d;
      if (!TimeMatches(filter, e.received_at)) continue;
      auto header = schema::DecodeHeader(e.envelope.header);
      if (!header) {
        if (undecodable != nullptr) ++*undecodable;
        continue;
      }
      if (!MatchesAgencyAndCase(filter, *header)) continue;
      TimelineEvent event{e.seq, e.received_at, std::move(*header), e.erased, {}};
      for (auto it = d; it != deliveries.end() && it->seq == e.seq; ++it) {
        event.deliveries.push_back(*it);
      }
      visit(event);
    }
    if (progress) progress(chunk.back().seq, std::max(head.seq, chunk.back().seq));
    next = chunk.back().seq + 1;
    if (!by_case && chunk.size() < kTimelineChunk) break;
  }
  return base::Ok();
}

}  // namespace relais::journal
