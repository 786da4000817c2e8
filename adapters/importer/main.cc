// relais-import: the list importers (prison, ase, treve). Reads the institution's list files,
// publishes referral / deadline_changed / cancelled events for what changed since the last run
// (docs/adapters/prison.md, ase.md, treve.md). Boost.Program_options is used here only.
#include <signal.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <thread>

#include "adapters/ase/ase_rows.h"
#include "adapters/importer/import_run.h"
#include "adapters/importer/watch.h"
#include "adapters/prison/prison_rows.h"
#include "adapters/sdk/client.h"
#include "adapters/sdk/envelope_builder.h"
#include "adapters/treve/treve_rows.h"
#include "crypto/identity.h"

namespace po = boost::program_options;

namespace relais::importer {
namespace {

constexpr int kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitRefused = 3;

struct Flags {
  std::string kind, key, registry, authority_pub, broker_id, store, today,
      charset = "auto", separator, actor, watch, progress = "auto", quarantine, reminders,
      recipients;
  std::vector<std::string> files, brokers;
  int lead_days = -1, threads = 2;
  size_t window = 1024;
  double timeout_s = 600;
  bool confirm = false;
};

const RowSchema* SchemaFor(const std::string& kind) {
  if (kind == "prison") return &prison::PrisonRowSchema();
  if (kind == "ase") return &ase::AseRowSchema();
  if (kind == "treve") return &treve::TreveRowSchema();
  return nullptr;
}

po::options_description Describe(Flags& f) {
  po::options_description o("Options");
  o.add_options()("help,h", "this help")("key", po::value(&f.key)->required(),
                                         "this agency's key file (ID.key)")(
      "registry", po::value(&f.registry)->required(), "the signed registry file")(
      "authority-pub", po::value(&f.authority_pub)->required(), "the registry authority's .pub")(
      "broker", po::value(&f.brokers)->required()->composing(), sdk::kBrokerFlagHelp)(
      "broker-id", po::value(&f.broker_id), "which registry broker to trust, if several")(
      "store", po::value(&f.store)->required(),
      "the adapter's mapping file (SQLite; its key is STORE.key)")(
      "recipients", po::value(&f.recipients),
      "agency ids for rows without a recipients column, comma-separated")(
      "today", po::value(&f.today), "the list's date, YYYY-MM-DD (default: today, UTC)")(
      "lead-days", po::value(&f.lead_days),
      "refer a new case this many days before its exit (prison 90, ase 183)")(
      "confirm-cancellations", po::bool_switch(&f.confirm),
      "publish cancelled for cases no longer in the list (else they are only listed)")(
      "quarantine", po::value(&f.quarantine), "quarantine file (default: STORE.quarantine.csv)")(
      "reminders", po::value(&f.reminders), "reminders file (default: STORE.reminders.csv)")(
      "charset", po::value(&f.charset)->default_value("auto"), "auto, utf-8 or latin-1")(
      "separator", po::value(&f.separator), "CSV separator: ',' or ';' (default: guessed)")(
      "actor", po::value(&f.actor), "pseudonymous id of the professional running the import")(
      "watch", po::value(&f.watch), "import each file dropped into this folder, until stopped")(
      "threads", po::value(&f.threads)->default_value(2), "sealing threads")(
      "window", po::value(&f.window)->default_value(1024), "publishes in flight")(
      "timeout", po::value(&f.timeout_s)->default_value(600), "seconds for one file's publishes")(
      "progress", po::value(&f.progress)->default_value("auto"), "auto, always or never");
  return o;
}

int Usage(const std::string& what) {
  std::cerr << "relais-import: " << what << " (relais-import --help)\n";
  return kExitUsage;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  for (char c : text + ",") {
    if (c != ',') {
      item += c;
    } else if (!item.empty()) {
      out.push_back(item);
      item.clear();
    }
  }
  return out;
}

// Fills `options` from the flags; "" or a usage error message.
std::string BuildOptions(const Flags& f, const RowSchema& schema, ImportOptions& options) {
  auto charset = ParseCharset(f.charset);
  if (!charset) return "--charset is auto, utf-8 or latin-1";
  options.charset = *charset;
  if (!f.separator.empty()) {
    if (f.separator != "," && f.separator != ";") return "--separator is ',' or ';'";
    options.separator = f.separator[0];
  }
  if (!f.today.empty()) {
    auto d = ParseDate(f.today);
    if (!d) return "--today is YYYY-MM-DD";
    options.today = *d;
  }
  if (f.lead_days < -1 || f.lead_days > 3650) return "--lead-days is 0-3650";
  if (f.threads < 1 || f.threads > 64 || f.window < 1 || f.window > 4096) {
    return "--threads is 1-64, --window 1-4096";
  }
  if (!(f.timeout_s > 0)) return "--timeout must be above 0";
  options.lead_days = f.lead_days;
  options.recipients = SplitList(f.recipients);
  options.confirm_cancellations = f.confirm;
  options.quarantine_file = f.quarantine.empty() ? f.store + ".quarantine.csv" : f.quarantine;
  options.reminders_file = f.reminders.empty() ? f.store + ".reminders.csv" : f.reminders;
  options.actor = f.actor.empty() ? std::string("import-") + schema.name : f.actor;
  options.publish.sealing_threads = f.threads;
  options.publish.window = f.window;
  options.publish.timeout = std::chrono::milliseconds(static_cast<int64_t>(f.timeout_s * 1000));
  bool tty = ::isatty(STDERR_FILENO) != 0;
  if (f.progress == "always" || (f.progress == "auto" && tty)) options.publish.progress = stderr;
  options.publish.label = schema.name;
  for (const auto& file : f.files) options.files.emplace_back(file);
  return "";
}

int Run(int argc, char** argv) {
  Flags f;
  po::options_description visible = Describe(f);
  po::options_description all = visible;
  all.add_options()("kind", po::value(&f.kind))("file", po::value(&f.files)->composing());
  po::positional_options_description pos;
  pos.add("kind", 1).add("file", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    if (vm.count("help")) {
      std::cout << "relais-import prison|ase|treve FILE... [--watch DIR] [--confirm-cancellations]"
                   "\n\n"
                << visible << "\n";
      return kExitOk;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return Usage(e.what());
  }
  const RowSchema* schema = SchemaFor(f.kind);
  if (schema == nullptr) return Usage("the first argument is prison, ase or treve");
  if (f.files.empty() && f.watch.empty()) return Usage("give list files or --watch DIR");
  ImportOptions options;
  std::string bad = BuildOptions(f, *schema, options);
  if (!bad.empty()) return Usage(bad);
  bool fixed_today = !f.today.empty();

  crypto::Init();
  base::SystemClock clock;
  auto fail = [](const base::Error& e) {
    std::cerr << "relais-import: " << e.ToString() << "\n";
    return sdk::IsRefusal(e) ? kExitRefused : kExitError;
  };
  auto me = crypto::LoadIdentity(f.key);
  if (!me) return fail(me.error());
  auto registry = sdk::LoadRegistry(f.registry, f.authority_pub, clock.NowMs());
  if (!registry) return fail(registry.error());
  auto broker_key = sdk::BrokerCurveKey(*registry, clock.NowMs(), f.broker_id);
  if (!broker_key) return fail(broker_key.error());
  auto store = MappingStore::Open(f.store);
  if (!store) return fail(store.error());
  sdk::ClientOptions co;
  co.endpoints = f.brokers;
  co.broker_curve_public = *broker_key;
  co.identity = &*me;
  auto client = sdk::Client::Connect(co);
  if (!client) return fail(client.error());

  ImportEnv env{client->get(), &*registry, &*me, &clock, store->get(), &std::cout};
  auto run_once = [&](ImportOptions& o) -> int {
    if (!fixed_today) o.today = FromTimeMs(clock.NowMs());
    auto summary = RunImport(*schema, o, env);
    if (!summary) return fail(summary.error());
    std::cout << summary->ToLine() << std::endl;
    return kExitOk;
  };
  if (f.watch.empty()) return run_once(options);
  return WatchFolder(f.watch, options, run_once, **client);
}

}  // namespace
}  // namespace relais::importer

int main(int argc, char** argv) { return relais::importer::Run(argc, argv); }
