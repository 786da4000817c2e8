// The emitter signature of every journal entry, checked against the agency registry as it was at
// the entry's reception time (docs/audit.md §2): the key named by the header must be a key of
// the emitter, valid at receivedAt (not before its valid_from, not after its valid_until, not
// after the agency's revocation), and the Ed25519 signature over (header hash, bodyDigest,
// wrapsDigest) must verify. Erased entries verify too: the signature covers digests only.
//
// Reads entries in chunks (short read transactions) on the calling thread and verifies each
// chunk on `threads` worker threads while the next chunk is read. Findings name seqs, codes,
// agency and key ids, never stored values.
#ifndef RELAIS_BROKER_JOURNAL_SIGNATURE_AUDIT_H_
#define RELAIS_BROKER_JOURNAL_SIGNATURE_AUDIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "broker/journal/reader.h"
#include "broker/journal/timeline.h"
#include "schema/registry.h"

namespace relais::journal {

struct SignatureFinding {
  uint64_t seq = 0;
  // malformed_header, unknown_emitter, unknown_key, key_not_valid, bad_signature
  std::string code;
  std::string reason;
};

struct SignatureAuditOptions {
  size_t threads = 2;     // verification threads (at least 1)
  uint64_t last_seq = 0;  // 0: up to the head read at the start
  ProgressFn progress;    // may be empty
};

struct SignatureAuditResult {
  uint64_t checked = 0;
  std::vector<SignatureFinding> findings;  // in seq order
};

// Errors are the reader's I/O errors; problems with entries are findings.
base::Result<SignatureAuditResult> AuditSignatures(JournalReader& reader,
                                                   const schema::Registry& registry,
                                                   const SignatureAuditOptions& options);

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_SIGNATURE_AUDIT_H_
