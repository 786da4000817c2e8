// relais-hospital: the hospital adapter (docs/adapters/hospital.md).
//   relais-hospital serve ...                   the MLLP listener + outbox drain + subscription
//   relais-hospital case open|consent|close|list  the social service's case commands
// main() wires the components; Boost.Program_options is used here only.
#include <signal.h>

#include <boost/program_options.hpp>
#include <iostream>
#include <thread>

#include "adapters/hospital/adt_processor.h"
#include "adapters/hospital/case_events.h"
#include "adapters/hospital/forwarder.h"
#include "adapters/hospital/mllp_server.h"
#include "adapters/hospital/store.h"
#include "adapters/sdk/client.h"
#include "adapters/sdk/envelope_builder.h"
#include "base/log.h"
#include "crypto/identity.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "schema/envelope.h"

namespace po = boost::program_options;

namespace relais::hospital {
namespace {

constexpr int kExitOk = 0, kExitFailed = 1, kExitUsage = 2;

struct AgencyFlags {
  std::string key, registry, authority_pub, broker_id;
  std::vector<std::string> brokers;
};

void AddAgencyOptions(po::options_description& o, AgencyFlags& f, bool need_broker) {
  o.add_options()("key", po::value(&f.key)->required(), "the hospital agency's key file")(
      "registry", po::value(&f.registry)->required(), "the signed registry file")(
      "authority-pub", po::value(&f.authority_pub)->required(),
      "the registry authority's public key file (.pub)");
  if (need_broker) {
    o.add_options()("broker", po::value(&f.brokers)->required()->composing(), sdk::kBrokerFlagHelp)(
        "broker-id", po::value(&f.broker_id), "registry agency of kind broker to trust");
  }
}

int Fail(std::string_view what, const base::Error& e) {
  std::cerr << "relais-hospital " << what << ": " << e.ToString() << "\n";
  return kExitFailed;
}

// Parses argv; prints help and returns nullopt on --help or a usage error (exit code in `code`).
std::optional<po::variables_map> Parse(po::options_description& o, int argc, char** argv,
                                       const char* usage, int& code) {
  o.add_options()("help,h", "this help");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(o).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n" << o << "\n";
      code = kExitOk;
      return std::nullopt;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::cerr << "relais-hospital: " << e.what() << "\n" << usage << "\n";
    code = kExitUsage;
    return std::nullopt;
  }
  return vm;
}

struct Loaded {
  crypto::AgencyIdentity identity;
  schema::Registry registry;
};

base::Result<std::unique_ptr<Loaded>> Load(const AgencyFlags& f, const base::Clock& clock) {
  auto out = std::make_unique<Loaded>();
  RELAIS_ASSIGN_OR_RETURN(out->identity, crypto::LoadIdentity(f.key));
  RELAIS_ASSIGN_OR_RETURN(out->registry,
                          sdk::LoadRegistry(f.registry, f.authority_pub, clock.NowMs()));
  return out;
}

int RunServe(int argc, char** argv) {
  po::options_description o("relais-hospital serve");
  AgencyFlags f;
  std::string listen = "127.0.0.1:2575", db, log_level = "info";
  schema::Contact referrer;
  o.add_options()("listen", po::value(&listen)->default_value(listen),
                  "MLLP listen address IPV4:PORT (port 0: any)")(
      "db", po::value(&db)->required(), "the adapter's local store (SQLite file)")(
      "referrer-name", po::value(&referrer.name), "contact put in referrals: name")(
      "referrer-service", po::value(&referrer.service)->default_value("Service social"),
      "contact: service")("referrer-phone", po::value(&referrer.phone), "contact: phone")(
      "referrer-email", po::value(&referrer.email), "contact: e-mail")(
      "log-level", po::value(&log_level)->default_value("info"), "debug, info, warn, error");
  AddAgencyOptions(o, f, true);
  int code = kExitOk;
  auto vm = Parse(o, argc, argv,
                  "relais-hospital serve --listen IP:PORT --db FILE --key K --registry R "
                  "--authority-pub P --broker tcp://HOST:PORT",
                  code);
  if (!vm) return code;
  base::LogLevel level;
  if (!base::ParseLogLevel(log_level, &level)) {
    std::cerr << "relais-hospital serve: --log-level is debug, info, warn or error\n";
    return kExitUsage;
  }
  size_t colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      port = std::stoi(listen.substr(colon + 1));
    } catch (...) {
      port = -1;
    }
  }
  base::SystemClock clock;
  auto loaded = Load(f, clock);
  if (!loaded) return Fail("serve", loaded.error());
  auto broker_key = sdk::BrokerCurveKey((*loaded)->registry, clock.NowMs(), f.broker_id);
  if (!broker_key) return Fail("serve", broker_key.error());
  auto mllp_store = LocalStore::Open(db);
  if (!mllp_store) return Fail("serve", mllp_store.error());
  auto fwd_store = LocalStore::Open(db);
  if (!fwd_store) return Fail("serve", fwd_store.error());
  (void)(*mllp_store)->PruneDedup(clock.NowMs() - 30 * base::kMsPerDay);

  Emitter emitter{&(*loaded)->registry, &(*loaded)->identity, &clock, referrer};
  AdtProcessor processor(**mllp_store, emitter);
  auto server = MllpServer::Listen(colon == std::string::npos ? "" : listen.substr(0, colon), port,
                                   processor);
  if (!server) return Fail("serve", server.error());

  sdk::ClientOptions options;
  options.endpoints = f.brokers;
  options.broker_curve_public = *broker_key;
  options.identity = &(*loaded)->identity;
  options.connect_timeout = std::chrono::milliseconds(2000);
  options.ack_timeout = std::chrono::milliseconds(3000);
  options.max_backoff = std::chrono::milliseconds(2000);
  Forwarder forwarder(std::move(*fwd_store), options, (*loaded)->registry, (*loaded)->identity,
                      clock);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // inherited by the threads below
  std::thread fwd_thread([&] { forwarder.Run(); });
  std::thread mllp_thread([&] { (*server)->Run(); });
  base::LogInfo("hospital_ready", {{"port", (*server)->port()}});  // always, whatever the level
  base::SetLogLevel(level);
  int sig = 0;
  sigwait(&signals, &sig);
  base::LogInfo("hospital_stopping", {{"signal", sig}});
  (*server)->Stop();
  forwarder.Stop();
  mllp_thread.join();
  fwd_thread.join();
  const ProcessorStats& s = processor.stats();
  base::LogInfo("hospital_stopped", {{"messages", s.messages},
                                     {"events_queued", s.events_queued},
                                     {"published", forwarder.stats().published.load()}});
  return kExitOk;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

