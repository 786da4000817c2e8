#include "adapters/inbox/web.h"

#include <httplib.h>

#include <map>
#include <mutex>
#include <thread>

#include "adapters/inbox/fhir.h"
#include "adapters/inbox/web_pages.h"
#include "base/log.h"
#include "crypto/at_rest.h"
#include "crypto/random.h"

namespace relais::inbox {

namespace {

constexpr const char* kCookie = "relais_session";
constexpr const char* kCsp =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

struct Session {
  std::string login;
  std::string csrf;
  base::TimeMs expires = 0;
};

std::string CookieValue(const httplib::Request& req, const std::string& name) {
  std::string cookies = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    std::string part = cookies.substr(pos, end - pos);
    size_t start = part.find_first_not_of(' ');
    if (start != std::string::npos) part = part.substr(start);
    if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
    pos = end + 1;
  }
  return "";
}

bool IsLoopback(const std::string& bind) {
  return bind == "127.0.0.1" || bind == "::1" || bind == "localhost";
}

void SendHtml(httplib::Response& res, const std::string& html, int status = 200) {
  res.status = status;
  res.set_header("Content-Security-Policy", kCsp);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-store");
  res.set_content(html, "text/html; charset=utf-8");
}

void Redirect(httplib::Response& res, const std::string& to) {
  res.status = 303;
  res.set_header("Location", to);
  res.set_header("Cache-Control", "no-store");
}

}  // namespace

struct WebServer::Impl {
  const InboxAgency& agency;
  WebOptions options;
  const base::Clock& clock;
  std::unique_ptr<Store> store;
  std::mutex mu;  // guards store and sessions
  std::map<std::string, Session> sessions;
  httplib::Server server;
  std::thread thread;
  int port = 0;

  Impl(const InboxAgency& a, WebOptions o, const base::Clock& c)
      : agency(a), options(std::move(o)), clock(c) {}

  // The session of the request, refreshed; nullopt when absent or expired.
  std::optional<Session> Current(const httplib::Request& req) {
    std::string token = CookieValue(req, kCookie);
    if (token.empty()) return std::nullopt;
    std::lock_guard lock(mu);
    auto it = sessions.find(token);
    if (it == sessions.end()) return std::nullopt;
    base::TimeMs now = clock.NowMs();
    if (it->second.expires < now) {
      sessions.erase(it);
      return std::nullopt;
    }
    it->second.expires = now + options.session_minutes * 60000LL;
    return it->second;
  }

  PageContext Context(const Session& s) {
    return PageContext{agency.display_name(), s.login, s.csrf, agency.coordinator(), clock.NowMs()};
  }

  base::Result<CaseView> LoadCase(const std::string& case_ref) {
    std::lock_guard lock(mu);
    RELAIS_ASSIGN_OR_RETURN(auto events, store->Events(case_ref));
    auto cases = BuildCases(events);
    if (cases.empty()) return base::NotFound("no_case", "dossier inconnu");
    return std::move(cases.front());
  }

  void Routes();
  void Login(const httplib::Request& req, httplib::Response& res);
  void List(const Session& s, httplib::Response& res);
  void Action(const Session& s, const httplib::Request& req, httplib::Response& res);
};

