// The fixture shared by the cross-process consent and lifecycle scenarios (docs/lifecycle.md):
// real relaisd with a test clock file (time moves by rewriting the file, never by sleeping), real
// CLI-made keys and registry, SDK clients, and the real journal read back.
//
// Deployment: a hospital, a prison service (spip), a child-welfare service (ase), two associations
// and the territory's SIAO (all territory 75). Hospital discharge defaults: accept by dueAt-48h,
// pickup by dueAt+24h.
#ifndef RELAIS_TESTS_INTEGRATION_SCENARIO_FIXTURE_H_
#define RELAIS_TESTS_INTEGRATION_SCENARIO_FIXTURE_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <thread>

#include "adapters/sdk/envelope_builder.h"
#include "broker/journal/reader.h"
#include "crypto/random.h"
#include "schema/codec.h"
#include "tests/harness/harness.h"

namespace relais::testing {

using namespace std::chrono_literals;
using schema::EventKind;

constexpr base::TimeMs kHour = base::kMsPerHour;
constexpr base::TimeMs kDay = base::kMsPerDay;

class ScenarioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    deployment_ = std::make_unique<Deployment>(dir_.path());
    deployment_->Add({"hospital", "hospital", {"--may-receive"}});
    deployment_->Add({"assoc-a", "association", {"--may-receive"}});
    deployment_->Add({"assoc-b", "association", {"--may-receive"}});
    deployment_->Add({"siao", "siao", {"--may-receive"}});
    deployment_->Add({"spip", "prison_service", {"--may-receive"}});
    deployment_->Add({"ase", "child_welfare", {"--may-receive"}});
    deployment_->Sign();
    registry_ = deployment_->Registry();
    t0_ = base::SystemClock().NowMs();
    due_ = t0_ + 5 * kDay;
    clock_file_ = dir_.path() / "clock";
    SetClock(t0_);  // before the broker starts: it must never see another time
    broker_ = std::make_unique<BrokerProcess>(
        *deployment_, std::vector<std::string>{"--test-clock-file", clock_file_.string()});
    broker_->Start();
  }

  // Rewrites the clock file. The broker re-reads it when its mtime changes, so each write gets a
  // distinct mtime even when two writes fall in the same filesystem tick.
  void SetClock(base::TimeMs t) {
    {
      std::ofstream out(clock_file_, std::ios::trunc);
      out << t << "\n";
    }
    std::filesystem::last_write_time(clock_file_, std::filesystem::file_time_type::clock::now() +
                                                      std::chrono::seconds(++ticks_));
  }

  // Replaces the broker by one on the same journal and clock file with `extra` flags added.
  void RestartBroker(std::vector<std::string> extra) {
    broker_->Stop();
    extra.insert(extra.begin(), {"--test-clock-file", clock_file_.string()});
    broker_ = std::make_unique<BrokerProcess>(*deployment_, std::move(extra));
    broker_->Start();
  }

  std::unique_ptr<sdk::Client> Connect(const std::string& id) {
    identities_[id] = deployment_->Identity(id);
    auto client = ConnectClient(*deployment_, identities_[id], broker_->endpoint());
    schema::Subscribe s;
    s.credit = 100;
    EXPECT_TRUE(client->Subscribe(s));
    return client;
  }

  schema::Envelope Build(schema::Header h, const std::string& emitter,
                         schema::EventBody body = schema::EventBody()) {
    auto identity = deployment_->Identity(emitter);
    base::SystemClock clock;
    auto env = sdk::BuildEnvelope(std::move(h), body, registry_, identity, clock);
    if (!env) throw std::runtime_error("cannot build envelope: " + env.error().ToString());
    return std::move(env).value();
  }

  schema::Header Base(EventKind kind, const std::string& case_ref,
                      std::vector<std::string> recipients) {
    schema::Header h;
    h.kind = kind;
    h.case_ref = case_ref;
    h.recipients = std::move(recipients);
    h.actor = "as-test-01";
    return h;
  }

  // Consent of the person for housing, at referral tier, covering `agencies`, recorded by
  // `collector`.
  schema::Envelope ConsentFor(const std::string& case_ref, const std::string& consent_id,
                              std::vector<std::string> agencies,
                              const std::string& collector = "hospital") {
    schema::Header h = Base(EventKind::kConsentGranted, case_ref, {});
    schema::ConsentTerms t;
    t.consent_id = consent_id;
    t.purposes = {schema::Purpose::kHousing};
    t.recipient_agencies = std::move(agencies);
    t.tier = schema::Tier::kReferral;
    t.valid_from = t0_ - kHour;
    t.valid_until = t0_ + 365 * kDay;
    t.collected_at = t0_ - kHour;
    h.consent = t;
    return Build(h, collector);
  }

  // A hospital discharge referral at referral tier (consent required), due at due_.
  schema::Envelope Referral(const std::string& case_ref, std::vector<std::string> recipients) {
    return ReferralOf(schema::ReferralKind::kHospitalDischarge, "hospital", case_ref,
                      std::move(recipients), due_);
  }
  schema::Envelope ReferralOf(schema::ReferralKind kind, const std::string& emitter,
                              const std::string& case_ref, std::vector<std::string> recipients,
                              base::TimeMs due) {
    schema::Header h = Base(EventKind::kReferral, case_ref, std::move(recipients));
    h.referral_kind = kind;
    h.tier = schema::Tier::kReferral;
    h.legal_basis = schema::LegalBasis::kConsent;
    h.purpose = schema::Purpose::kHousing;
    h.due_at = due;
    schema::ReferralBody body;
    body.exit_place = "Service de test";
    body.situation = std::string(200, 's');  // a body long enough to search for its bytes
    body.exit_date = due;
    return Build(h, emitter, body);
  }
  // The emitter moves the exit date; the candidates are told again.
  schema::Envelope MoveDeadline(const std::string& emitter, const std::string& case_ref,
                                std::vector<std::string> candidates, base::TimeMs due) {
    schema::Header h = Base(EventKind::kDeadlineChanged, case_ref, std::move(candidates));
    h.due_at = due;
    return Build(h, emitter);
  }
  schema::Envelope Decline(const std::string& agency, const std::string& case_ref,
                           const std::string& emitter, schema::DeclineReason reason) {
    schema::Header h = Base(EventKind::kDeclined, case_ref, {emitter});
    h.decline_reason = reason;
    return Build(h, agency);
  }

  schema::Envelope Accept(const std::string& agency, const std::string& case_ref) {
    return Build(Base(EventKind::kAccepted, case_ref, {"hospital"}), agency);
  }

  // Publishes and expects success; returns the seq.
  uint64_t MustPublish(sdk::Client& client, const schema::Envelope& env) {
    auto r = client.Publish(env, sdk::DeadlineAfter(10s));
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? r->seq : 0;
  }

  // A case that the hospital refers to both associations with their consent.
  std::string ReferToBoth(sdk::Client& hospital) {
    std::string case_ref = crypto::NewCaseRef();
    MustPublish(hospital, ConsentFor(case_ref, "consent-" + case_ref, {"assoc-a", "assoc-b"}));
    MustPublish(hospital, Referral(case_ref, {"assoc-a", "assoc-b"}));
    return case_ref;
  }

  struct Received {
    EventKind kind;
    std::string case_ref;
    schema::Envelope envelope;
  };
  // Receives (and acks) for `timeout`, or until `stop` returns true on what came so far.
  std::vector<Received> Drain(sdk::Client& client, std::chrono::milliseconds timeout,
                              const std::function<bool(const std::vector<Received>&)>& stop = {}) {
    std::vector<Received> got;
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto d = client.Next(100ms);
      if (!d) {
        ADD_FAILURE() << d.error().ToString();
        break;
      }
      if (!*d) continue;
      EXPECT_TRUE(client.Ack(**d));
      auto h = schema::DecodeHeader((*d)->envelope.header);
      EXPECT_TRUE(h);
      if (!h) continue;
      got.push_back({h->kind, h->case_ref, (*d)->envelope});
      if (stop && stop(got)) break;
    }
    return got;
  }
  static size_t Count(const std::vector<Received>& got, EventKind kind,
                      const std::string& case_ref) {
    return std::count_if(got.begin(), got.end(), [&](const Received& r) {
      return r.kind == kind && r.case_ref == case_ref;
    });
  }
  // Waits up to 5 s for a delivery of `kind` for the case.
  std::vector<Received> Await(sdk::Client& client, EventKind kind, const std::string& case_ref) {
    return Drain(client, 5s, [&](const auto& got) { return Count(got, kind, case_ref) > 0; });
  }

  std::string Metrics() { return HttpGet(broker_->metrics_port(), "/metrics"); }
  // The value of an unlabelled metric, -1 when /metrics does not show it.
  double MetricValue(const std::string& name) {
    const std::string metrics = "\n" + Metrics();
    const size_t at = metrics.find("\n" + name + " ");
    return at == std::string::npos ? -1.0 : std::stod(metrics.substr(at + name.size() + 2));
  }
  // Waits up to 5 s for `line` (a whole line) on the broker's /metrics.
  bool MetricsShow(const std::string& line) {
    auto deadline = std::chrono::steady_clock::now() + 5s;
    do {
      if (("\n" + Metrics() + "\n").find("\n" + line + "\n") != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return false;
  }

  // Journal rows of `kind` for the case, decoded from the stored headers.
  size_t JournalRows(EventKind kind, const std::string& case_ref) {
    auto reader = journal::JournalReader::Open({broker_->journal(), ""});
    EXPECT_TRUE(reader);
    if (!reader) return 0;
    size_t n = 0;
    auto st = (*reader)->ForEachFrom(
        1,
        [&](const journal::StoredEntry& e) {
          auto h = schema::DecodeHeader(e.envelope.header);
          if (h && h->kind == kind && h->case_ref == case_ref) ++n;
          return true;
        },
        journal::ReadScope::kMetadata);
    EXPECT_TRUE(st) << st.error().ToString();
    return n;
  }

  TempDir dir_;
  std::unique_ptr<Deployment> deployment_;
  schema::Registry registry_;
  std::map<std::string, crypto::AgencyIdentity> identities_;
  std::filesystem::path clock_file_;
  int ticks_ = 0;
  base::TimeMs t0_ = 0;
  base::TimeMs due_ = 0;
  std::unique_ptr<BrokerProcess> broker_;
};

using ConsentScenario = ScenarioTest;
using LifecycleScenario = ScenarioTest;

}  // namespace relais::testing

#endif  // RELAIS_TESTS_INTEGRATION_SCENARIO_FIXTURE_H_
