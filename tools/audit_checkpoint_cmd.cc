// relais audit export-checkpoint / countersign: the checkpoint files witnesses keep
// (docs/journal-format.md §5.2-5.3, docs/audit.md §3). Exporting reads the journal read-only;
// countersigning needs only the file, the witness's own key file and the registry.
#include <iostream>
#include <optional>
#include <string>

#include "adapters/sdk/envelope_builder.h"
#include "base/clock.h"
#include "broker/journal/checkpoint.h"
#include "broker/journal/reader.h"
#include "crypto/identity.h"
#include "crypto/sign.h"
#include "schema/registry.h"
#include "tools/audit_cmds.h"
#include "tools/cli.h"

namespace relais::tools {

namespace {

// The checkpoint keys of the registry's broker agencies.
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

}  // namespace

int AuditExportCheckpoint(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "audit export-checkpoint";
  spec.usage = "relais audit export-checkpoint JOURNAL --out FILE [--seq N]";
  spec.description =
      "Writes the journal's latest signed checkpoint (or the one at --seq N) to FILE, in the text\n"
      "format of docs/journal-format.md §5.2, for partner agencies to countersign and keep.\n"
      "Opens the journal read-only (safe while relaisd runs).";
  std::string journal_path, out;
  uint64_t seq = 0;
  spec.options.add_options()("journal", po::value(&journal_path)->required(), "the journal file")(
      "out", po::value(&out)->required(), "the checkpoint file to write")(
      "seq", po::value(&seq), "the seq of a stored checkpoint (default: the latest)");
  spec.positionals = {"journal"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  auto reader = journal::JournalReader::Open({.path = journal_path, .vfs = {}});
  if (!reader) return Fail(spec.name, reader.error());
  std::optional<journal::Checkpoint> chosen;
  auto all = (*reader)->Checkpoints();
  if (!all) return Fail(spec.name, all.error());
  for (const auto& cp : *all) {
    if (seq == 0 || cp.seq == seq) chosen = cp;
  }
  if (!chosen) {
    return Fail(
        spec.name,
        base::NotFound("no_checkpoint", seq == 0 ? "the journal holds no checkpoint"
                                                 : "no checkpoint at seq " + std::to_string(seq)));
  }
  if (auto st = journal::WriteCheckpointFile(out, {.checkpoint = *chosen, .witnesses = {}}); !st) {
    return Fail(spec.name, st.error());
  }
  std::cout << "exported checkpoint at seq " << chosen->seq << " to " << out << "\n";
  return kExitOk;
}

int AuditCountersign(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "audit countersign";
  spec.usage =
      "relais audit countersign FILE --key AGENCY.key --registry REG --authority-pub AUTH.pub";
  spec.description =
      "Countersigns an exported checkpoint file as a witness: checks the broker's signature\n"
      "against the registry's broker keys, then appends a witness line signed with the\n"
      "agency's own signing key (docs/journal-format.md §5.3). Keep a copy of the signed file:\n"
      "it is what later exposes a rewritten or truncated journal (docs/audit.md §3).";
  std::string file_path, key_path, registry_path, authority_pub;
  spec.options.add_options()("file", po::value(&file_path)->required(), "the checkpoint file")(
      "key", po::value(&key_path)->required(), "the witness agency's key file (relais keygen)")(
      "registry", po::value(&registry_path)->required(), "the signed registry file")(
      "authority-pub", po::value(&authority_pub)->required(),
      "the registry authority's public key file (.pub)");
  spec.positionals = {"file"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  base::SystemClock clock;
  auto registry = sdk::LoadRegistry(registry_path, authority_pub, clock.NowMs());
  if (!registry) return Fail(spec.name, registry.error());
  auto identity = crypto::LoadIdentity(key_path);
  if (!identity) return Fail(spec.name, identity.error());
  auto file = journal::ReadCheckpointFile(file_path);
  if (!file) return Fail(spec.name, file.error());
  if (auto st = journal::Countersign(*file, identity->pub.agency_id, identity->sign_secret,
                                     clock.NowMs(), BrokerKeys(*registry));
      !st) {
    return Fail(spec.name, st.error());
  }
  if (auto st = journal::WriteCheckpointFile(file_path, *file); !st) {
    return Fail(spec.name, st.error());
  }
  std::cout << identity->pub.agency_id << " countersigned the checkpoint at seq "
            << file->checkpoint.seq << " (" << file->witnesses.size() << " witnesses)\n";
  return kExitOk;
}

}  // namespace relais::tools
