// The inbox's web page in a real browser (issue 8): Debian's headless chromium driven through
// chromedriver's WebDriver HTTP protocol (W3C), against a real relaisd and a real `relais-inbox
// run`. Logs in, sees the referral, opens it, clicks accept and checks the acknowledgement shown;
// saves screenshots (list and referral page at 1280 px and 390 px, the acknowledgement) under
// RELAIS_BROWSER_ARTIFACTS in the build tree.
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <thread>

#include "adapters/sdk/envelope_builder.h"
#include "broker/journal/reader.h"
#include "crypto/random.h"
#include "schema/codec.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;
using schema::EventKind;

const std::string kInboxBin = RELAIS_INBOX_BIN;
const std::filesystem::path kArtifacts = RELAIS_BROWSER_ARTIFACTS;
constexpr const char* kElementKey = "element-6066-11e4-a52e-4f735466cecf";

// The string value of "key": "..." in a JSON text (WebDriver answers are small and flat enough).
std::string JsonStringField(const std::string& json, const std::string& key) {
  std::string needle = "\"" + key + "\":";
  size_t p = json.find(needle);
  if (p == std::string::npos) return "";
  p = json.find('"', p + needle.size());
  if (p == std::string::npos) return "";
  std::string out;
  for (size_t i = p + 1; i < json.size() && json[i] != '"'; ++i) {
    if (json[i] != '\\' || i + 1 >= json.size()) {
      out += json[i];
      continue;
    }
    char e = json[++i];
    if (e == 'n') {
      out += '\n';
    } else if (e == 't') {
      out += '\t';
    } else if (e == 'u' && i + 4 < json.size()) {
      unsigned cp = std::stoul(json.substr(i + 1, 4), nullptr, 16);
      i += 4;
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
      } else {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
      }
    } else {
      out += e;
    }
  }
  return out;
}

