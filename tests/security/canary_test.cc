// No plaintext leaks (issue 11, security): unique canary strings are put in every free-text field
// of a referral body and in a consent statement, published through a real relaisd and delivered.
// Then the journal database, its WAL and shared-memory files, every file the broker wrote in its
// directory, its log and its /metrics output are searched for each canary (raw bytes and hex):
// zero hits, while the broker runs, after a SIGKILL (WAL kept) and after a graceful stop (WAL
// checkpointed into the database). Positive controls: the same search finds every canary in the
// plaintext encoding built by the test and in a file holding it, and the recipient decrypts it.
// Not covered: core dumps (docs/threat-model.md).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "schema/codec.h"
#include "tests/security/security_fixture.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string ToHex(const std::string& s, bool upper) {
  std::string hex =
      base::HexEncode(base::ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  if (upper) {
    for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return hex;
}

// The canaries (raw, hex, HEX) found in `haystack`, named by where they were found.
std::vector<std::string> Hits(const std::string& haystack, const std::vector<std::string>& canaries,
                              const std::string& where) {
  std::vector<std::string> hits;
  for (const auto& c : canaries) {
    for (const auto& form : {c, ToHex(c, false), ToHex(c, true)}) {
      if (haystack.find(form) != std::string::npos) hits.push_back(where + ": " + c);
    }
  }
  return hits;
}

class CanaryTest : public SecurityTest {
 protected:
  // Every regular file under the deployment directory (journal, WAL, SHM, logs, keys, registry),
  // and the metrics page when the broker runs.
  std::vector<std::string> SearchEverything(const std::vector<std::string>& canaries) {
    std::vector<std::string> hits;
    int files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(deployment_->dir())) {
      if (!entry.is_regular_file()) continue;
      ++files;
      auto h = Hits(ReadFile(entry.path()), canaries, entry.path().filename().string());
      hits.insert(hits.end(), h.begin(), h.end());
    }
    EXPECT_GE(files, 3);  // at least the journal and a log besides the keys
    if (broker_->process() != nullptr && broker_->process()->Running()) {
      std::string metrics = HttpGet(broker_->metrics_port(), "/metrics");
      EXPECT_NE(metrics.find("relais_publish_ok_total"), std::string::npos);
      auto h = Hits(metrics, canaries, "/metrics");
      hits.insert(hits.end(), h.begin(), h.end());
    }
    return hits;
  }
  // The person's consent (housing, referral tier, assoc-a), recorded by the hospital.
  schema::Envelope Consent(const std::string& case_ref, const schema::ConsentBody& body) {
    base::SystemClock clock;
    const base::TimeMs now = clock.NowMs();
    schema::Header h;
    h.kind = schema::EventKind::kConsentGranted;
    h.case_ref = case_ref;
    h.actor = "as-test-01";
    schema::ConsentTerms terms;
    terms.consent_id = "consent-1";
    terms.purposes = {schema::Purpose::kHousing};
    terms.recipient_agencies = {"assoc-a"};
    terms.tier = schema::Tier::kReferral;
    terms.valid_from = now - base::kMsPerDay;
    terms.valid_until = now + 365 * base::kMsPerDay;
    terms.collected_at = now - base::kMsPerDay;
    h.consent = terms;
    auto env = sdk::BuildEnvelope(h, schema::EventBody(body), registry_, hospital_, clock);
    EXPECT_TRUE(env) << env.error().ToString();
    return env ? *env : schema::Envelope{};
  }

  // A referral-tier hospital discharge referral to assoc-a under that consent.
  schema::Envelope Referral(const std::string& case_ref, schema::ReferralBody& body) {
    base::SystemClock clock;
    schema::Header h;
    h.kind = schema::EventKind::kReferral;
    h.referral_kind = schema::ReferralKind::kHospitalDischarge;
    h.case_ref = case_ref;
    h.recipients = {"assoc-a"};
    h.tier = schema::Tier::kReferral;
    h.legal_basis = schema::LegalBasis::kConsent;
    h.purpose = schema::Purpose::kHousing;
    h.actor = "as-test-01";
    h.due_at = clock.NowMs() + 5 * base::kMsPerDay;
    body.exit_date = h.due_at;
    auto env = sdk::BuildEnvelope(h, schema::EventBody(body), registry_, hospital_, clock);
    EXPECT_TRUE(env) << env.error().ToString();
    return env ? *env : schema::Envelope{};
  }
};