int CaseOpen(int argc, char** argv) {
  po::options_description o("relais-hospital case open");
  CaseRecord c;
  std::string db;
  o.add_options()("db", po::value(&db)->required(), "the adapter's local store")(
      "patient", po::value(&c.patient_id)->required(), "the hospital's patient id (PID-3, IPP)")(
      "visit", po::value(&c.visit_number), "the visit number (PV1-19); absent: every visit")(
      "actor", po::value(&c.actor), "the social worker's pseudonymous id");
  int code = kExitOk;
  auto vm =
      Parse(o, argc, argv, "relais-hospital case open --db FILE --patient IPP [--visit N]", code);
  if (!vm) return code;
  auto store = LocalStore::Open(db);
  if (!store) return Fail("case open", store.error());
  c.case_ref = crypto::NewCaseRef();
  if (auto st = (*store)->InsertCase(c); !st) return Fail("case open", st.error());
  std::cout << "case=" << c.case_ref << "\n";
  return kExitOk;
}

int CaseConsent(int argc, char** argv) {
  po::options_description o("relais-hospital case consent");
  AgencyFlags f;
  std::string db, case_ref, recipients, purposes = "housing", method = "written";
  int valid_days = 365;
  o.add_options()("db", po::value(&db)->required(), "the adapter's local store")(
      "case", po::value(&case_ref)->required(), "the case ref printed by case open")(
      "recipients", po::value(&recipients)->required(), "agency ids, comma-separated")(
      "purposes", po::value(&purposes)->default_value(purposes),
      "housing, health_continuity, social_support, employment, other")(
      "method", po::value(&method)->default_value(method), "written, oral or assisted")(
      "valid-days", po::value(&valid_days)->default_value(365), "validity from now");
  AddAgencyOptions(o, f, false);
  int code = kExitOk;
  auto vm = Parse(o, argc, argv,
                  "relais-hospital case consent --db FILE --case REF --recipients a,b --key K "
                  "--registry R --authority-pub P",
                  code);
  if (!vm) return code;
  base::SystemClock clock;
  auto store = LocalStore::Open(db);
  if (!store) return Fail("case consent", store.error());
  auto loaded = Load(f, clock);
  if (!loaded) return Fail("case consent", loaded.error());
  auto found = (*store)->FindCaseByRef(case_ref);
  if (!found) return Fail("case consent", found.error());
  if (!*found || !(*found)->open) {
    std::cerr << "relais-hospital case consent: no open case " << case_ref << "\n";
    return kExitFailed;
  }
  CaseRecord c = **found;
  if (!schema::ParseConsentMethod(method) || valid_days <= 0) {
    std::cerr << "relais-hospital case consent: bad --method or --valid-days\n";
    return kExitUsage;
  }
  c.purposes = SplitList(purposes);
  for (const auto& p : c.purposes) {
    if (!schema::ParsePurpose(p)) {
      std::cerr << "relais-hospital case consent: unknown purpose '" << p << "'\n";
      return kExitUsage;
    }
  }
  c.recipients = SplitList(recipients);
  c.consent_method = method;
  c.consent_id = "consent-" + crypto::FormatUuid(crypto::RandomBytes(16));
  c.consent_collected_at = clock.NowMs();
  c.consent_valid_until = c.consent_collected_at + valid_days * base::kMsPerDay;
  Emitter emitter{&(*loaded)->registry, &(*loaded)->identity, &clock, {}};
  auto entry = ConsentEvent(c, emitter);
  if (!entry) return Fail("case consent", entry.error());
  base::Status st = (*store)->Begin();
  if (st) st = (*store)->Enqueue(*entry);
  if (st) st = (*store)->UpdateCase(c);
  if (st) st = (*store)->Commit();
  if (!st) {
    (*store)->Rollback();
    return Fail("case consent", st.error());
  }
  std::cout << "queued consent=" << c.consent_id << " case=" << c.case_ref << "\n";
  return kExitOk;
}