std::string Base64Decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  int buf = 0, bits = 0;
  for (char c : in) {
    int v = val(c);
    if (v < 0) continue;
    buf = (buf << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// A minimal W3C WebDriver client over chromedriver's HTTP endpoint.
class WebDriver {
 public:
  explicit WebDriver(int port) : http_("127.0.0.1", port) {
    http_.set_read_timeout(60);
    http_.set_connection_timeout(5);
  }
  bool Ready() {
    auto r = http_.Get("/status");
    return r && r->status == 200 && r->body.find("\"ready\":true") != std::string::npos;
  }
  std::string Call(const std::string& method, const std::string& path,
                   const std::string& body = "{}") {
    auto r = method == "GET"      ? http_.Get(path)
             : method == "DELETE" ? http_.Delete(path)
                                  : http_.Post(path, body, "application/json");
    if (!r) {
      ADD_FAILURE() << method << " " << path << ": " << httplib::to_string(r.error());
      return "";
    }
    EXPECT_EQ(r->status, 200) << method << " " << path << ": " << r->body.substr(0, 500);
    return r->body;
  }
  void NewSession(const std::filesystem::path& profile) {
    std::string caps =
        R"({"capabilities":{"alwaysMatch":{"browserName":"chrome","goog:chromeOptions":{)"
        R"("binary":"/usr/bin/chromium","args":["--headless=new","--no-sandbox",)"
        R"("--disable-gpu","--disable-dev-shm-usage","--window-size=1280,900",)"
        R"("--user-data-dir=)" +
        profile.string() + R"("]}}}})";
    session_ = JsonStringField(Call("POST", "/session", caps), "sessionId");
    ASSERT_FALSE(session_.empty());
  }
  void EndSession() {
    if (!session_.empty()) Call("DELETE", S(""));
    session_.clear();
  }
  std::string S(const std::string& rest) { return "/session/" + session_ + rest; }
  void Go(const std::string& url) { Call("POST", S("/url"), "{\"url\":" + Quote(url) + "}"); }
  std::string Find(const std::string& css) {
    auto body =
        Call("POST", S("/element"), "{\"using\":\"css selector\",\"value\":" + Quote(css) + "}");
    return JsonStringField(body, kElementKey);
  }
  void Type(const std::string& element, const std::string& text) {
    Call("POST", S("/element/" + element + "/value"), "{\"text\":" + Quote(text) + "}");
  }
  void Click(const std::string& element) { Call("POST", S("/element/" + element + "/click")); }
  std::string Source() { return JsonStringField(Call("GET", S("/source")), "value"); }
  // The page source once it contains `needle` (navigations after a click complete
  // asynchronously), or the last source after 10 s.
  std::string SourceWith(const std::string& needle) {
    std::string src;
    for (int i = 0; i < 100; ++i) {
      src = Source();
      if (src.find(needle) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return src;
  }
  std::string Script(const std::string& js) {
    return Call("POST", S("/execute/sync"), "{\"script\":" + Quote(js) + ",\"args\":[]}");
  }
  void Resize(int width, int height) {
    Call("POST", S("/window/rect"),
         "{\"width\":" + std::to_string(width) + ",\"height\":" + std::to_string(height) + "}");
  }
  // Saves a PNG screenshot; returns its size in bytes.
  size_t Screenshot(const std::filesystem::path& file) {
    std::string png = Base64Decode(JsonStringField(Call("GET", S("/screenshot")), "value"));
    std::ofstream out(file, std::ios::binary);
    out << png;
    return png.size();
  }

 private:
  httplib::Client http_;
  std::string session_;
};

class InboxBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    std::filesystem::create_directories(kArtifacts);
    deployment_ = std::make_unique<Deployment>(dir_.path());
    deployment_->Add({"hospital", "hospital", {"--may-receive"}});
    deployment_->Add({"assoc-a", "association", {"--may-receive"}});
    deployment_->Sign();
    broker_ = std::make_unique<BrokerProcess>(*deployment_);
    broker_->Start();
    common_ = JoinArgs({{"--store", (dir_.path() / "inbox.db").string(), "--store-key-file",
                         (dir_.path() / "store.key").string()},
                        AgencyFlags(*deployment_, "assoc-a", broker_->endpoint())});
    ASSERT_EQ(Inbox({"init", "--create-key-file"}).exit_code, 0);
    std::string cmd = "printf 'mot-de-passe-de-test\\n' | " + kInboxBin + " staff add marie";
    for (const auto& a : common_) cmd += " '" + a + "'";
    auto staff = RunCommand({"sh", "-c", cmd});
    ASSERT_EQ(staff.exit_code, 0) << staff.output;
  }

  CommandResult Inbox(std::vector<std::string> args) {
    std::vector<std::string> argv = {kInboxBin};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), common_.begin(), common_.end());
    return RunCommand(argv);
  }

  std::string PublishReferral() {
    auto hospital = deployment_->Identity("hospital");
    auto client = ConnectClient(*deployment_, hospital, broker_->endpoint());
    base::SystemClock clock;
    base::TimeMs now = clock.NowMs();
    std::string case_ref = crypto::NewCaseRef();
    schema::Header consent;
    consent.kind = EventKind::kConsentGranted;
    consent.case_ref = case_ref;
    schema::ConsentTerms t;
    t.consent_id = "consent-" + case_ref;
    t.purposes = {schema::Purpose::kHousing};
    t.recipient_agencies = {"assoc-a"};
    t.valid_from = now - base::kMsPerHour;
    t.valid_until = now + 30 * base::kMsPerDay;
    t.collected_at = now - base::kMsPerHour;
    consent.consent = t;
    auto registry = deployment_->Registry();
    auto c = sdk::BuildEnvelope(consent, {}, registry, hospital, clock);
    EXPECT_TRUE(c && client->Publish(*c, sdk::DeadlineAfter(10s)));
    schema::Header h;
    h.kind = EventKind::kReferral;
    h.referral_kind = schema::ReferralKind::kHospitalDischarge;
    h.case_ref = case_ref;
    h.recipients = {"assoc-a"};
    h.consent_ref = t.consent_id;
    h.purpose = schema::Purpose::kHousing;
    h.due_at = now + 40 * base::kMsPerHour;  // accept-by already near: the row is coloured
    schema::ReferralBody body;
    body.person.family_name = "Durand";
    body.person.given_names = "Karim";
    body.person.birth_date = "1971-06-14";
    body.exit_date = h.due_at;
    body.exit_place = "Hôpital Bichat, accueil du bâtiment principal";
    body.situation = "Sans domicile depuis l'été.";
    body.needs.housing_need = "hébergement d'urgence ou LHSS";
    body.needs.health_continuity = "soins infirmiers deux fois par semaine";
    body.needs.reduced_mobility = true;
    body.referrer = {"C. Assistante", "assistante sociale", "service social", "01 00 00 00 02", ""};
    body.consent_summary = "Accepte le partage avec Assoc A pour l'hébergement.";
    auto r = sdk::BuildEnvelope(h, body, registry, hospital, clock);
    EXPECT_TRUE(r);
    auto out = client->Publish(*r, sdk::DeadlineAfter(10s));
    EXPECT_TRUE(out) << out.error().ToString();
    return case_ref;
  }

  size_t JournalRows(EventKind kind, const std::string& case_ref) {
    auto reader = journal::JournalReader::Open({broker_->journal(), ""});
    if (!reader) return 0;
    size_t n = 0;
    (void)(*reader)->ForEachFrom(
        1,
        [&](const journal::StoredEntry& e) {
          auto h = schema::DecodeHeader(e.envelope.header);
          if (h && h->kind == kind && h->case_ref == case_ref) ++n;
          return true;
        },
        journal::ReadScope::kMetadata);
    return n;
  }

  TempDir dir_;
  std::unique_ptr<Deployment> deployment_;
  std::unique_ptr<BrokerProcess> broker_;
  std::vector<std::string> common_;
};

