#include "broker/journal/chain.h"

#include <algorithm>

#include "base/check.h"
#include "schema/codec.h"

namespace relais::journal {

namespace {

bool Equal(base::ByteView a, base::ByteView b) { return std::ranges::equal(a, b); }

}  // namespace

base::Bytes EntryHashInput(const crypto::Digest& prev_hash, const ChainLink& link) {
  RELAIS_CHECK(link.signature.size() == kSignatureSize);
  RELAIS_CHECK(link.body_digest.size() == crypto::kDigestSize);
  RELAIS_CHECK(link.wraps_digest.size() == crypto::kDigestSize);
  base::Bytes out;
  out.reserve(kEntryHashInputSize);
  base::AppendRaw(out, crypto::View(prev_hash));
  base::AppendU64(out, link.seq);
  base::AppendI64(out, link.received_at);
  base::AppendRaw(out, crypto::View(link.header_hash));
  base::AppendRaw(out, link.signature);
  base::AppendRaw(out, link.body_digest);
  base::AppendRaw(out, link.wraps_digest);
  RELAIS_CHECK(out.size() == kEntryHashInputSize);
  return out;
}

crypto::Digest EntryHash(const crypto::Digest& prev_hash, const ChainLink& link) {
  return crypto::Blake2b(EntryHashInput(prev_hash, link));
}

base::Error FaultError(const ChainFault& fault) {
  return base::Corruption("chain_broken",
                          "first bad seq " + std::to_string(fault.seq) + ": " + fault.reason);
}

ChainVerifier::ChainVerifier(const Head& start) : head_(start) {}

std::optional<ChainFault> ChainVerifier::Check(const RowView& row) {
  if (row.seq != head_.seq + 1) {
    return ChainFault{head_.seq + 1,
                      "entry missing (the next stored seq is " + std::to_string(row.seq) + ")"};
  }
  if (auto why = CheckSizes(row)) return ChainFault{row.seq, *why};
  ChainLink link{row.seq,       row.received_at, crypto::Blake2b(row.header),
                 row.signature, row.body_digest, row.wraps_digest};
  crypto::Digest hash = EntryHash(head_.hash, link);
  if (!Equal(crypto::View(hash), row.entry_hash)) {
    return ChainFault{row.seq, "entry_hash does not match the recomputed chain hash"};
  }
  if (row.received_at < head_.received_at) {
    return ChainFault{row.seq, "received_at goes backwards"};
  }
  if (auto why = CheckSealed(row)) return ChainFault{row.seq, *why};
  if (auto why = CheckHeaderColumns(row)) return ChainFault{row.seq, *why};
  if (!row.case_index_ok) return ChainFault{row.seq, "case_no does not match case_keys"};
  head_ = Head{row.seq, hash, row.received_at};
  ++rows_;
  return std::nullopt;
}

std::optional<std::string> ChainVerifier::CheckSizes(const RowView& row) const {
  if (row.signature.size() != kSignatureSize) return "signature is not 64 bytes";
  if (row.body_digest.size() != crypto::kDigestSize) return "body_digest is not 32 bytes";
  if (row.wraps_digest.size() != crypto::kDigestSize) return "wraps_digest is not 32 bytes";
  if (row.entry_hash.size() != crypto::kDigestSize) return "entry_hash is not 32 bytes";
  if (row.event_id.size() != schema::kEventIdSize) return "event_id is not 16 bytes";
  return std::nullopt;
}

std::optional<std::string> ChainVerifier::CheckSealed(const RowView& row) const {
  if (row.body.has_value() != row.wraps.has_value()) {
    return "only one of body and wraps is erased";
  }
  if (row.body && !Equal(crypto::View(crypto::Blake2b(*row.body)), row.body_digest)) {
    return "body does not match body_digest";
  }
  if (row.wraps && !Equal(crypto::View(crypto::Blake2b(*row.wraps)), row.wraps_digest)) {
    return "wraps do not match wraps_digest";
  }
  return std::nullopt;
}

std::optional<std::string> ChainVerifier::CheckHeaderColumns(const RowView& row) const {
  auto header = schema::DecodeHeader(row.header);
  if (!header) return "header does not decode";
  if (!Equal(header->event_id, row.event_id)) return "event_id does not match the header";
  if (static_cast<int64_t>(header->kind) != row.kind) return "kind does not match the header";
  if (header->case_ref != row.case_ref) return "case_ref does not match the header";
  if (header->emitter != row.emitter) return "emitter does not match the header";
  if (header->due_at != row.due_at) return "due_at does not match the header";
  return std::nullopt;
}

}  // namespace relais::journal
