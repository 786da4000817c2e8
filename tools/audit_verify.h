// Pieces of `relais audit verify` (tools/audit_cmd.cc): the list of problems found and the chain
// walk that classifies each fault.
//
// A problem is printed as "seq N (event kind): FINDING: reason" where FINDING is one of
// modified_row, missing_row, reordered_rows, rewritten_tail, bad_signature, unknown_key,
// key_not_valid, unknown_emitter, malformed_header, or a checkpoint or witness error code.
#ifndef RELAIS_TOOLS_AUDIT_VERIFY_H_
#define RELAIS_TOOLS_AUDIT_VERIFY_H_

#include <cstdint>
#include <iostream>
#include <string>
#include <string_view>

#include "base/status.h"
#include "broker/journal/reader.h"
#include "schema/envelope.h"

namespace relais::tools {

class AuditProgress;

// What an audit found, printed as it is found.
class ProblemList {
 public:
  explicit ProblemList(journal::JournalReader& reader) : reader_(reader) {}

  void AtSeq(uint64_t seq, std::string_view finding, std::string_view reason) {
    std::cout << "seq " << seq << " (" << KindAt(seq) << "): " << finding << ": " << reason << "\n";
    ++count_;
  }
  // A checkpoint (stored or from a file) that does not hold: `where` names it.
  void Checkpoint(std::string_view where, uint64_t seq, const base::Error& error);
  // A problem that is not about one entry (an unreadable checkpoint file).
  void Other(std::string_view what, const base::Error& error) {
    std::cout << what << ": " << error.code << ": " << error.message << "\n";
    ++count_;
  }
  size_t Total() const { return count_; }

 private:
  std::string KindAt(uint64_t seq) {
    auto entry = reader_.Get(seq, journal::ReadScope::kMetadata);
    if (!entry || !entry->has_value()) return "no entry";
    return schema::EventKindName((*entry)->kind);
  }

  journal::JournalReader& reader_;
  size_t count_ = 0;
};

// The whole chain up to the head read at the start, in short read transactions; after a fault,
// resumes from the faulty entry's stored hash so that every independently damaged entry is
// reported. Returns the head seq verified against.
base::Result<uint64_t> VerifyWholeChain(journal::JournalReader& reader, ProblemList& problems,
                                        AuditProgress& progress);

}  // namespace relais::tools

#endif  // RELAIS_TOOLS_AUDIT_VERIFY_H_
