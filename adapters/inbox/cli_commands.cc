#include "adapters/inbox/cli_commands.h"

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <iostream>

#include "adapters/inbox/case_view.h"
#include "adapters/inbox/fhir.h"
#include "adapters/inbox/subscriber.h"
#include "adapters/sdk/json.h"
#include "base/bytes.h"
#include "base/log.h"
#include "crypto/at_rest.h"
#include "crypto/identity.h"

namespace relais::inbox {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitRefused = 3;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

// Exit 3 only for refusals by the broker (from_broker), 1 for everything else.
int Fail(const base::Error& error, bool from_broker = false) {
  std::cerr << "relais-inbox: " << error.ToString() << "\n";
  return from_broker && sdk::IsRefusal(error) ? kExitRefused : kExitFailure;
}

base::Result<std::unique_ptr<Store>> OpenStore(const InboxOptions& o, bool create = false) {
  return Store::Open(o.store, o.key, create);
}

base::Result<std::vector<CaseView>> LoadCases(Store& store) {
  RELAIS_ASSIGN_OR_RETURN(auto events, store.Events());
  return BuildCases(events);
}

base::Result<CaseView> FindCase(Store& store, const std::string& case_ref) {
  RELAIS_ASSIGN_OR_RETURN(auto events, store.Events(case_ref));
  auto cases = BuildCases(events);
  if (cases.empty()) return base::NotFound("no_case", "no case " + case_ref + " in this inbox");
  return std::move(cases.front());
}

std::string TimeJson(base::TimeMs t) {
  return t == 0 ? "null" : sdk::JsonString(base::FormatIsoUtc(t));
}

std::string CaseJson(const CaseView& c) {
  std::string out =
      "{\"case_ref\":" + sdk::JsonString(c.case_ref) +
      ",\"state\":" + sdk::JsonString(CaseStateName(c.state)) +
      ",\"referral_kind\":" + sdk::JsonString(schema::ReferralKindName(c.referral_kind)) +
      ",\"emitter\":" + sdk::JsonString(c.emitter) + ",\"due_at\":" + TimeJson(c.due_at) +
      ",\"accept_by\":" + TimeJson(c.accept_by) + ",\"pickup_by\":" + TimeJson(c.pickup_by) +
      ",\"escalations\":" + std::to_string(c.escalations) +
      ",\"ruptures\":" + std::to_string(c.ruptures) +
      ",\"answer_seq\":" + std::to_string(c.answer_seq);
  return out + "}";
}

std::string ReadPasswordLine() {
  termios old{};
  bool tty = ::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    std::cerr << "Mot de passe : " << std::flush;
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::cerr << "\n";
  }
  return line;
}

void PrintCase(const CaseView& c, base::TimeMs now) {
  std::cout << "Dossier " << c.case_ref << " — " << CaseStateLabel(c.state) << "\n";
  std::cout << "  Type : " << ReferralKindLabel(c.referral_kind) << ", émetteur : " << c.emitter
            << "\n";
  if (c.due_at) std::cout << "  Sortie prévue : " << base::FormatIsoUtc(c.due_at) << "\n";
  if (c.accept_by) {
    std::cout << "  Réponse attendue avant : " << base::FormatIsoUtc(c.accept_by) << " ("
              << CountdownText(c.accept_by, now) << ")\n";
  }
  if (c.referral) {
    if (const auto* b = std::get_if<schema::ReferralBody>(&c.referral->body)) {
      std::cout << "  Personne : " << b->person.given_names << " " << b->person.family_name
                << (b->person.birth_date.empty() ? "" : ", née le " + b->person.birth_date)
                << "\n  Lieu de sortie : " << b->exit_place
                << "\n  Besoin : " << b->needs.housing_need << "\n  Contact : " << b->referrer.name
                << ", " << b->referrer.role << ", " << b->referrer.phone
                << "\n  Consentement : " << b->consent_summary << "\n";
    }
  }
  for (const auto& e : c.events) {
    std::cout << "  - " << base::FormatIsoUtc(e.received_at) << " seq " << e.seq << " "
              << EventKindLabel(e.header.kind) << "\n";
  }
}

}  // namespace

