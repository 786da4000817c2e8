// relais-inbox: the association inbox. Parses flags (Boost.Program_options, here only) and wires
// the commands of cli_commands.h. See docs/adapters/inbox.md.
#include <boost/program_options.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "adapters/inbox/cli_commands.h"
#include "adapters/sdk/client.h"
#include "crypto/secret.h"
#include "schema/envelope.h"

namespace po = boost::program_options;
using namespace relais;

namespace {

constexpr const char* kUsage =
    "usage: relais-inbox COMMAND [ARGS] [options]   (options may also come from --config FILE)\n"
    "commands:\n"
    "  init [--create-key-file]      create the encrypted store (and its key file)\n"
    "  run                           receive events and serve the web page on 127.0.0.1\n"
    "  list [--json]                 cases by exit date\n"
    "  show CASE [--json]            one case and its events\n"
    "  accept CASE [--note TEXT]     publish `accepted` in reply to the referral\n"
    "  decline CASE --reason R [--note TEXT]   R: no_capacity, not_eligible,\n"
    "                                person_unreachable, other\n"
    "  pickup CASE [--place TEXT] [--note TEXT]   confirm the person is with us\n"
    "  purges [--json]               purge traces (données supprimées à la demande de la "
    "personne)\n"
    "  export-fhir CASE              FHIR R4 Bundle (ServiceRequest + Task) on stdout\n"
    "  staff add LOGIN | staff remove LOGIN | staff list   web page accounts (password on stdin)\n"
    "The store passphrase, when no --store-key-file is given, is read from the environment\n"
    "variable RELAIS_INBOX_PASSPHRASE or from --passphrase-file.\n";

bool ReadFirstLine(const std::string& path, std::string& out) {
  std::ifstream in(path);
  return static_cast<bool>(std::getline(in, out));
}

}  // namespace

