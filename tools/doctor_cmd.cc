// relais doctor: checks a deployment (keys, registry, this agency, broker, journal, disk) and
// says what to fix. The checks are in tools/doctor_checks.h; this file parses and wires them.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "adapters/sdk/client.h"
#include "base/clock.h"
#include "crypto/identity.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "tools/doctor_checks.h"

namespace relais::tools {

namespace {

struct DoctorFlags {
  std::string relaisd_config;
  std::string key;
  std::string registry;
  std::string authority_pub;
  std::vector<std::string> brokers;
  std::string broker_id;
  std::string journal;
  std::vector<std::string> state_dirs;
  bool full = false;
  DoctorThresholds limits;
};

void AddOptions(CommandSpec& spec, DoctorFlags& f) {
  spec.options.add_options()(
      "relaisd-config", po::value(&f.relaisd_config),
      "on the broker host: take --key, --registry, --authority-pub, --journal, --broker (from\n"
      "listen, * -> 127.0.0.1) and --state-dir (the journal's directory) from relaisd's config\n"
      "file, e.g. /etc/relais/relaisd.conf; flags given as well win")(
      "key", po::value(&f.key), "this agency's key file (on the broker host: relaisd's --key)")(
      "registry", po::value(&f.registry), "the signed registry file")(
      "authority-pub", po::value(&f.authority_pub),
      "the registry authority's public key file (.pub)")(
      "broker", po::value(&f.brokers)->composing(), sdk::kBrokerFlagHelp)(
      "broker-id", po::value(&f.broker_id),
      "which registry agency of kind broker to trust, when the registry lists several")(
      "journal", po::value(&f.journal), "relaisd's journal file: verify its chain and checkpoints")(
      "full", po::bool_switch(&f.full),
      "with --journal: also verify every emitter signature (slower: ~60 us per entry per core)")(
      "state-dir", po::value(&f.state_dirs)->composing(),
      "a state directory (/var/lib/relais): permissions and free space (repeatable)")(
      "key-warn-days", po::value(&f.limits.key_warn_days)->default_value(30),
      "warn when an agency's last key ends within this many days")(
      "registry-warn-days", po::value(&f.limits.registry_warn_days)->default_value(7),
      "warn when the registry edition expires within this many days")(
      "disk-warn-percent", po::value(&f.limits.disk_warn_percent)->default_value(10),
      "warn when a filesystem has less free space than this share");
}

// The public identity of the agency whose key file could not be loaded, from the .pub file
// beside it, so that the registry checks can still run.
std::optional<crypto::PublicIdentity> PubBeside(const std::filesystem::path& key_file) {
  std::filesystem::path pub = key_file;
  pub.replace_extension(".pub");
  auto loaded = crypto::LoadPublicIdentity(pub);
  if (!loaded) return std::nullopt;
  return std::move(*loaded);
}

// True the first time a path of this filesystem is seen (and for paths that do not exist, so
// that the disk check reports them).
bool Unseen(const std::filesystem::path& path, std::set<dev_t>& seen) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return true;
  return seen.insert(st.st_dev).second;
}

// Fills the flags not given on the command line from relaisd's `name = value` config file.
base::Status ApplyRelaisdConfig(DoctorFlags& f) {
  std::string key, registry, authority_pub, journal, listen;
  po::options_description d;
  d.add_options()("key", po::value(&key))("registry", po::value(&registry))(
      "authority-pub", po::value(&authority_pub))("journal", po::value(&journal))(
      "listen", po::value(&listen));
  std::ifstream file(f.relaisd_config);
  if (!file) return base::NotFound("no_config", "cannot read " + f.relaisd_config);
  std::stringstream in;
  in << file.rdbuf();
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(in, d, /*allow_unregistered=*/true), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    // Boost 1.74's what() loops forever when the offending line holds a placeholder such as
    // "%invalid_line%" (see broker/relaisd_options.cc): no message from a line with a '%'.
    if (in.str().find('%') != std::string::npos) {
      return base::InvalidInput("bad_config", f.relaisd_config + ": invalid line or option");
    }
    return base::InvalidInput("bad_config", f.relaisd_config + ": " + e.what());
  }
  auto fill = [](std::string& flag, const std::string& value) {
    if (flag.empty()) flag = value;
  };
  fill(f.key, key);
  fill(f.registry, registry);
  fill(f.authority_pub, authority_pub);
  fill(f.journal, journal);
  if (f.brokers.empty() && !listen.empty()) {
    // The broker binds tcp://*:PORT or tcp://0.0.0.0:PORT; probe it on loopback.
    for (const std::string any : {"tcp://*:", "tcp://0.0.0.0:"}) {
      if (listen.rfind(any, 0) == 0) listen = "tcp://127.0.0.1:" + listen.substr(any.size());
    }
    f.brokers.push_back(listen);
  }
  if (f.state_dirs.empty() && !journal.empty()) {
    std::filesystem::path dir = std::filesystem::path(journal).parent_path();
    if (!dir.empty()) f.state_dirs.push_back(dir.string());
  }
  return base::Ok();
}

}  // namespace