int CmdInit(const InboxOptions& options, bool create_key_file) {
  if (create_key_file) {
    if (auto st = crypto::CreateAtRestKeyFile(options.key.key_file); !st) return Fail(st.error());
  }
  auto store = OpenStore(options, /*create=*/true);
  if (!store) return Fail(store.error());
  std::cout << "ok store=" << options.store.string() << "\n";
  return kExitOk;
}

int CmdRun(const InboxOptions& options) {
  base::SystemClock clock;
  auto agency = InboxAgency::Load(options.agency, clock);
  if (!agency) return Fail(agency.error());
  auto store = OpenStore(options, /*create=*/true);
  if (!store) return Fail(store.error());
  std::unique_ptr<WebServer> web;
  if (options.web_enabled) {
    WebOptions w = options.web;
    w.store = options.store;
    w.key = options.key;
    auto started = WebServer::Start(**agency, w, clock);
    if (!started) return Fail(started.error());
    web = std::move(*started);
    base::LogInfo("inbox_web", {{"url", "http://127.0.0.1:" + std::to_string(web->port()) + "/"}});
  }
  Notifier notifier(options.notify);
  Subscriber subscriber(**agency, **store, &notifier, clock);
  ::signal(SIGINT, OnSignal);
  ::signal(SIGTERM, OnSignal);
  // A broker that is down at start is waited for: the office machine may boot first.
  while (!g_stop.load()) {
    auto st = subscriber.Start();
    if (st) break;
    if (sdk::IsRefusal(st.error())) return Fail(st.error(), true);
    base::LogWarn("inbox_connect", {{"code", st.error().code}});
  }
  if (g_stop.load()) return kExitOk;
  auto st = subscriber.Run(g_stop);
  base::LogInfo("inbox_stopped",
                {{"stored", subscriber.stats().stored}, {"purged", subscriber.stats().purged}});
  return st ? kExitOk : Fail(st.error(), true);
}

int CmdList(const InboxOptions& options) {
  auto store = OpenStore(options);
  if (!store) return Fail(store.error());
  auto cases = LoadCases(**store);
  if (!cases) return Fail(cases.error());
  base::TimeMs now = base::SystemClock().NowMs();
  if (options.json) {
    std::string out = "[";
    for (const auto& c : *cases) out += (out.size() > 1 ? "," : "") + CaseJson(c);
    std::cout << out << "]\n";
    return kExitOk;
  }
  for (const auto& c : *cases) {
    std::cout << c.case_ref << "  " << (c.due_at ? base::FormatIsoUtc(c.due_at) : "-") << "  "
              << CaseStateLabel(c.state) << "  " << ReferralKindLabel(c.referral_kind);
    if (c.state == CaseState::kToAnswer)
      std::cout << "  (" << CountdownText(c.accept_by, now) << ")";
    std::cout << "\n";
  }
  return kExitOk;
}

int CmdShow(const InboxOptions& options, const std::string& case_ref) {
  auto store = OpenStore(options);
  if (!store) return Fail(store.error());
  auto c = FindCase(**store, case_ref);
  if (!c) return Fail(c.error());
  if (!options.json) {
    PrintCase(*c, base::SystemClock().NowMs());
    return kExitOk;
  }
  std::string events = "[";
  for (const auto& e : c->events) {
    std::string line = sdk::DeliveryToJsonLine(e.seq, e.received_at, 1, e.header, e.body);
    line.insert(1, std::string("\"direction\":") +
                       (e.direction == Direction::kOut ? "\"out\"," : "\"in\","));
    events += (events.size() > 1 ? "," : "") + line;
  }
  std::string out = CaseJson(*c);
  out.insert(out.size() - 1, ",\"events\":" + events + "]");
  std::cout << out << "\n";
  return kExitOk;
}

