// The auditor's verification of a whole journal against its own checkpoints and against exported
// checkpoint files countersigned by witnesses (docs/journal-format.md §5.4).
#ifndef RELAIS_BROKER_JOURNAL_AUDIT_H_
#define RELAIS_BROKER_JOURNAL_AUDIT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/status.h"
#include "broker/journal/checkpoint.h"
#include "broker/journal/entry.h"
#include "broker/journal/reader.h"

namespace relais::journal {

struct AuditOptions {
  KeySet broker_keys;        // keys trusted to sign checkpoints
  KeySet witness_keys;       // keys of the agencies that countersign
  size_t min_witnesses = 0;  // distinct witnesses required on every checkpoint file
};

struct AuditReport {
  Head head;
  uint64_t entries = 0;
  size_t journal_checkpoints = 0;
  size_t checkpoint_files = 0;
  size_t witness_signatures = 0;
};

// In order, stopping at the first problem:
//   1. the chain from seq 1 to the head (kCorruption "chain_broken", first bad seq);
//   2. every checkpoint stored in the journal (signature, head hash at its seq);
//   3. every checkpoint file: witnesses (VerifyWitnesses), broker signature, and the journal's
//      entry at its seq must carry its head hash: kCorruption "checkpoint_mismatch" when the
//      history up to that seq was rewritten, "journal_truncated" when the journal ends before it.
base::Result<AuditReport> AuditJournal(JournalReader& reader,
                                       const std::vector<CheckpointFile>& files,
                                       const AuditOptions& options);

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_AUDIT_H_
