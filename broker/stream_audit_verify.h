// The check of the audit chain over the stream (stream_audit_record.h) that `relais audit verify
// --stream-url` runs: both streams are read from seq 1 up to their last seqs taken at the start
// (the audit stream's first, so a live writer cannot make it look ahead of the event stream),
// every audit record is decoded and compared with the event at its seq, and every chain hash is
// recomputed. Reports every problem rather than stopping at the first; after a bad link the walk
// resumes from the stored chain hash so that independent damage is reported too.
//
// Findings (one per audit seq, the first found), never containing stored content:
//   bad_audit_record     the data is not a valid record
//   bad_audit_message    id is not "audit-<seq>", or the headers disagree with the record
//   wrong_event_seq      the record names another event seq
//   event_id_mismatch    the record names another event id than the event stored at its seq
//   event_hash_mismatch  the event at this seq is not the one that was audited (changed event, or
//                        a forged audit record)
//   chain_mismatch       chainHash(seq) != H(chainHash(seq - 1) ‖ eventHash(seq))
// Gaps (seq ranges):
//   not_covered          events after the audit stream's last seq: the writer's lag, not damage
//   missing_audit        no audit message at a seq below the audit stream's last seq
//   audit_without_event  an audit message whose event seq is not in the event stream
//   missing_event        a seq absent from the event stream (both streams deny delete)
#ifndef RELAIS_BROKER_STREAM_AUDIT_VERIFY_H_
#define RELAIS_BROKER_STREAM_AUDIT_VERIFY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "broker/stream_log.h"

namespace relais::broker {

struct AuditFinding {
  uint64_t seq = 0;
  std::string finding;  // see above
  std::string reason;   // for humans: no stored content
};

struct AuditGap {
  uint64_t from = 0;  // inclusive
  uint64_t to = 0;    // inclusive
  std::string kind;   // see above
};

struct StreamAuditReport {
  uint64_t event_last = 0;  // the event stream's last seq at the start
  uint64_t audit_last = 0;  // the audit stream's last seq at the start
  uint64_t verified = 0;    // audit messages checked against their event without a finding
  std::vector<AuditFinding> findings;
  std::vector<AuditGap> gaps;

  uint64_t NotCovered() const;  // seqs in not_covered gaps
  // No finding and no gap other than not_covered (with allow_lag) or none at all.
  bool Ok(bool allow_lag) const;
};

struct StreamAuditVerifyOptions {
  size_t chunk = 512;  // records read from each stream at once
  // Called after each chunk with the highest seq checked and the last seq to check.
  std::function<void(uint64_t seq, uint64_t last)> progress;
};

// Errors are those of StreamLog::Read/LastSeq (kRetryLater "stream_unavailable", ...): what was
// found is returned as the report, never as an error.
base::Result<StreamAuditReport> VerifyStreamAudit(StreamLog& events, StreamLog& audit,
                                                  const StreamAuditVerifyOptions& options = {});

}  // namespace relais::broker

#endif  // RELAIS_BROKER_STREAM_AUDIT_VERIFY_H_