TEST_F(InboxBrowser, LogsInSeesTheReferralAcceptsAndSeesTheAcknowledgement) {
  int web_port = FreePort();
  std::vector<std::string> run = {kInboxBin, "run", "--web-port", std::to_string(web_port),
                                  "--no-desktop-notify"};
  run.insert(run.end(), common_.begin(), common_.end());
  auto inbox = Process::Start(run, dir_.path() / "inbox.log");
  ASSERT_TRUE(inbox);
  ASSERT_TRUE((*inbox)->WaitForLog("inbox_subscribed", 10s)) << (*inbox)->Log();
  std::string case_ref = PublishReferral();
  ASSERT_TRUE((*inbox)->WaitForLog("inbox_stored", 10s)) << (*inbox)->Log();

  int driver_port = FreePort();
  auto driver = Process::Start({"/usr/bin/chromedriver", "--port=" + std::to_string(driver_port)},
                               dir_.path() / "chromedriver.log");
  ASSERT_TRUE(driver);
  WebDriver wd(driver_port);
  for (int i = 0; i < 100 && !wd.Ready(); ++i) std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(wd.Ready()) << (*driver)->Log();
  wd.NewSession(dir_.path() / "chromium-profile");
  std::string base = "http://127.0.0.1:" + std::to_string(web_port);

  // Not logged in: the list redirects to the login form.
  wd.Go(base + "/");
  EXPECT_NE(wd.SourceWith("Connexion").find("Connexion"), std::string::npos);
  // A wrong password is refused.
  wd.Type(wd.Find("#login"), "marie");
  wd.Type(wd.Find("#password"), "pas-le-bon");
  wd.Click(wd.Find("#submit"));
  EXPECT_NE(wd.SourceWith("incorrect").find("Identifiant ou mot de passe incorrect"),
            std::string::npos);
  wd.Type(wd.Find("#login"), "marie");
  wd.Type(wd.Find("#password"), "mot-de-passe-de-test");
  wd.Click(wd.Find("#submit"));

  std::string list = wd.SourceWith("Orientations reçues");
  EXPECT_NE(list.find("Orientations reçues"), std::string::npos);
  EXPECT_NE(list.find("Karim Durand"), std::string::npos);
  EXPECT_NE(list.find("class=\"urgent\""), std::string::npos);  // accept-by is < 24 h away
  // The session cookie is HttpOnly: scripts cannot read it.
  EXPECT_EQ(wd.Script("return document.cookie;").find("relais_session"), std::string::npos);
  EXPECT_GT(wd.Screenshot(kArtifacts / "inbox-list-1280.png"), 1000u);
  wd.Resize(390, 844);
  EXPECT_NE(wd.Script("return String(window.innerWidth);").find("\"value\":\"3"),
            std::string::npos);
  // No horizontal scrolling at phone width.
  EXPECT_NE(wd.Script("return String(document.documentElement.scrollWidth <= "
                      "window.innerWidth);")
                .find("\"value\":\"true\""),
            std::string::npos);
  EXPECT_GT(wd.Screenshot(kArtifacts / "inbox-list-390.png"), 1000u);
  wd.Resize(1280, 900);

  wd.Click(wd.Find("a[href=\"/case/" + case_ref + "\"]"));
  std::string page = wd.SourceWith("Motif du refus");
  for (const char* needle :
       {"Hôpital Bichat, accueil du bâtiment principal", "C. Assistante",
        "hébergement d'urgence ou LHSS", "Accepte le partage avec Assoc A", "Motif du refus"}) {
    EXPECT_NE(page.find(needle), std::string::npos) << needle;
  }
  EXPECT_GT(wd.Screenshot(kArtifacts / "referral-1280.png"), 1000u);
  wd.Resize(390, 844);
  EXPECT_NE(wd.Script("return String(document.documentElement.scrollWidth <= "
                      "window.innerWidth);")
                .find("\"value\":\"true\""),
            std::string::npos);
  EXPECT_GT(wd.Screenshot(kArtifacts / "referral-390.png"), 1000u);
  wd.Resize(1280, 900);

  // Keyboard: the accept button takes the focus and shows a visible outline.
  wd.Script("document.getElementById('accept').focus();");
  EXPECT_NE(wd.Script("return document.activeElement.id;").find("\"value\":\"accept\""),
            std::string::npos);
  wd.Click(wd.Find("#accept"));
  std::string ack = wd.SourceWith("id=\"ack\"");
  EXPECT_NE(ack.find("Transmis au relais"), std::string::npos) << ack.substr(0, 2000);
  EXPECT_NE(ack.find("Accusé de réception n°"), std::string::npos);
  EXPECT_GT(wd.Screenshot(kArtifacts / "accept-ack-1280.png"), 1000u);
  EXPECT_EQ(JournalRows(EventKind::kAccepted, case_ref), 1u);

  // The case now shows as accepted, with the pickup form.
  wd.Go(base + "/case/" + case_ref);
  std::string after = wd.SourceWith("Acceptée");
  EXPECT_NE(after.find("Acceptée"), std::string::npos);
  EXPECT_NE(after.find("Confirmer la prise en charge"), std::string::npos);
  wd.EndSession();
  (*driver)->Signal(SIGTERM);
  (*driver)->Wait(5s);
}

}  // namespace
}  // namespace relais::testing