void WebServer::Impl::Login(const httplib::Request& req, httplib::Response& res) {
  std::string login = req.get_param_value("login");
  std::string password = req.get_param_value("password");
  std::optional<std::string> hash;
  {
    std::lock_guard lock(mu);
    auto h = store->StaffHash(login);
    if (h) hash = *h;
  }
  if (!hash || !crypto::VerifyPassword(*hash, password)) {
    base::LogWarn("web_login_failed", {});
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // slows guessing
    SendHtml(res, LoginPage("Identifiant ou mot de passe incorrect."), 401);
    return;
  }
  std::string token = base::HexEncode(crypto::RandomBytes(32));
  Session s{login, base::HexEncode(crypto::RandomBytes(32)),
            clock.NowMs() + options.session_minutes * 60000LL};
  {
    std::lock_guard lock(mu);
    sessions[token] = s;
  }
  base::LogInfo("web_login", {{"login", login}});
  res.set_header("Set-Cookie",
                 std::string(kCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict");
  Redirect(res, "/");
}

void WebServer::Impl::List(const Session& s, httplib::Response& res) {
  std::vector<CaseView> cases;
  std::vector<PurgeTrace> purges;
  {
    std::lock_guard lock(mu);
    auto events = store->Events();
    auto p = store->Purges();
    if (!events || !p) {
      SendHtml(res, MessagePage(Context(s), "Erreur", "La base locale est illisible."), 500);
      return;
    }
    cases = BuildCases(*events);
    purges = *p;
  }
  SendHtml(res, ListPage(Context(s), cases, purges));
}

void WebServer::Impl::Action(const Session& s, const httplib::Request& req,
                             httplib::Response& res) {
  std::string case_ref = req.matches[1];
  std::string verb = req.matches[2];
  Answer answer;
  std::string label;
  if (verb == "accept") {
    answer.kind = schema::EventKind::kAccepted;
    label = "Acceptation";
  } else if (verb == "decline") {
    answer.kind = schema::EventKind::kDeclined;
    label = "Refus";
    auto r = schema::ParseDeclineReason(req.get_param_value("reason"));
    if (!r || *r == schema::DeclineReason::kNone) {
      SendHtml(res, MessagePage(Context(s), "Refus", "Choisissez un motif de refus."), 400);
      return;
    }
    answer.reason = *r;
  } else {
    answer.kind = schema::EventKind::kPickedUp;
    label = "Prise en charge";
    answer.place = req.get_param_value("place");
  }
  answer.note = req.get_param_value("note");
  auto c = LoadCase(case_ref);
  if (!c) {
    SendHtml(res, MessagePage(Context(s), "Dossier introuvable", "Ce dossier n'existe pas ici."),
             404);
    return;
  }
  base::Result<AnswerOutcome> outcome = base::InvalidInput("none", "");
  auto client = agency.Connect();
  if (!client) {
    outcome = client.error();
  } else {
    std::lock_guard lock(mu);
    outcome = SendAnswer(agency, **client, *store, *c, answer, clock);
  }
  if (outcome) {
    base::LogInfo("web_action", {{"login", s.login}, {"kind", verb}, {"seq", outcome->seq}});
    SendHtml(res, ActionResultPage(Context(s), case_ref, label, true, outcome->seq, ""));
  } else {
    base::LogWarn("web_action_failed", {{"kind", verb}, {"code", outcome.error().code}});
    SendHtml(res,
             ActionResultPage(
                 Context(s), case_ref, label, false, 0,
                 "Le relais a répondu : " + outcome.error().code +
                     (sdk::IsRefusal(outcome.error()) ? " (refus définitif)"
                                                      : " (réessayez dans quelques instants)")),
             502);
  }
}

void WebServer::Impl::Routes() {
  server.Get("/login",
             [](const httplib::Request&, httplib::Response& res) { SendHtml(res, LoginPage("")); });
  server.Post("/login",
              [this](const httplib::Request& req, httplib::Response& res) { Login(req, res); });
  // Wraps a handler that needs a session (and, for POST, a matching CSRF token).
  auto authed = [this](bool post, auto handler) {
    return [this, post, handler](const httplib::Request& req, httplib::Response& res) {
      auto s = Current(req);
      if (!s) return Redirect(res, "/login");
      if (post && req.get_param_value("csrf") != s->csrf) {
        base::LogWarn("web_csrf_refused", {});
        return SendHtml(res,
                        MessagePage(Context(*s), "Refusé",
                                    "Formulaire expiré : rechargez "
                                    "la page."),
                        403);
      }
      handler(*s, req, res);
    };
  };
  server.Get("/", authed(false, [this](const Session& s, const httplib::Request&,
                                       httplib::Response& res) { List(s, res); }));
  server.Post("/logout", authed(true, [this](const Session&, const httplib::Request& req,
                                             httplib::Response& res) {
                std::lock_guard lock(mu);
                sessions.erase(CookieValue(req, kCookie));
                res.set_header("Set-Cookie", std::string(kCookie) +
                                                 "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
                Redirect(res, "/login");
              }));
  server.Get(
      R"(/case/([a-z0-9-]{1,64}))",
      authed(false, [this](const Session& s, const httplib::Request& req, httplib::Response& res) {
        auto c = LoadCase(req.matches[1]);
        if (!c) {
          return SendHtml(
              res, MessagePage(Context(s), "Dossier introuvable", "Ce dossier n'existe pas ici."),
              404);
        }
        SendHtml(res, CasePage(Context(s), *c));
      }));
  server.Get(
      R"(/case/([a-z0-9-]{1,64})/fhir)",
      authed(false, [this](const Session& s, const httplib::Request& req, httplib::Response& res) {
        auto c = LoadCase(req.matches[1]);
        auto bundle = c ? FhirBundle(*c, agency.id()) : base::Result<std::string>(c.error());
        if (!bundle) {
          return SendHtml(
              res,
              MessagePage(Context(s), "Export impossible", "Pas d'orientation pour ce dossier."),
              404);
        }
        res.set_header("Cache-Control", "no-store");
        res.set_header("Content-Disposition",
                       "attachment; filename=\"" + std::string(req.matches[1]) + ".json\"");
        res.set_content(*bundle, "application/fhir+json");
      }));
  server.Post(R"(/case/([a-z0-9-]{1,64})/(accept|decline|pickup))",
              authed(true, [this](const Session& s, const httplib::Request& req,
                                  httplib::Response& res) { Action(s, req, res); }));
}

base::Result<std::unique_ptr<WebServer>> WebServer::Start(const InboxAgency& agency,
                                                          WebOptions options,
                                                          const base::Clock& clock) {
  if (!IsLoopback(options.bind)) {
    return base::InvalidInput(
        "not_loopback", "the inbox page is served on 127.0.0.1 only (asked: " + options.bind + ")");
  }
  auto impl = std::make_unique<Impl>(agency, options, clock);
  RELAIS_ASSIGN_OR_RETURN(impl->store, Store::Open(options.store, options.key, true));
  impl->Routes();
  std::string host = options.bind == "localhost" ? "127.0.0.1" : options.bind;
  if (options.port == 0) {
    impl->port = impl->server.bind_to_any_port(host);
  } else {
    impl->port = impl->server.bind_to_port(host, options.port) ? options.port : -1;
  }
  if (impl->port <= 0) {
    return base::RetryLater("cannot_listen",
                            "cannot listen on " + host + ":" + std::to_string(options.port));
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->server.listen_after_bind(); });
  return std::unique_ptr<WebServer>(new WebServer(std::move(impl)));
}

WebServer::WebServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebServer::~WebServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int WebServer::port() const { return impl_->port; }

}  // namespace relais::inbox
