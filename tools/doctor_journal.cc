// The journal check of `relais doctor`: the same read-only reader and chain walk as
// `relais audit verify` (docs/audit.md), stopping at the first problem and pointing to the audit
// command for the full list.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "broker/journal/reader.h"
#include "broker/journal/signature_audit.h"
#include "crypto/sign.h"
#include "tools/doctor_checks.h"

namespace relais::tools {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kChainChunk = 50'000;  // entries per read transaction

std::string AuditHint(const fs::path& journal_file) {
  return "run relais audit verify " + journal_file.string() +
         " --registry REG --authority-pub AUTH.pub for every problem, then restore from the last "
         "good backup (docs/operations.md, disaster recovery)";
}

// Problems of the journal file's and its WAL's permissions (they hold sealed case data and the
// case metadata): "" when private.
std::string LoosePermissions(const fs::path& journal_file) {
  for (const std::string suffix : {"", "-wal", "-shm"}) {
    struct stat st;
    const std::string path = journal_file.string() + suffix;
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 007) != 0) return path;
  }
  return "";
}

journal::KeySet BrokerKeys(const schema::Registry& registry) {
  journal::KeySet keys;
  for (const schema::Agency& agency : registry.agencies) {
    if (agency.kind != schema::AgencyKind::kBroker) continue;
    for (const schema::AgencyKey& key : agency.keys) {
      if (key.sign_key.size() == crypto::kSignPublicKeySize) keys.Add("broker", key.sign_key);
    }
  }
  return keys;
}

// The chain from seq 1 to the head, in chunks. Returns the entries checked, or the first fault
// (as an error) — a caller reports it.
base::Result<uint64_t> WalkChain(journal::JournalReader& reader, uint64_t head) {
  uint64_t checked = 0;
  for (uint64_t from = 0; from < head; from += kChainChunk) {
    const uint64_t to = std::min(head, from + kChainChunk);
    RELAIS_ASSIGN_OR_RETURN(journal::ChainReport chunk, reader.VerifyChain(from, to));
    checked += chunk.rows;
    RELAIS_RETURN_IF_ERROR(chunk.ToStatus());
  }
  return checked;
}

// Stored checkpoints: signed by a broker key of the registry (when given) and matching the
// chain. Returns how many held, or the first that did not.
base::Result<size_t> CheckCheckpoints(journal::JournalReader& reader,
                                      const schema::Registry* registry) {
  RELAIS_ASSIGN_OR_RETURN(std::vector<journal::Checkpoint> checkpoints, reader.Checkpoints());
  if (registry == nullptr) return checkpoints.size();
  const journal::KeySet keys = BrokerKeys(*registry);
  for (const journal::Checkpoint& cp : checkpoints) {
    if (auto st = reader.CheckCheckpoint(cp, keys); !st) {
      return base::Error{st.error().kind, st.error().code,
                         "checkpoint at seq " + std::to_string(cp.seq) + ": " + st.error().message};
    }
  }
  return checkpoints.size();
}

}  // namespace

void CheckJournal(const fs::path& journal_file, const schema::Registry* registry, bool full,
                  DoctorReport& report) {
  if (!fs::exists(journal_file)) {
    report.Fail("journal", journal_file.string() + ": no such file",
                "give relaisd's --journal path (relaisd creates it at its first start)");
    return;
  }
  if (std::string loose = LoosePermissions(journal_file); !loose.empty()) {
    report.Warn("journal-mode", loose + " is readable by others",
                "chmod 600 " + journal_file.string() + "* (relaisd.service runs with UMask=0077)");
  }
  auto reader = journal::JournalReader::Open({.path = journal_file, .vfs = {}});
  if (!reader) {
    report.Fail("journal",
                journal_file.string() + ": " + reader.error().code + ": " + reader.error().message,
                AuditHint(journal_file));
    return;
  }
  auto head = (*reader)->GetHead();
  if (!head) {
    report.Fail("journal",
                journal_file.string() + ": " + head.error().code + ": " + head.error().message,
                AuditHint(journal_file));
    return;
  }
  auto checked = WalkChain(**reader, head->seq);
  if (!checked) {
    report.Fail(
        "journal",
        journal_file.string() + ": " + checked.error().code + ": " + checked.error().message,
        AuditHint(journal_file));
    return;
  }
  auto checkpoints = CheckCheckpoints(**reader, registry);
  if (!checkpoints) {
    report.Fail("journal",
                journal_file.string() + ": " + checkpoints.error().code + ": " +
                    checkpoints.error().message,
                AuditHint(journal_file));
    return;
  }
  std::string what = journal_file.string() + ": " + std::to_string(*checked) +
                     " entries, hash chain intact, " + std::to_string(*checkpoints) +
                     (registry ? " signed checkpoints verified" : " checkpoints match");
  if (full && registry != nullptr) {
    journal::SignatureAuditOptions options;
    options.threads = std::max(1u, std::thread::hardware_concurrency());
    auto audit = journal::AuditSignatures(**reader, *registry, options);
    if (!audit) {
      report.Fail("journal",
                  journal_file.string() + ": " + audit.error().code + ": " + audit.error().message,
                  AuditHint(journal_file));
      return;
    }
    if (!audit->findings.empty()) {
      const journal::SignatureFinding& first = audit->findings.front();
      report.Fail("journal",
                  journal_file.string() + ": " + std::to_string(audit->findings.size()) +
                      " entries fail their emitter signature check (first: seq " +
                      std::to_string(first.seq) + ", " + first.code + ")",
                  AuditHint(journal_file));
      return;
    }
    what += ", " + std::to_string(audit->checked) + " emitter signatures verified";
  }
  report.Ok("journal", what);
}

}  // namespace relais::tools