int main(int argc, char** argv) {
  crypto::Init();
  inbox::InboxOptions o;
  std::string command, config, passphrase_file, reason, note, place, bind;
  std::vector<std::string> args;
  po::options_description opts("options");
  opts.add_options()("help,h", "this help")("config", po::value(&config),
                                            "read options from this file (name = value lines)")(
      "store", po::value<std::string>()->default_value("inbox.db"), "the store file")(
      "store-key-file", po::value<std::string>(), "the store key file (else a passphrase)")(
      "passphrase-file", po::value(&passphrase_file), "a file whose first line is the passphrase")(
      "create-key-file", "init: create --store-key-file first")("key", po::value<std::string>(),
                                                                "this agency's key file (ID.key)")(
      "registry", po::value<std::string>(), "the signed registry file")(
      "authority-pub", po::value<std::string>(), "the registry authority's .pub file")(
      "broker", po::value<std::vector<std::string>>()->composing(), sdk::kBrokerFlagHelp)(
      "broker-id", po::value<std::string>(), "which broker agency of the registry to trust")(
      "contact-name", po::value(&o.agency.contact.name), "contact given in acceptances")(
      "contact-role", po::value(&o.agency.contact.role), "")(
      "contact-service", po::value(&o.agency.contact.service), "")(
      "contact-phone", po::value(&o.agency.contact.phone), "")(
      "contact-email", po::value(&o.agency.contact.email), "")(
      "web-port", po::value(&o.web.port)->default_value(8470), "web page port on 127.0.0.1")(
      "web-bind", po::value(&o.web.bind)->default_value("127.0.0.1"), "loopback address only")(
      "no-web", "run: no web page")(
      "notify-command", po::value(&o.notify.command)->composing(),
      "argv word of the notification command (repeat per word; the text is appended)")(
      "notify-webhook", po::value(&o.notify.webhook_url), "POST {\"text\": ...} to this URL")(
      "no-desktop-notify", "do not fall back to notify-send")("json", "JSON output")(
      "reason", po::value(&reason), "decline reason")("note", po::value(&note),
                                                      "a note for the referring professional")(
      "place", po::value(&place), "pickup: where the person is now");
  po::options_description hidden;
  hidden.add_options()("command", po::value(&command))("args", po::value(&args));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("command", 1).add("args", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    if (vm.count("config")) {
      po::store(po::parse_config_file<char>(vm["config"].as<std::string>().c_str(), opts), vm);
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::cerr << "relais-inbox: " << e.what() << "\n" << kUsage;
    return 2;
  }
  if (vm.count("help") || command.empty()) {
    std::cout << kUsage << "\n" << opts;
    return command.empty() && !vm.count("help") ? 2 : 0;
  }
  o.store = vm["store"].as<std::string>();
  if (vm.count("store-key-file")) o.key.key_file = vm["store-key-file"].as<std::string>();
  if (o.key.key_file.empty()) {
    if (!passphrase_file.empty()) {
      if (!ReadFirstLine(passphrase_file, o.key.passphrase)) {
        std::cerr << "relais-inbox: cannot read --passphrase-file\n";
        return 2;
      }
    } else if (const char* p = std::getenv("RELAIS_INBOX_PASSPHRASE")) {
      o.key.passphrase = p;
    }
    if (o.key.passphrase.empty()) {
      std::cerr << "relais-inbox: give --store-key-file, --passphrase-file or "
                   "RELAIS_INBOX_PASSPHRASE\n";
      return 2;
    }
  }
  if (vm.count("key")) o.agency.key_file = vm["key"].as<std::string>();
  if (vm.count("registry")) o.agency.registry_file = vm["registry"].as<std::string>();
  if (vm.count("authority-pub")) o.agency.authority_pub = vm["authority-pub"].as<std::string>();
  if (vm.count("broker")) o.agency.brokers = vm["broker"].as<std::vector<std::string>>();
  if (vm.count("broker-id")) o.agency.broker_id = vm["broker-id"].as<std::string>();
  o.web_enabled = !vm.count("no-web");
  if (o.web.bind != "127.0.0.1" && o.web.bind != "::1" && o.web.bind != "localhost") {
    std::cerr << "relais-inbox: --web-bind must be a loopback address (127.0.0.1, ::1)\n";
    return 2;
  }
  o.notify.desktop_default = !vm.count("no-desktop-notify");
  o.json = vm.count("json") > 0;

  auto need_args = [&](size_t n) {
    if (args.size() == n) return true;
    std::cerr << "relais-inbox " << command << ": expected " << n << " argument(s)\n" << kUsage;
    return false;
  };
  auto need_agency = [&] {
    if (!o.agency.key_file.empty() && !o.agency.registry_file.empty() &&
        !o.agency.authority_pub.empty() && !o.agency.brokers.empty()) {
      return true;
    }
    std::cerr << "relais-inbox " << command
              << ": needs --key, --registry, --authority-pub and --broker\n";
    return false;
  };
  if (command == "init") {
    if (!need_args(0)) return 2;
    bool create = vm.count("create-key-file") > 0;
    if (create && o.key.key_file.empty()) {
      std::cerr << "relais-inbox init: --create-key-file needs --store-key-file\n";
      return 2;
    }
    return inbox::CmdInit(o, create);
  }
  if (command == "run") return need_args(0) && need_agency() ? inbox::CmdRun(o) : 2;
  if (command == "list") return need_args(0) ? inbox::CmdList(o) : 2;
  if (command == "show") return need_args(1) ? inbox::CmdShow(o, args[0]) : 2;
  if (command == "purges") return need_args(0) ? inbox::CmdPurges(o) : 2;
  if (command == "export-fhir") return need_args(1) ? inbox::CmdExportFhir(o, args[0]) : 2;
  if (command == "accept" || command == "decline" || command == "pickup") {
    if (!need_args(1) || !need_agency()) return 2;
    inbox::Answer answer;
    answer.note = note;
    answer.place = place;
    if (command == "accept") answer.kind = schema::EventKind::kAccepted;
    if (command == "pickup") answer.kind = schema::EventKind::kPickedUp;
    if (command == "decline") {
      answer.kind = schema::EventKind::kDeclined;
      auto r = schema::ParseDeclineReason(reason);
      if (!r || *r == schema::DeclineReason::kNone) {
        std::cerr << "relais-inbox decline: --reason must be no_capacity, not_eligible, "
                     "person_unreachable or other\n";
        return 2;
      }
      answer.reason = *r;
    }
    return inbox::CmdAnswer(o, args[0], answer);
  }
  if (command == "staff") {
    if (args.size() == 1 && args[0] == "list") return inbox::CmdStaffList(o);
    if (args.size() == 2 && args[0] == "add") return inbox::CmdStaffAdd(o, args[1]);
    if (args.size() == 2 && args[0] == "remove") return inbox::CmdStaffRemove(o, args[1]);
    std::cerr << "relais-inbox staff: add LOGIN | remove LOGIN | list\n";
    return 2;
  }
  std::cerr << "relais-inbox: unknown command '" << command << "'\n" << kUsage;
  return 2;
}
