// The chain walk of `relais audit verify`, and what kind of tampering each fault looks like.
#include <algorithm>
#include <optional>
#include <vector>

#include "broker/journal/chain.h"
#include "crypto/hash.h"
#include "tools/audit_progress.h"
#include "tools/audit_verify.h"

namespace relais::tools {

namespace {

constexpr size_t kMaxChainProblems = 1000;  // a wholly rewritten journal: stop listing, still fail
constexpr uint64_t kChainChunk = 50'000;    // entries per read transaction
constexpr uint64_t kReorderWindow = 16;     // how far a moved entry is looked for

std::string FindingOfCheckpointError(const std::string& code) {
  if (code == "checkpoint_mismatch" || code == "journal_truncated") return "rewritten_tail";
  if (code == "bad_checkpoint_signature") return "bad_signature";
  if (code == "unknown_checkpoint_key") return "unknown_key";
  return code;
}

bool SizesOk(const journal::StoredEntry& e) {
  return e.envelope.signature.size() == journal::kSignatureSize &&
         e.envelope.body_digest.size() == crypto::kDigestSize &&
         e.envelope.wraps_digest.size() == crypto::kDigestSize;
}

// The seq at which the content of `entry` was first chained, when its stored hash links it at
// another place of the window (a moved row), found by recomputing its hash with every nearby
// seq and every nearby stored hash as predecessor.
std::optional<uint64_t> OriginalSeq(journal::JournalReader& reader,
                                    const journal::StoredEntry& entry) {
  if (!SizesOk(entry)) return std::nullopt;
  const uint64_t lo = entry.seq > kReorderWindow ? entry.seq - kReorderWindow : 1;
  const uint64_t hi = entry.seq + kReorderWindow;
  std::vector<crypto::Digest> predecessors = {journal::kGenesisHash};
  auto st = reader.ForEachFrom(
      lo > 1 ? lo - 1 : 1,
      [&](const journal::StoredEntry& e) {
        if (e.seq > hi) return false;
        predecessors.push_back(e.entry_hash);
        return true;
      },
      journal::ReadScope::kMetadata);
  if (!st) return std::nullopt;
  const crypto::Digest header_hash = crypto::Blake2b(entry.envelope.header);
  for (uint64_t s = lo; s <= hi; ++s) {
    journal::ChainLink link{s,
                            entry.received_at,
                            header_hash,
                            entry.envelope.signature,
                            entry.envelope.body_digest,
                            entry.envelope.wraps_digest};
    for (const crypto::Digest& prev : predecessors) {
      if (journal::EntryHash(prev, link) == entry.entry_hash) return s;
    }
  }
  return std::nullopt;
}

// Reports one fault with its finding. `last_reorder` is the seq of the last moved row reported:
// an intact row right after moved ones (its own seq, a moved predecessor) is not a new problem.
void ReportFault(journal::JournalReader& reader, const journal::ChainFault& fault,
                 ProblemList& problems, uint64_t& last_reorder) {
  if (fault.reason.rfind("entry missing", 0) == 0) {
    problems.AtSeq(fault.seq, "missing_row", "chain_broken: " + fault.reason);
    return;
  }
  if (fault.reason.rfind("entry_hash does not match", 0) == 0) {
    auto entry = reader.Get(fault.seq, journal::ReadScope::kMetadata);
    if (entry && *entry) {
      if (auto original = OriginalSeq(reader, **entry)) {
        if (*original == fault.seq) {
          if (last_reorder != 0 && fault.seq <= last_reorder + kReorderWindow) return;
          problems.AtSeq(fault.seq, "reordered_rows",
                         "chain_broken: the entry follows a moved entry");
        } else {
          problems.AtSeq(
              fault.seq, "reordered_rows",
              "chain_broken: holds the entry chained at seq " + std::to_string(*original));
        }
        last_reorder = fault.seq;
        return;
      }
    }
  }
  problems.AtSeq(fault.seq, "modified_row", "chain_broken: " + fault.reason);
}

// Where to resume the chain after a fault at `seq`: that entry's stored hash, or when the entry
// is missing, the next stored entry (its link to the gap is what was just reported). 0: none.
base::Result<uint64_t> ResumeSeq(journal::JournalReader& reader, uint64_t seq) {
  RELAIS_ASSIGN_OR_RETURN(auto entry, reader.Get(seq, journal::ReadScope::kMetadata));
  if (entry) return seq;
  uint64_t next = 0;
  RELAIS_RETURN_IF_ERROR(reader.ForEachFrom(
      seq,
      [&](const journal::StoredEntry& e) {
        next = e.seq;
        return false;
      },
      journal::ReadScope::kMetadata));
  return next;
}

}  // namespace

void ProblemList::Checkpoint(std::string_view where, uint64_t seq, const base::Error& error) {
  std::cout << where << " at seq " << seq << " (" << KindAt(seq)
            << "): " << FindingOfCheckpointError(error.code) << ": " << error.code << ": "
            << error.message << "\n";
  ++count_;
}

base::Result<uint64_t> VerifyWholeChain(journal::JournalReader& reader, ProblemList& problems,
                                        AuditProgress& progress) {
  RELAIS_ASSIGN_OR_RETURN(journal::Head head, reader.GetHead());
  uint64_t from = 0;
  size_t listed = 0;
  uint64_t last_reorder = 0;
  while (from < head.seq) {
    const uint64_t to = std::min(head.seq, from + kChainChunk);
    RELAIS_ASSIGN_OR_RETURN(journal::ChainReport report, reader.VerifyChain(from, to));
    progress.Update(report.verified.seq, head.seq);
    if (!report.fault) {
      from = to;
      continue;
    }
    ReportFault(reader, *report.fault, problems, last_reorder);
    RELAIS_ASSIGN_OR_RETURN(uint64_t next, ResumeSeq(reader, report.fault->seq));
    if (next <= from || next >= head.seq) break;
    if (++listed >= kMaxChainProblems) {
      std::cout << "(more chain problems not listed)\n";
      break;
    }
    from = next;
  }
  return head.seq;
}

}  // namespace relais::tools
