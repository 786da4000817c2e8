// relais audit verify: an auditor's offline check of a journal file (docs/journal-format.md §3, §5)
// through a read-only JournalReader, so it may run while relaisd appends to the same file.
//
// Problems are printed one per line as "seq N (kind): code: reason" and never contain stored
// values (case data, key bytes): only seqs, event kinds, agency ids, key ids and column names.
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/sdk/envelope_builder.h"
#include "base/clock.h"
#include "broker/journal/checkpoint.h"
#include "broker/journal/reader.h"
#include "crypto/seal.h"
#include "crypto/sign.h"
#include "schema/codec.h"
#include "schema/envelope.h"
#include "schema/registry.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace relais::tools {

namespace {

constexpr size_t kMaxChainProblems = 1000;  // a wholly rewritten journal: stop listing, still fail

// What an audit found, printed as it is found.
class ProblemList {
 public:
  explicit ProblemList(journal::JournalReader& reader) : reader_(reader) {}

  void AtSeq(uint64_t seq, std::string_view code, std::string_view reason) {
    std::cout << "seq " << seq << " (" << KindAt(seq) << "): " << code << ": " << reason << "\n";
    ++count_;
  }
  void Checkpoint(std::string_view where, uint64_t seq, const base::Error& error) {
    std::cout << where << " at seq " << seq << " (" << KindAt(seq) << "): " << error.code << ": "
              << error.message << "\n";
    ++count_;
  }
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

// The whole chain; after a fault, resumes from the faulty entry's stored hash so that every
// independently damaged entry is reported, not only the first. Returns the entries checked.
base::Result<uint64_t> VerifyWholeChain(journal::JournalReader& reader, ProblemList& problems) {
  RELAIS_ASSIGN_OR_RETURN(journal::Head head, reader.GetHead());
  if (head.seq == 0) return uint64_t{0};
  uint64_t from = 0;
  size_t listed = 0;
  while (true) {
    // Up to the head read above, so that the count printed is what was verified even while a
    // broker appends.
    RELAIS_ASSIGN_OR_RETURN(journal::ChainReport report, reader.VerifyChain(from, head.seq));
    if (!report.fault) break;
    problems.AtSeq(report.fault->seq, "chain_broken", report.fault->reason);
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

// The emitter's signature of every entry, over the stored header hash and digests (so erased
// entries verify too), with the registry key its header names.
base::Status VerifyEmitterSignatures(journal::JournalReader& reader,
                                     const schema::Registry& registry, ProblemList& problems) {
  std::vector<std::pair<uint64_t, std::pair<std::string, std::string>>> found;
  RELAIS_RETURN_IF_ERROR(reader.ForEachFrom(
      1,
      [&](const journal::StoredEntry& entry) {
        auto note = [&](std::string code, std::string reason) {
          found.push_back({entry.seq, {std::move(code), std::move(reason)}});
        };
        auto header = schema::DecodeHeader(entry.envelope.header);
        if (!header) {
          note("malformed_header", "stored header does not decode");
          return true;
        }
        const schema::Agency* emitter = registry.Find(header->emitter);
        if (emitter == nullptr) {
          note("unknown_emitter", "emitter " + header->emitter + " is not in the registry");
          return true;
        }
        const schema::AgencyKey* key = nullptr;
        for (const schema::AgencyKey& k : emitter->keys) {
          if (k.key_id == header->emitter_key_id) key = &k;
        }
        if (key == nullptr) {
          note("unknown_key", "key " + header->emitter_key_id + " of " + header->emitter +
                                  " is not in the registry");
          return true;
        }
        base::Bytes message =
            crypto::EnvelopeSigningMessage(crypto::HeaderHash(entry.envelope.header),
                                           entry.envelope.body_digest, entry.envelope.wraps_digest);
        if (auto st = crypto::Verify(key->sign_key, message, entry.envelope.signature); !st) {
          note(st.error().code,
               "signature of " + header->emitter + " (key " + key->key_id + ") does not verify");
        }
        return true;
      },
      journal::ReadScope::kMetadata));
  // Printed after the iteration: ProblemList reads the journal, the visitor holds its snapshot.
  for (auto& [seq, problem] : found) problems.AtSeq(seq, problem.first, problem.second);
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
      "                           [--checkpoints FILE...]";
  spec.description =
      "Opens the journal read-only (safe while relaisd runs: it reads one consistent snapshot)\n"
      "and checks, reporting every problem found rather than stopping at the first:\n"
      "  - the hash chain from seq 1 to the head: each entry's hash over its predecessor's, its\n"
      "    header, signature and digests; the sealed body and wraps against their digests\n"
      "    (while not erased); the metadata columns against the header;\n"
      "  - every checkpoint stored in the journal: its head hash is the entry hash at its seq,\n"
      "    and (with --registry) it is signed by the registry's broker key;\n"
      "  - with --registry: every entry's emitter signature, with the registry key named by its\n"
      "    header (erased entries too: the signature covers the digests, not the sealed bytes);\n"
      "  - each --checkpoints file (exported and countersigned checkpoints, needs --registry): "
      "its\n"
      "    witnesses' signatures, the broker signature, and that this journal still holds its\n"
      "    head hash at its seq (a rewritten or truncated history fails).\n"
      "One line per problem: \"seq N (event kind): code: reason\", then a summary line\n"
      "\"verified N entries, M checkpoints: OK\" or \"... K problems\". Lines name seqs, kinds,\n"
      "agency and key ids, never stored content. Exit code 2 when any problem is found.";
  std::string journal_path, registry_path, authority_pub;
  std::vector<std::string> checkpoint_files;
  spec.options.add_options()("journal", po::value(&journal_path)->required(),
                             "the journal file (relaisd --journal)")(
      "registry", po::value(&registry_path), "the signed registry file")(
      "authority-pub", po::value(&authority_pub),
      "the registry authority's public key file (.pub), with --registry")(
      "checkpoints", po::value(&checkpoint_files)->multitoken()->composing(),
      "exported checkpoint files to check against the journal (needs --registry)");
  spec.positionals = {"journal"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
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
  auto entries = VerifyWholeChain(**reader, problems);
  if (!entries) return Fail(spec.name, entries.error());
  auto stored = VerifyStoredCheckpoints(**reader, keys ? &*keys : nullptr, problems);
  if (!stored) return Fail(spec.name, stored.error());
  if (registry) {
    if (auto st = VerifyEmitterSignatures(**reader, *registry, problems); !st) {
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
};

}  // namespace

int RunAudit(int argc, char** argv) {
  return RunSubcommand(
      "audit", "Auditor's tools over a relaisd journal (docs/journal-format.md). Subcommands:",
      kAuditSubcommands, argc, argv);
}

}  // namespace relais::tools