TEST_F(CanaryTest, CanariesInBodiesAndConsentStatementsNeverReachTheBrokersDisk) {
  std::vector<std::string> canaries;
  auto canary = [&](const std::string& field) {
    canaries.push_back("CANARY-" + base::HexEncode(crypto::NewEventId(0)).substr(8) + "-" + field);
    return canaries.back();
  };
  const std::string case_ref = crypto::NewCaseRef();
  schema::ConsentBody consent_body{canary("statement")};
  schema::ReferralBody body;
  body.person.family_name = canary("family");
  body.person.given_names = canary("given");
  body.person.phone = canary("phone");
  body.exit_place = canary("place");
  body.situation = canary("situation");
  body.needs.health_continuity = canary("health");
  body.needs.children_notes = canary("children");
  body.referrer.name = canary("referrer");
  body.referrer.email = canary("email");
  body.consent_summary = canary("summary");
  body.free_text = canary("free");
  auto consent = Consent(case_ref, consent_body);
  auto referral = Referral(case_ref, body);

  // Positive controls: the search finds every canary in the plaintext encodings and in a file.
  std::string plaintext;
  for (const auto& b : {schema::EncodeEventBody(schema::EventBody(body)),
                        schema::EncodeEventBody(schema::EventBody(consent_body))}) {
    plaintext.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
  EXPECT_EQ(Hits(plaintext, canaries, "plaintext").size(), canaries.size());
  {
    std::ofstream(dir_.path() / "control.bin", std::ios::binary) << plaintext;
    EXPECT_EQ(SearchEverything(canaries).size(), canaries.size());
    fs::remove(dir_.path() / "control.bin");
  }

  auto hospital = Connect(hospital_);
  ASSERT_TRUE(hospital->Publish(consent, sdk::DeadlineAfter(10s)));
  auto published = hospital->Publish(referral, sdk::DeadlineAfter(10s));
  ASSERT_TRUE(published) << published.error().ToString();
  // The recipient gets it and can read the canaries: they did travel through the broker.
  auto id_a = deployment_->Identity("assoc-a");
  auto a = Connect(id_a);
  schema::Subscribe sub;
  sub.credit = 10;
  ASSERT_TRUE(a->Subscribe(sub));
  bool opened = false;
  auto end = std::chrono::steady_clock::now() + 10s;
  while (!opened && std::chrono::steady_clock::now() < end) {
    auto d = a->Next(100ms);
    ASSERT_TRUE(d) << d.error().ToString();
    if (!*d) continue;
    ASSERT_TRUE(a->Ack(**d));
    if ((*d)->seq != published->seq) continue;
    auto open = sdk::VerifyAndOpen((*d)->envelope, registry_, id_a);
    ASSERT_TRUE(open) << open.error().ToString();
    EXPECT_EQ(std::get<schema::ReferralBody>(open->body).free_text, body.free_text);
    opened = true;
  }
  ASSERT_TRUE(opened);

  auto hits = SearchEverything(canaries);
  EXPECT_TRUE(hits.empty()) << "running: " << hits.front();
  EXPECT_TRUE(fs::exists(deployment_->dir() / "journal.db-wal"));
  broker_->Kill();  // the WAL stays as it was
  hits = SearchEverything(canaries);
  EXPECT_TRUE(hits.empty()) << "after SIGKILL: " << hits.front();
  broker_->Start();
  broker_->Stop();  // recovery, then a graceful stop checkpoints the WAL into the database
  hits = SearchEverything(canaries);
  EXPECT_TRUE(hits.empty()) << "after stop: " << hits.front();
}

}  // namespace
}  // namespace relais::testing
