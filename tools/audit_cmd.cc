// relais audit verify: an auditor's offline check of a journal file (docs/journal-format.md §3, §5)
// through a read-only JournalReader, so it may run while relaisd appends to the same file.
//
// Problems are printed one per line as "seq N (kind): code: reason" and never contain stored
// values (case data, key bytes): only seqs, event kinds, agency ids, key ids and column names.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "adapters/sdk/envelope_builder.h"
#include "base/clock.h"
#include "broker/journal/checkpoint.h"
#include "broker/journal/reader.h"
#include "broker/journal/signature_audit.h"
#include "crypto/seal.h"
#include "crypto/sign.h"
#include "schema/codec.h"
#include "schema/envelope.h"
#include "schema/registry.h"
#include "tools/audit_cmds.h"
#include "tools/audit_progress.h"
#include "tools/audit_verify.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace relais::tools {

namespace {

// The broker's checkpoint keys (agencies of kind broker) and every agency's keys (witnesses).
struct RegistryKeys {
  journal::KeySet broker;
  journal::KeySet witnesses;
};

RegistryKeys KeysOf(const schema::Registry& registry) {
  RegistryKeys keys;
  for (const schema::Agency& agency : registry.agencies) {
    for (const schema::AgencyKey& key : agency.keys) {
      if (key.sign_key.size() != crypto::kSignPublicKeySize) continue;
      if (agency.kind == schema::AgencyKind::kBroker) keys.broker.Add("broker", key.sign_key);
      keys.witnesses.Add(agency.id, key.sign_key);
    }
  }
  return keys;
}

// The emitter's signature of every entry, with the registry key its header names, valid at the
// entry's reception (journal::AuditSignatures, on `threads` threads).
base::Status VerifyEmitterSignatures(journal::JournalReader& reader,
                                     const schema::Registry& registry, size_t threads,
                                     ProblemList& problems) {
  AuditProgress progress("verify signatures");
  journal::SignatureAuditOptions options;
  options.threads = threads;
  options.progress = [&progress](uint64_t seq, uint64_t head) { progress.Update(seq, head); };
  RELAIS_ASSIGN_OR_RETURN(auto result, journal::AuditSignatures(reader, registry, options));
  for (const auto& f : result.findings) problems.AtSeq(f.seq, f.code, f.reason);
  return base::Status();
}

// Stored checkpoints: with registry keys, signature and head hash (CheckCheckpoint); without,
// only that the entry at the checkpoint's seq carries its head hash.
base::Result<size_t> VerifyStoredCheckpoints(journal::JournalReader& reader,
                                             const RegistryKeys* keys, ProblemList& problems) {
  RELAIS_ASSIGN_OR_RETURN(std::vector<journal::Checkpoint> checkpoints, reader.Checkpoints());
  for (const journal::Checkpoint& cp : checkpoints) {
    if (keys != nullptr) {
      if (auto st = reader.CheckCheckpoint(cp, keys->broker); !st) {
        problems.Checkpoint("checkpoint", cp.seq, st.error());
      }
      continue;
    }
    RELAIS_ASSIGN_OR_RETURN(auto entry, reader.Get(cp.seq, journal::ReadScope::kMetadata));
    if (!entry) {
      problems.Checkpoint(
          "checkpoint", cp.seq,
          base::Corruption("journal_truncated", "no entry at the checkpoint's seq"));
    } else if (entry->entry_hash != cp.head_hash) {
      problems.Checkpoint(
          "checkpoint", cp.seq,
          base::Corruption("checkpoint_mismatch", "entry hash differs from the checkpoint's"));
    }
  }
  return checkpoints.size();
}

void VerifyCheckpointFile(journal::JournalReader& reader, const std::string& path,
                          const RegistryKeys& keys, ProblemList& problems) {
  auto file = journal::ReadCheckpointFile(path);
  if (!file) {
    problems.Other("checkpoint file " + path, file.error());
    return;
  }
  const std::string where = "checkpoint file " + path;
  if (auto st = journal::VerifyWitnesses(*file, keys.witnesses, 0); !st) {
    problems.Checkpoint(where, file->checkpoint.seq, st.error());
  }
  if (auto st = reader.CheckCheckpoint(file->checkpoint, keys.broker); !st) {
    problems.Checkpoint(where, file->checkpoint.seq, st.error());
  }
}

int Verify(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "audit verify";
  spec.usage =
      "relais audit verify JOURNAL [--registry REG --authority-pub AUTH.pub]\n"
      "                           [--checkpoints FILE...] [--threads N]\n"
      "relais audit verify --stream-url URLS --stream-name STREAM [--audit-stream-name NAME]\n"
      "                    [--require-complete]";
  spec.description =
      "Opens the journal read-only (safe while relaisd runs: it reads in short read\n"
      "transactions, up to the head seen at the start; or verify a copy, see docs/audit.md)\n"
      "and checks, reporting every problem found rather than stopping at the first:\n"
      "  - the hash chain from seq 1 to the head: each entry's hash over its predecessor's, its\n"
      "    header, signature and digests; the sealed body and wraps against their digests\n"
      "    (while not erased); the metadata columns against the header;\n"
      "  - every checkpoint stored in the journal: its head hash is the entry hash at its seq,\n"
      "    and (with --registry) it is signed by the registry's broker key;\n"
      "  - with --registry: every entry's emitter signature, with the registry key named by its\n"
      "    header, which must have been valid when the broker received the entry (erased\n"
      "    entries too: the signature covers the digests, not the sealed bytes);\n"
      "  - each --checkpoints file (exported and countersigned checkpoints, needs --registry): "
      "its\n"
      "    witnesses' signatures, the broker signature, and that this journal still holds its\n"
      "    head hash at its seq (a rewritten or truncated history fails).\n"
      "One line per problem: \"seq N (event kind): FINDING: reason\" where FINDING is\n"
      "modified_row, missing_row, reordered_rows, rewritten_tail (a checkpoint no longer\n"
      "matches), bad_signature, unknown_emitter, unknown_key, key_not_valid (the key was not\n"
      "valid at the entry's reception, per the registry), malformed_header, or a checkpoint or\n"
      "witness error code; then a summary line \"verified N entries, M checkpoints: OK\" or\n"
      "\"... K problems\". Lines name seqs, kinds, agency and key ids, never stored content.\n"
      "Progress (rows/s, ETA) goes to stderr when it is a terminal. "
      "Exit code 2 when any problem is found.\n\n"
      "With --stream-url (JetStream mode, docs/scale-out.md section 11) it checks instead the\n"
      "audit chain of the event stream STREAM kept in the audit stream (default STREAM_AUDIT),\n"
      "both read from seq 1 without creating anything: every audit message against the event\n"
      "at its seq and every chain hash. One line per finding \"seq N: FINDING: reason\"\n"
      "(bad_audit_record, bad_audit_message, wrong_event_seq, event_id_mismatch,\n"
      "event_hash_mismatch, chain_mismatch) and per gap \"seqs A-B: KIND: ...\" (missing_audit,\n"
      "audit_without_event, missing_event: problems; not_covered: the writer's lag, a problem\n"
      "only with --require-complete).";
  std::string journal_path, registry_path, authority_pub;
  std::vector<std::string> checkpoint_files;
  StreamVerifyArgs stream;
  size_t threads = std::max(1u, std::thread::hardware_concurrency());
  spec.options.add_options()("journal", po::value(&journal_path),
                             "the journal file (relaisd --journal)")(
      "stream-url", po::value(&stream.stream_url),
      "JetStream mode: comma-separated NATS URLs (instead of JOURNAL)")(
      "stream-name", po::value(&stream.stream_name), "the event stream (relaisd --stream-name)")(
      "audit-stream-name", po::value(&stream.audit_stream_name),
      "the audit stream (default: <stream-name>_AUDIT)")(
      "require-complete", po::bool_switch(&stream.require_complete),
      "events not yet covered by the audit chain are problems")(
      "registry", po::value(&registry_path), "the signed registry file")(
      "authority-pub", po::value(&authority_pub),
      "the registry authority's public key file (.pub), with --registry")(
      "checkpoints", po::value(&checkpoint_files)->multitoken()->composing(),
      "exported checkpoint files to check against the journal (needs --registry)")(
      "threads", po::value(&threads), "signature verification threads (default: one per core)");
  spec.positionals = {"journal"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  if (!stream.stream_url.empty()) {
    if (!journal_path.empty() || !registry_path.empty() || !checkpoint_files.empty()) {
      return UsageError(spec.name, "--stream-url takes no journal, registry or checkpoints");
    }
    return AuditVerifyStream(stream);
  }
  if (journal_path.empty()) return UsageError(spec.name, "a JOURNAL or --stream-url is required");
  if (registry_path.empty() != authority_pub.empty()) {
    return UsageError(spec.name, "--registry and --authority-pub go together");
  }
  if (!checkpoint_files.empty() && registry_path.empty()) {
    return UsageError(spec.name, "--checkpoints needs --registry and --authority-pub");
  }

  base::SystemClock clock;
  std::optional<schema::Registry> registry;
  std::optional<RegistryKeys> keys;
  if (!registry_path.empty()) {
    auto loaded = sdk::LoadRegistry(registry_path, authority_pub, clock.NowMs());
    if (!loaded) return Fail(spec.name, loaded.error());
    registry = std::move(*loaded);
    keys = KeysOf(*registry);
    if (keys->broker.empty()) {
      return Fail(spec.name, base::NotFound("no_broker_in_registry",
                                            "the registry lists no agency of kind broker"));
    }
  }
  if (!std::filesystem::exists(journal_path)) {
    return Fail(spec.name, base::NotFound("journal_not_found", journal_path));
  }
  auto reader = journal::JournalReader::Open({.path = journal_path, .vfs = {}});
  if (!reader) return Fail(spec.name, reader.error());

  ProblemList problems(**reader);
  base::Result<uint64_t> entries = uint64_t{0};
  {
    AuditProgress progress("verify chain");
    entries = VerifyWholeChain(**reader, problems, progress);
  }
  if (!entries) return Fail(spec.name, entries.error());
  auto stored = VerifyStoredCheckpoints(**reader, keys ? &*keys : nullptr, problems);
  if (!stored) return Fail(spec.name, stored.error());
  if (registry) {
    if (auto st = VerifyEmitterSignatures(**reader, *registry, threads, problems); !st) {
      return Fail(spec.name, st.error());
    }
    for (const std::string& path : checkpoint_files) {
      VerifyCheckpointFile(**reader, path, *keys, problems);
    }
  }

  std::cout << "verified " << *entries << " entries, " << (*stored + checkpoint_files.size())
            << " checkpoints";
  if (!registry) std::cout << " (signatures not checked: no --registry)";
  if (problems.Total() == 0) {
    std::cout << ": OK\n";
    return kExitOk;
  }
  std::cout << ": " << problems.Total() << (problems.Total() == 1 ? " problem\n" : " problems\n");
  return kExitVerify;
}

constexpr Subcommand kAuditSubcommands[] = {
    {"verify", "check the hash chain, checkpoints and emitter signatures of a journal", Verify},
    {"replay", "the timeline of events from metadata only (never a sealed body)", AuditReplay},
    {"report", "social metrics per referral kind, emitter and receiver (table, CSV, HTML)",
     AuditReport},
    {"rebuild", "rebuild derived state from the journal alone and diff it with the live tables",
     AuditRebuild},
    {"export-checkpoint", "write the journal's latest signed checkpoint to a file for witnesses",
     AuditExportCheckpoint},
    {"countersign", "countersign an exported checkpoint file as a witness agency",
     AuditCountersign},
};

}  // namespace

int RunAudit(int argc, char** argv) {
  return RunSubcommand("audit",
                       "Auditor's tools over a relaisd journal (docs/audit.md). Subcommands:",
                       kAuditSubcommands, argc, argv);
}

}  // namespace relais::tools
