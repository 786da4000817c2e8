// relais registry: init, add, revoke, sign, show, verify. See docs/registry.md.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "crypto/identity.h"
#include "crypto/registry_sign.h"
#include "schema/codec.h"
#include "schema/registry.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/registry_file.h"

namespace relais::tools {

namespace {

constexpr int kDefaultRegistryValidityDays = 30;
constexpr int kDefaultKeyValidityDays = 365;
constexpr int kMaxValidityDays = 3650;

const char kKindsHelp[] =
    "Agency kinds: hospital, prison_service, child_welfare, eviction_prevention (emitters);\n"
    "siao, association, shelter (receivers); coordinator; auditor; broker.";

std::string AllEventKindNames() {
  std::string out;
  for (int i = 1; i < schema::kEventKindCount; ++i) {
    out += (out.empty() ? "" : ", ") +
           std::string(schema::EventKindName(static_cast<schema::EventKind>(i)));
  }
  return out;
}

std::string AllReferralKindNames() {
  std::string out;
  for (int i = 1; i < schema::kReferralKindCount; ++i) {
    out += (out.empty() ? "" : ", ") +
           std::string(schema::ReferralKindName(static_cast<schema::ReferralKind>(i)));
  }
  return out;
}

std::string SignHint(const std::filesystem::path& reg) {
  return "the registry is now unsigned: run `relais registry sign " + reg.string() +
         " --authority-key FILE` before distributing it";
}

bool ValidDays(int days) { return days >= 1 && days <= kMaxValidityDays; }

// Signs `registry` as the next edition: serial + 1, issued now, expiring after `days`.
int SignAndSave(std::string_view command, const std::filesystem::path& reg,
                schema::Registry registry, const crypto::AgencyIdentity& authority, int days) {
  base::TimeMs now = base::SystemClock().NowMs();
  registry.serial += 1;
  registry.issued_at = now;
  registry.expires_at = now + days * base::kMsPerDay;
  auto signed_registry =
      crypto::SignRegistry(registry, authority.sign_secret, authority.pub.key_id);
  if (!signed_registry) return Fail(command, signed_registry.error());
  if (auto saved = SaveSignedRegistry(reg, *signed_registry); !saved) {
    return Fail(command, saved.error());
  }
  std::cout << "signed " << reg.string() << ": serial " << registry.serial << ", "
            << registry.agencies.size() << " agencies, valid until "
            << base::FormatIsoUtc(registry.expires_at) << ", authority key id "
            << authority.pub.key_id << "\n";
  return kExitOk;
}

int Init(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "registry init";
  spec.usage = "relais registry init --authority-key FILE --out REG [--validity-days N] [--force]";
  spec.description =
      "Creates an empty registry owned by the registry authority whose identity is FILE (an\n"
      "ID.key made by `relais keygen`), and signs it as serial 1. The authority's .pub file is\n"
      "what verifiers (the broker, `registry verify`) are given.\n\n"
      "Example:\n"
      "  relais keygen --agency pacte-75 --out authority\n"
      "  relais registry init --authority-key authority/pacte-75.key --out registry.bin";
  std::string key_file, out;
  int days = kDefaultRegistryValidityDays;
  std::string territory;
  spec.options.add_options()("authority-key", po::value(&key_file)->required(),
                             "the authority's secret key file (ID.key, mode 0600)")(
      "out", po::value(&out)->required(), "the registry file to create")(
      "validity-days", po::value(&days)->default_value(days),
      "days until this edition expires; later `registry sign` runs keep this period")(
      "territory", po::value(&territory),
      "not supported: the registry format has no registry-wide territory; give each agency its "
      "territory with `registry add --territory`")(
      "force",
      "replace an existing registry file (the new one restarts at serial 1: a broker running a "
      "higher serial refuses it as a rollback)");
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  if (vm->count("territory")) {
    return UsageError(spec.name,
                      "--territory: the registry format has no registry-wide territory; pass "
                      "--territory to `relais registry add` for each agency");
  }
  if (!ValidDays(days)) return UsageError(spec.name, "--validity-days must be 1-3650");
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && !vm->count("force")) {
    return UsageError(spec.name, out + " already exists (pass --force to replace it)");
  }
  auto authority = crypto::LoadIdentity(key_file);
  if (!authority) return Fail(spec.name, authority.error());
  schema::Registry registry;
  registry.authority_key_id = authority->pub.key_id;
  return SignAndSave(spec.name, out, std::move(registry), *authority, days);
}

// Parses --may-emit names; broker-only kinds are refused for other agency kinds.
base::Result<std::vector<schema::EventKind>> ParseMayEmit(const std::string& list,
                                                          schema::AgencyKind kind) {
  std::vector<schema::EventKind> out;
  for (const std::string& name : SplitCommaList(list)) {
    auto k = schema::ParseEventKind(name);
    if (!k || *k == schema::EventKind::kUnknown) {
      return base::InvalidInput("bad_event_kind", "--may-emit: unknown event kind '" + name +
                                                      "'; known: " + AllEventKindNames());
    }
    if (IsBrokerOnlyKind(*k) && kind != schema::AgencyKind::kBroker) {
      return base::InvalidInput("bad_event_kind",
                                "--may-emit: only the broker emits '" + name + "'");
    }
    if (std::find(out.begin(), out.end(), *k) == out.end()) out.push_back(*k);
  }
  return out;
}

base::Result<std::vector<schema::ReferralKind>> ParseReferralKinds(const std::string& list) {
  std::vector<schema::ReferralKind> out;
  for (const std::string& name : SplitCommaList(list)) {
    auto k = schema::ParseReferralKind(name);
    if (!k || *k == schema::ReferralKind::kNone) {
      return base::InvalidInput("bad_referral_kind",
                                "--notice-without-consent: unknown referral kind '" + name +
                                    "'; known: " + AllReferralKindNames());
    }
    if (std::find(out.begin(), out.end(), *k) == out.end()) out.push_back(*k);
  }
  return out;
}

// Refuses a key already registered to any agency (the broker maps CURVE keys to agencies).
base::Status CheckKeysUnused(const schema::Registry& registry, const crypto::PublicIdentity& pub) {
  for (const schema::Agency& a : registry.agencies) {
    for (const schema::AgencyKey& k : a.keys) {
      if (k.sign_key == pub.sign_public || k.seal_key == pub.seal_public ||
          k.curve_key == pub.curve_public) {
        return base::InvalidInput("key_in_use",
                                  "a key of this .pub file is already registered "
                                  "to agency '" +
                                      a.id + "' (key id " + k.key_id + ")");
      }
    }
  }
  return base::Ok();
}

// The command-line values of `registry add`.
struct AddArgs {
  std::string reg, pub_file, kind_name, name, territory, may_emit, notice;
  int valid_days = kDefaultKeyValidityDays;
};

CommandSpec AddSpec(AddArgs& args) {
  CommandSpec spec;
  spec.name = "registry add";
  spec.usage =
      "relais registry add REG --pub FILE.pub --kind KIND --name NAME [--territory T]\n"
      "       [--may-emit K1,K2] [--may-receive] [--notice-without-consent R1,R2] [--valid-days N]";
  spec.description =
      "Adds the agency of FILE.pub (made by `relais keygen`) to the registry REG. The agency id\n"
      "and keys come from the .pub file. The edit removes the registry's signature: sign it again\n"
      "with `relais registry sign` before giving it to the broker.\n\n" +
      std::string(kKindsHelp) +
      "\n\nWithout --may-emit, an agency emits what its kind does:\n"
      "  emitters:  referral, deadline_changed, cancelled, handed_over, closed, consent_granted,\n"
      "             consent_withdrawn\n"
      "  receivers: accepted, declined, picked_up, purge_receipt\n"
      "  broker:    reminder, escalation, rupture, offer_taken, purge_request (broker only)\n"
      "  coordinator, auditor: nothing\n"
      "Receivers and coordinators receive even without --may-receive.\n\n"
      "Example:\n"
      "  relais registry add registry.bin --pub keys/aphp-hopital-nord.pub --kind hospital \\\n"
      "      --name \"AP-HP Hopital Nord, service social\" --territory 75 \\\n"
      "      --notice-without-consent hospital_discharge";
  spec.options.add_options()("registry", po::value(&args.reg)->required(),
                             "the registry file (REG; also accepted as the first argument)")(
      "pub", po::value(&args.pub_file)->required(), "the agency's public identity file (ID.pub)")(
      "kind", po::value(&args.kind_name)->required(), "agency kind (see above)")(
      "name", po::value(&args.name)->required(), "display name shown to partners")(
      "territory", po::value(&args.territory), "territory, e.g. a departement number: 75")(
      "may-emit", po::value(&args.may_emit),
      "comma-separated event kinds the agency may emit (replaces the kind's default)")(
      "may-receive", "the agency may receive events (default for receivers and coordinators)")(
      "notice-without-consent", po::value(&args.notice),
      "comma-separated referral kinds it may send at notice tier without consent "
      "(hospital_discharge, prison_release, ase_exit, treve_end, maternity_exit, other); needs "
      "referral in its may-emit set")("valid-days",
                                      po::value(&args.valid_days)->default_value(args.valid_days),
                                      "days the agency's key stays valid from now");
  spec.positionals = {"registry"};
  return spec;
}

// The registry entry the arguments describe, without its keys. Errors are usage errors.
base::Result<schema::Agency> AgencyFromArgs(const AddArgs& args, const po::variables_map& vm) {
  schema::Agency agency;
  auto kind = schema::ParseAgencyKind(args.kind_name);
  if (!kind) {
    return base::InvalidInput("bad_kind", "unknown --kind '" + args.kind_name + "'. " + kKindsHelp);
  }
  if (args.name.empty()) return base::InvalidInput("bad_name", "--name must not be empty");
  if (!ValidDays(args.valid_days)) {
    return base::InvalidInput("bad_days", "--valid-days must be 1-3650");
  }
  agency.display_name = args.name;
  agency.kind = *kind;
  agency.territory = args.territory;
  agency.may_emit = DefaultMayEmit(*kind);
  if (vm.count("may-emit")) {
    RELAIS_ASSIGN_OR_RETURN(agency.may_emit, ParseMayEmit(args.may_emit, *kind));
  }
  agency.may_receive = vm.count("may-receive") > 0 || DefaultMayReceive(*kind);
  if (vm.count("notice-without-consent")) {
    RELAIS_ASSIGN_OR_RETURN(agency.notice_without_consent, ParseReferralKinds(args.notice));
    if (std::find(agency.may_emit.begin(), agency.may_emit.end(), schema::EventKind::kReferral) ==
        agency.may_emit.end()) {
      return base::InvalidInput("bad_notice",
                                "--notice-without-consent needs an agency that may emit referral");
    }
  }
  return agency;
}

// Refuses an agency id already present, then a key already registered to another agency.
base::Status CheckNewAgency(const schema::Registry& registry, const crypto::PublicIdentity& pub) {
  if (const schema::Agency* existing = registry.Find(pub.agency_id)) {
    std::string key_ids;
    for (const auto& k : existing->keys) key_ids += (key_ids.empty() ? "" : ", ") + k.key_id;
    return base::InvalidInput(
        "agency_exists",
        "agency '" + pub.agency_id + "' is already in the registry (key ids: " + key_ids + ")");
  }
  return CheckKeysUnused(registry, pub);
}

int Add(int argc, char** argv) {
  AddArgs args;
  CommandSpec spec = AddSpec(args);
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  auto agency = AgencyFromArgs(args, *vm);
  if (!agency) return UsageError(spec.name, agency.error().message);

  auto file = LoadRegistryFile(args.reg);
  if (!file) return Fail(spec.name, file.error());
  auto pub = crypto::LoadPublicIdentity(args.pub_file);
  if (!pub) return Fail(spec.name, pub.error());
  schema::Registry& registry = file->registry;
  if (auto fresh = CheckNewAgency(registry, *pub); !fresh) return Fail(spec.name, fresh.error());
  base::TimeMs now = base::SystemClock().NowMs();
  agency->id = pub->agency_id;
  agency->keys.push_back(schema::AgencyKey{pub->key_id, pub->sign_public, pub->seal_public,
                                           pub->curve_public, now,
                                           now + args.valid_days * base::kMsPerDay});
  registry.agencies.push_back(*agency);
  if (auto saved = SaveUnsignedRegistry(args.reg, registry); !saved) {
    return Fail(spec.name, saved.error());
  }
  std::cout << "added " << agency->id << " (" << schema::AgencyKindName(agency->kind) << ", key id "
            << pub->key_id << "); may emit: " << JoinEventKinds(agency->may_emit)
            << "; receives: " << (agency->may_receive ? "yes" : "no") << "\n"
            << SignHint(args.reg) << "\n";
  return kExitOk;
}

int Revoke(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "registry revoke";
  spec.usage = "relais registry revoke REG --agency ID";
  spec.description =
      "Marks an agency revoked as of now: once the re-signed registry is loaded, the broker\n"
      "refuses its connections and publishes and cuts its live sessions. The entry stays in the\n"
      "registry so events it signed before the revocation still verify in audits. The edit\n"
      "removes the signature: run `relais registry sign` afterwards.\n\n"
      "Example:\n"
      "  relais registry revoke registry.bin --agency asso-ancienne";
  std::string reg, agency_id;
  spec.options.add_options()("registry", po::value(&reg)->required(),
                             "the registry file (REG; also accepted as the first argument)")(
      "agency", po::value(&agency_id)->required(), "the agency id to revoke");
  spec.positionals = {"registry"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  auto file = LoadRegistryFile(reg);
  if (!file) return Fail(spec.name, file.error());
  schema::Agency* agency = file->registry.Find(agency_id);
  if (agency == nullptr) {
    return Fail(spec.name,
                base::NotFound("unknown_agency", "no agency '" + agency_id + "' in " + reg));
  }
  if (agency->revoked) {
    std::cout << agency_id << " was already revoked at " << base::FormatIsoUtc(agency->revoked_at)
              << "; registry unchanged\n";
    return kExitOk;
  }
  agency->revoked = true;
  agency->revoked_at = base::SystemClock().NowMs();
  if (auto saved = SaveUnsignedRegistry(reg, file->registry); !saved) {
    return Fail(spec.name, saved.error());
  }
  std::cout << "revoked " << agency_id << " at " << base::FormatIsoUtc(agency->revoked_at) << "\n"
            << SignHint(reg) << "\n";
  return kExitOk;
}

int Sign(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "registry sign";
  spec.usage = "relais registry sign REG --authority-key FILE [--validity-days N]";
  spec.description =
      "Signs REG as its next edition: increments the serial, sets issuedAt to now and expiresAt\n"
      "to now + N days. Only the authority named when the registry was created can sign it.\n"
      "The broker refuses an edition whose serial is lower than the one it runs (rollback).\n\n"
      "Example:\n"
      "  relais registry sign registry.bin --authority-key authority/pacte-75.key";
  std::string reg, key_file;
  int days = 0;
  spec.options.add_options()("registry", po::value(&reg)->required(),
                             "the registry file (REG; also accepted as the first argument)")(
      "authority-key", po::value(&key_file)->required(),
      "the authority's secret key file (ID.key, mode 0600)")(
      "validity-days", po::value(&days),
      "days until this edition expires (default: the previous edition's period, else 30)");
  spec.positionals = {"registry"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  auto file = LoadRegistryFile(reg);
  if (!file) return Fail(spec.name, file.error());
  const schema::Registry& registry = file->registry;
  if (!vm->count("validity-days")) {
    base::TimeMs period = registry.expires_at - registry.issued_at;
    days = period >= base::kMsPerDay ? static_cast<int>(period / base::kMsPerDay)
                                     : kDefaultRegistryValidityDays;
  }
  if (!ValidDays(days)) return UsageError(spec.name, "--validity-days must be 1-3650");
  auto authority = crypto::LoadIdentity(key_file);
  if (!authority) return Fail(spec.name, authority.error());
  if (authority->pub.key_id != registry.authority_key_id) {
    return Fail(spec.name, base::InvalidInput("wrong_authority_key",
                                              "this registry belongs to authority key id '" +
                                                  registry.authority_key_id + "'; " + key_file +
                                                  " has key id '" + authority->pub.key_id + "'"));
  }
  return SignAndSave(spec.name, reg, registry, *authority, days);
}

int Show(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "registry show";
  spec.usage = "relais registry show REG [--json]";
  spec.description =
      "Prints the registry: serial, validity, authority key id, whether it carries a signature\n"
      "(not checked: use `registry verify`), and one row per agency: id, name, kind, territory,\n"
      "key ids, what it may emit, whether it receives, revocation. --json adds the public keys\n"
      "(hex, and the CURVE key in Z85). Never prints a secret: the registry holds none.";
  std::string reg;
  spec.options.add_options()("registry", po::value(&reg)->required(),
                             "the registry file (REG; also accepted as the first argument)")(
      "json", "print JSON instead of a table");
  spec.positionals = {"registry"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  auto file = LoadRegistryFile(reg);
  if (!file) return Fail(spec.name, file.error());
  if (vm->count("json")) {
    PrintRegistryJson(std::cout, *file);
  } else {
    PrintRegistryText(std::cout, reg, *file);
  }
  return kExitOk;
}

int Verify(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "registry verify";
  spec.usage = "relais registry verify REG --authority-pub FILE.pub [--at TIME]";
  spec.description =
      "Exits 0 only if REG is signed by the authority of FILE.pub, is consistent, and is valid\n"
      "now (or at TIME). Otherwise exits 2 and says why: registry_unsigned (edited since last\n"
      "signed), registry_bad_signature (another authority, or altered after signing: names the\n"
      "expected and the found authority key ids), registry_expired (expired or not yet valid:\n"
      "gives the dates), malformed or registry_inconsistent.\n\n"
      "Example:\n"
      "  relais registry verify registry.bin --authority-pub authority/pacte-75.pub";
  std::string reg, pub_file, at;
  spec.options.add_options()("registry", po::value(&reg)->required(),
                             "the registry file (REG; also accepted as the first argument)")(
      "authority-pub", po::value(&pub_file)->required(), "the authority's public identity file")(
      "at", po::value(&at),
      "check validity at this ISO 8601 time instead of now (e.g. 2026-04-01T12:00Z)");
  spec.positionals = {"registry"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  base::TimeMs now = base::SystemClock().NowMs();
  if (vm->count("at")) {
    auto t = base::ParseIsoTime(at);
    if (!t) return UsageError(spec.name, "--at: " + t.error().message);
    now = *t;
  }
  auto authority = crypto::LoadPublicIdentity(pub_file);
  if (!authority) return Fail(spec.name, authority.error());
  auto bytes = ReadFileBytes(reg);
  if (!bytes) return Fail(spec.name, bytes.error());
  auto signed_registry = schema::DecodeSignedRegistry(*bytes);
  base::Result<schema::Registry> verified =
      signed_registry ? crypto::VerifySignedRegistry(*signed_registry, authority->sign_public, now)
                      : base::Result<schema::Registry>(signed_registry.error());
  if (!verified) {
    std::cerr << "relais " << spec.name << ": " << reg
              << " refused: " << verified.error().ToString() << "\n";
    return kExitVerify;  // every reason a registry is not usable is a verification failure
  }
  size_t revoked = std::count_if(verified->agencies.begin(), verified->agencies.end(),
                                 [](const schema::Agency& a) { return a.revoked; });
  std::cout << "ok: " << reg << " serial " << verified->serial << ", signed by authority key id "
            << verified->authority_key_id << ", valid until "
            << base::FormatIsoUtc(verified->expires_at) << "; " << verified->agencies.size()
            << " agencies (" << revoked << " revoked)\n";
  return kExitOk;
}

constexpr Subcommand kSubcommands[] = {
    {"init", "create an empty registry signed by the registry authority", Init},
    {"add", "add an agency from its .pub file", Add},
    {"revoke", "revoke an agency", Revoke},
    {"sign", "sign the registry as its next edition", Sign},
    {"show", "print the agencies (text or JSON)", Show},
    {"verify", "check the signature and validity (exit 0 ok, 2 refused)", Verify},
};

}  // namespace

int RunRegistry(int argc, char** argv) {
  return RunSubcommand(
      "registry",
      "The registry lists every agency, its public keys and what it may emit and receive.\n"
      "The registry authority signs it; the broker only loads a signed, current edition.\n"
      "See docs/registry.md. Subcommands:",
      kSubcommands, argc, argv);
}

}  // namespace relais::tools