int CmdAnswer(const InboxOptions& options, const std::string& case_ref, const Answer& answer) {
  base::SystemClock clock;
  auto store = OpenStore(options);
  if (!store) return Fail(store.error());
  auto c = FindCase(**store, case_ref);
  if (!c) return Fail(c.error());
  auto agency = InboxAgency::Load(options.agency, clock);
  if (!agency) return Fail(agency.error());
  auto client = (*agency)->Connect();
  if (!client) return Fail(client.error(), true);
  auto outcome = SendAnswer(**agency, **client, **store, *c, answer, clock);
  if (!outcome) return Fail(outcome.error(), true);
  if (options.json) {
    std::cout << "{\"ok\":true,\"kind\":" << sdk::JsonString(schema::EventKindName(answer.kind))
              << ",\"case_ref\":" << sdk::JsonString(case_ref) << ",\"seq\":" << outcome->seq
              << ",\"event_id\":" << sdk::JsonString(outcome->event_id)
              << ",\"duplicate\":" << (outcome->duplicate ? "true" : "false") << "}\n";
  } else {
    std::cout << "ok " << schema::EventKindName(answer.kind) << " seq=" << outcome->seq
              << " event=" << outcome->event_id << " case=" << case_ref << "\n";
  }
  return kExitOk;
}

int CmdExportFhir(const InboxOptions& options, const std::string& case_ref) {
  auto store = OpenStore(options);
  if (!store) return Fail(store.error());
  auto c = FindCase(**store, case_ref);
  if (!c) return Fail(c.error());
  std::string agency_id;
  if (!options.agency.key_file.empty()) {
    auto identity = crypto::LoadIdentity(options.agency.key_file);
    if (!identity) return Fail(identity.error());
    agency_id = identity->pub.agency_id;
  }
  auto bundle = FhirBundle(*c, agency_id);
  if (!bundle) return Fail(bundle.error());
  std::cout << *bundle << "\n";
  return kExitOk;
}

int CmdPurges(const InboxOptions& options) {
  auto store = OpenStore(options);
  if (!store) return Fail(store.error());
  auto purges = (*store)->Purges();
  if (!purges) return Fail(purges.error());
  if (options.json) {
    std::string out = "[";
    for (const auto& p : *purges) {
      out += (out.size() > 1 ? "," : "") + std::string("{\"case_ref\":") +
             sdk::JsonString(p.case_ref) + ",\"purged_at\":" + TimeJson(p.purged_at) +
             ",\"events_deleted\":" + std::to_string(p.events_deleted) +
             ",\"receipt_sent\":" + (p.receipt_seq != 0 ? "true" : "false") + "}";
    }
    std::cout << out << "]\n";
    return kExitOk;
  }
  for (const auto& p : *purges) {
    std::cout << p.case_ref << "  " << base::FormatIsoUtc(p.purged_at)
              << "  données supprimées à la demande de la personne ("
              << (p.receipt_seq ? "accusé envoyé" : "accusé en attente") << ")\n";
  }
  return kExitOk;
}

int CmdStaffAdd(const InboxOptions& options, const std::string& login) {
  auto store = OpenStore(options);
  if (!store) return Fail(store.error());
  std::string password = ReadPasswordLine();
  if (password.size() < 10) {
    return Fail(base::InvalidInput("weak_password", "the password needs at least 10 characters"));
  }
  auto hash = crypto::HashPassword(password);
  if (!hash) return Fail(hash.error());
  if (auto st = (*store)->SetStaff(login, *hash); !st) return Fail(st.error());
  std::cout << "ok staff=" << login << "\n";
  return kExitOk;
}

int CmdStaffRemove(const InboxOptions& options, const std::string& login) {
  auto store = OpenStore(options);
  if (!store) return Fail(store.error());
  if (auto st = (*store)->RemoveStaff(login); !st) return Fail(st.error());
  std::cout << "ok removed=" << login << "\n";
  return kExitOk;
}

int CmdStaffList(const InboxOptions& options) {
  auto store = OpenStore(options);
  if (!store) return Fail(store.error());
  auto logins = (*store)->StaffLogins();
  if (!logins) return Fail(logins.error());
  for (const auto& l : *logins) std::cout << l << "\n";
  return kExitOk;
}

}  // namespace relais::inbox