int RunDoctor(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "doctor";
  spec.usage =
      "relais doctor --key ID.key --registry REG --authority-pub AUTH.pub\n"
      "              [--broker tcp://HOST:7411] [--journal FILE [--full]] [--state-dir DIR]\n"
      "relais doctor --relaisd-config /etc/relais/relaisd.conf [--full]     (on the broker host)";
  spec.description =
      "Checks a deployment and prints one line per check, OK, WARN or FAIL, with what to do:\n"
      "  key        the key file exists, has mode 0600 and loads\n"
      "  registry   signed by the authority and valid now; WARN when the edition expires within\n"
      "             --registry-warn-days\n"
      "  keys       WARN for agencies whose keys all end within --key-warn-days\n"
      "  agency     this agency is listed, not revoked, its key file's key valid now\n"
      "  broker     (--broker) the broker answers this agency's CURVE handshake and a heartbeat\n"
      "  journal    (--journal) the hash chain and the signed checkpoints verify (--full: every\n"
      "             emitter signature too, as relais audit verify does); the files are private\n"
      "  state-dir  (--state-dir) exists, mode 0700\n"
      "  disk       free space above --disk-warn-percent, once per filesystem of the state\n"
      "             directories and the journal\n"
      "A check that cannot run because an earlier one failed prints SKIP. Run it as the service\n"
      "user or root on the broker host (the key file is private). Nothing secret is printed.\n"
      "Exit code: 0 all OK, 1 warnings only (or bad usage), 2 a check failed.";
  DoctorFlags flags;
  AddOptions(spec, flags);
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  if (!flags.relaisd_config.empty()) {
    if (auto st = ApplyRelaisdConfig(flags); !st) return Fail(spec.name, st.error());
  }
  for (auto [name, value] :
       {std::pair{"--key", &flags.key}, std::pair{"--registry", &flags.registry},
        std::pair{"--authority-pub", &flags.authority_pub}}) {
    if (value->empty()) {
      return UsageError(spec.name, std::string(name) + " is required (or --relaisd-config)");
    }
  }

  base::SystemClock clock;
  const base::TimeMs now = clock.NowMs();
  DoctorReport report;
  std::optional<crypto::AgencyIdentity> identity = CheckKeyFile(flags.key, report);
  std::optional<crypto::PublicIdentity> me;
  if (identity) {
    me = identity->pub;
  } else {
    me = PubBeside(flags.key);
  }
  std::optional<schema::Registry> registry =
      CheckRegistry(flags.registry, flags.authority_pub, now, flags.limits, report);
  if (registry && me) {
    CheckAgency(*registry, *me, now, report);
  } else {
    report.Skip("agency", registry ? "no readable key file or .pub beside it"
                                   : "the registry did not verify");
  }
  if (!flags.brokers.empty()) {
    if (registry && identity) {
      CheckBroker(flags.brokers, flags.broker_id, *registry, *identity, now, report);
    } else {
      report.Skip("broker", identity ? "the registry did not verify" : "the key file is unusable");
    }
  }
  std::set<dev_t> filesystems;  // the disk check once per filesystem
  for (const std::string& dir : flags.state_dirs) {
    CheckStateDir(dir, report);
    if (Unseen(dir, filesystems)) CheckDiskSpace(dir, flags.limits, report);
  }
  if (!flags.journal.empty()) {
    CheckJournal(flags.journal, registry ? &*registry : nullptr, flags.full, report);
    std::filesystem::path dir = std::filesystem::path(flags.journal).parent_path();
    if (dir.empty()) dir = ".";
    if (Unseen(dir, filesystems)) CheckDiskSpace(dir, flags.limits, report);
  }
  report.Print(std::cout);
  const int code = report.ExitCode();
  std::cout << (code == 0   ? "doctor: all checks passed\n"
                : code == 1 ? "doctor: warnings, see above\n"
                            : "doctor: some checks FAILED, see above\n");
  return code;
}

}  // namespace relais::tools