int CaseClose(int argc, char** argv) {
  po::options_description o("relais-hospital case close");
  AgencyFlags f;
  std::string db, case_ref;
  o.add_options()("db", po::value(&db)->required(), "the adapter's local store")(
      "case", po::value(&case_ref)->required(), "the case ref");
  AddAgencyOptions(o, f, false);
  int code = kExitOk;
  auto vm =
      Parse(o, argc, argv, "relais-hospital case close --db FILE --case REF --key K ...", code);
  if (!vm) return code;
  base::SystemClock clock;
  auto store = LocalStore::Open(db);
  if (!store) return Fail("case close", store.error());
  auto found = (*store)->FindCaseByRef(case_ref);
  if (!found) return Fail("case close", found.error());
  if (!*found || !(*found)->open) {
    std::cerr << "relais-hospital case close: no open case " << case_ref << "\n";
    return kExitFailed;
  }
  CaseRecord c = **found;
  bool active = c.state == ReferralState::kReferred || c.state == ReferralState::kAccepted ||
                c.state == ReferralState::kHandedOver;
  std::optional<OutboxEntry> entry;
  if (active) {
    auto loaded = Load(f, clock);
    if (!loaded) return Fail("case close", loaded.error());
    Emitter emitter{&(*loaded)->registry, &(*loaded)->identity, &clock, {}};
    auto e = ClosedEvent(c, emitter);
    if (!e) return Fail("case close", e.error());
    entry = std::move(*e);
  }
  c.open = false;  // forgets the patient id and visit number
  base::Status st = (*store)->Begin();
  if (st && entry) st = (*store)->Enqueue(*entry);
  if (st) st = (*store)->UpdateCase(c);
  if (st) st = (*store)->Commit();
  if (!st) {
    (*store)->Rollback();
    return Fail("case close", st.error());
  }
  std::cout << "closed case=" << c.case_ref << (entry ? " (closed event queued)" : "") << "\n";
  return kExitOk;
}

int CaseList(int argc, char** argv) {
  po::options_description o("relais-hospital case list");
  std::string db;
  o.add_options()("db", po::value(&db)->required(), "the adapter's local store");
  int code = kExitOk;
  auto vm = Parse(o, argc, argv, "relais-hospital case list --db FILE", code);
  if (!vm) return code;
  auto store = LocalStore::Open(db);
  if (!store) return Fail("case list", store.error());
  auto cases = (*store)->ListCases();
  if (!cases) return Fail("case list", cases.error());
  for (const auto& c : *cases) {
    std::cout << c.case_ref << " " << (c.open ? "open" : "closed") << " "
              << ReferralStateName(c.state) << " consent=" << (c.consent_id.empty() ? "no" : "yes")
              << " due_at=" << c.due_at << (c.acceptor.empty() ? "" : " acceptor=" + c.acceptor)
              << "\n";
  }
  auto counts = (*store)->CountOutbox();
  if (counts)
    std::cout << "outbox pending=" << counts->pending << " failed=" << counts->failed << "\n";
  return kExitOk;
}

constexpr const char* kUsage =
    "usage: relais-hospital serve [options]          HL7 ADT over MLLP -> relais events\n"
    "       relais-hospital case open|consent|close|list [options]\n"
    "See docs/adapters/hospital.md; --help after a command lists its options.";

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage << "\n";
    return kExitUsage;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kUsage << "\n";
    return kExitOk;
  }
  crypto::Init();
  if (cmd == "serve") return RunServe(argc - 1, argv + 1);
  if (cmd == "case" && argc >= 3) {
    std::string sub = argv[2];
    if (sub == "open") return CaseOpen(argc - 2, argv + 2);
    if (sub == "consent") return CaseConsent(argc - 2, argv + 2);
    if (sub == "close") return CaseClose(argc - 2, argv + 2);
    if (sub == "list") return CaseList(argc - 2, argv + 2);
  }
  std::cerr << kUsage << "\n";
  return kExitUsage;
}

}  // namespace
}  // namespace relais::hospital

int main(int argc, char** argv) { return relais::hospital::Main(argc, argv); }
