// Cross-process scenarios of the consent gate, the handover lifecycle and the deadline watch
// (docs/lifecycle.md): real relaisd with a test clock file (time moves by rewriting the file, never
// by sleeping), real CLI-made keys and registry, SDK clients, and the real journal read back.
//
// Deployment: a hospital, two associations and the territory's SIAO (all territory 75).
// Hospital discharge defaults: accept by dueAt-48h, pickup by dueAt+24h.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
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

  // Consent of the person for housing, at referral tier, covering `agencies`.
  schema::Envelope ConsentFor(const std::string& case_ref, const std::string& consent_id,
                              std::vector<std::string> agencies) {
    schema::Header h = Base(EventKind::kConsentGranted, case_ref, {});
    schema::ConsentTerms t;
    t.consent_id = consent_id;
    t.purposes = {schema::Purpose::kHousing};
    t.recipient_agencies = std::move(agencies);
    t.tier = schema::Tier::kReferral;
    t.valid_from = t0_ - kHour;
    t.valid_until = t0_ + 30 * kDay;
    t.collected_at = t0_ - kHour;
    h.consent = t;
    return Build(h, "hospital");
  }

  // A hospital discharge referral at referral tier (consent required), due at due_.
  schema::Envelope Referral(const std::string& case_ref, std::vector<std::string> recipients) {
    schema::Header h = Base(EventKind::kReferral, case_ref, std::move(recipients));
    h.referral_kind = schema::ReferralKind::kHospitalDischarge;
    h.tier = schema::Tier::kReferral;
    h.legal_basis = schema::LegalBasis::kConsent;
    h.purpose = schema::Purpose::kHousing;
    h.due_at = due_;
    schema::ReferralBody body;
    body.exit_place = "Service de test";
    body.situation = std::string(200, 's');  // a body long enough to search for its bytes
    body.exit_date = due_;
    return Build(h, "hospital", body);
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
      EXPECT_TRUE(client.Ack((*d)->seq));
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

TEST_F(ConsentScenario, ReferralWithoutConsentForOneRecipientIsRefusedThenDeliveredWithIt) {
  auto hospital = Connect("hospital");
  auto a = Connect("assoc-a");
  auto b = Connect("assoc-b");
  std::string case_ref = crypto::NewCaseRef();
  MustPublish(*hospital, ConsentFor(case_ref, "consent-1", {"assoc-a"}));
  auto referral = Referral(case_ref, {"assoc-a", "assoc-b"});
  auto refused = hospital->Publish(referral, sdk::DeadlineAfter(10s));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "consent_missing");
  EXPECT_NE(refused.error().message.find("assoc-b"), std::string::npos) << refused.error().message;
  EXPECT_EQ(refused.error().message.find("assoc-a"), std::string::npos) << refused.error().message;
  EXPECT_EQ(JournalRows(EventKind::kReferral, case_ref), 0u);

  MustPublish(*hospital, ConsentFor(case_ref, "consent-2", {"assoc-a", "assoc-b"}));
  uint64_t seq = MustPublish(*hospital, referral);  // the same envelope, now covered
  EXPECT_GT(seq, 0u);
  for (auto* client : {a.get(), b.get()}) {
    auto got = Await(*client, EventKind::kReferral, case_ref);
    EXPECT_EQ(Count(got, EventKind::kReferral, case_ref), 1u);
  }
}

TEST_F(ConsentScenario, WithdrawalPurgesRecipientsAndShredsTheBodyWhileTheChainVerifies) {
  auto hospital = Connect("hospital");
  auto a = Connect("assoc-a");
  auto b = Connect("assoc-b");
  std::string case_ref = crypto::NewCaseRef();
  MustPublish(*hospital, ConsentFor(case_ref, "consent-w", {"assoc-a", "assoc-b"}));
  auto referral = Referral(case_ref, {"assoc-a", "assoc-b"});
  MustPublish(*hospital, referral);
  ASSERT_GE(referral.body.size(), 64u);
  base::Bytes slice(referral.body.begin() + 16, referral.body.begin() + 16 + 32);

  auto read_all = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  auto journal_holds_slice = [&] {
    std::string needle(slice.begin(), slice.end());
    bool found = false;
    for (const char* suffix : {"", "-wal"}) {
      auto path = broker_->journal().string() + suffix;
      if (std::filesystem::exists(path))
        found = found || read_all(path).find(needle) != std::string::npos;
    }
    return found;
  };
  EXPECT_TRUE(journal_holds_slice()) << "the search must find the body before erasure";

  schema::Header withdraw = Base(EventKind::kConsentWithdrawn, case_ref, {});
  withdraw.consent_ref = "consent-w";
  MustPublish(*hospital, Build(withdraw, "hospital"));
  for (auto* client : {a.get(), b.get()}) {
    auto got = Await(*client, EventKind::kPurgeRequest, case_ref);
    EXPECT_EQ(Count(got, EventKind::kPurgeRequest, case_ref), 1u);
  }
  ASSERT_TRUE(broker_->process()->WaitForLog("case_erased", 5s));
  EXPECT_FALSE(journal_holds_slice()) << "sealed body bytes survive in the journal files";

  auto reader = journal::JournalReader::Open({broker_->journal(), ""});
  ASSERT_TRUE(reader);
  auto report = (*reader)->VerifyChain();
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_FALSE(report->fault.has_value()) << report->ToStatus().error().ToString();
  EXPECT_GE(report->rows, 4u);
}

TEST_F(LifecycleScenario, AcceptedInTimeGetsNoEscalation) {
  auto hospital = Connect("hospital");
  auto a = Connect("assoc-a");
  auto siao = Connect("siao");
  std::string accepted = ReferToBoth(*hospital);
  std::string unaccepted = ReferToBoth(*hospital);  // shows the timers did run
  MustPublish(*a, Accept("assoc-a", accepted));
  SetClock(due_ - 48 * kHour + kHour);
  auto got = Await(*siao, EventKind::kEscalation, unaccepted);
  ASSERT_EQ(Count(got, EventKind::kEscalation, unaccepted), 1u);
  auto more = Drain(*siao, 500ms);
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_EQ(Count(got, EventKind::kEscalation, accepted), 0u);
  EXPECT_EQ(JournalRows(EventKind::kEscalation, accepted), 0u);
}

TEST_F(LifecycleScenario, NobodyAcceptsSoTheSiaoIsAlertedAtTheAcceptByTime) {
  auto hospital = Connect("hospital");
  auto siao = Connect("siao");
  std::string case_ref = ReferToBoth(*hospital);
  SetClock(due_ - 48 * kHour - kHour);  // not yet
  auto early = Drain(*siao, 500ms);
  EXPECT_EQ(Count(early, EventKind::kEscalation, case_ref), 0u);
  SetClock(due_ - 48 * kHour + 1);
  auto got = Await(*siao, EventKind::kEscalation, case_ref);
  EXPECT_EQ(Count(got, EventKind::kEscalation, case_ref), 1u);
  // The emitter is told too.
  auto to_hospital = Await(*hospital, EventKind::kEscalation, case_ref);
  EXPECT_EQ(Count(to_hospital, EventKind::kEscalation, case_ref), 1u);
}

TEST_F(LifecycleScenario, AcceptedButNeverPickedUpIsARupture) {
  auto hospital = Connect("hospital");
  auto a = Connect("assoc-a");
  auto siao = Connect("siao");
  std::string case_ref = ReferToBoth(*hospital);
  MustPublish(*a, Accept("assoc-a", case_ref));
  SetClock(due_);
  auto before = Drain(*siao, 500ms);
  EXPECT_EQ(Count(before, EventKind::kRupture, case_ref), 0u);
  SetClock(due_ + 24 * kHour + 1);
  auto got = Await(*siao, EventKind::kRupture, case_ref);
  EXPECT_EQ(Count(got, EventKind::kRupture, case_ref), 1u);
  EXPECT_EQ(Count(before, EventKind::kEscalation, case_ref) +
                Count(got, EventKind::kEscalation, case_ref),
            0u);
  EXPECT_EQ(JournalRows(EventKind::kRupture, case_ref), 1u);
}

TEST_F(LifecycleScenario, RacingAcceptancesHaveOneWinnerAndTheLoserGetsOfferTaken) {
  auto hospital = Connect("hospital");
  auto a = Connect("assoc-a");
  auto b = Connect("assoc-b");
  std::string case_ref = ReferToBoth(*hospital);
  auto accept_a = Accept("assoc-a", case_ref);
  auto accept_b = Accept("assoc-b", case_ref);
  base::Result<sdk::PublishOutcome> ra = base::Unexpected(base::NotFound("unset", ""));
  base::Result<sdk::PublishOutcome> rb = base::Unexpected(base::NotFound("unset", ""));
  std::atomic<bool> go{false};
  std::thread ta([&] {
    while (!go.load()) std::this_thread::yield();
    ra = a->Publish(accept_a, sdk::DeadlineAfter(10s));
  });
  std::thread tb([&] {
    while (!go.load()) std::this_thread::yield();
    rb = b->Publish(accept_b, sdk::DeadlineAfter(10s));
  });
  go.store(true);
  ta.join();
  tb.join();
  ASSERT_NE(ra.has_value(), rb.has_value()) << "exactly one acceptance must win";
  const auto& lost = ra ? rb : ra;
  EXPECT_EQ(lost.error().code, "already_accepted");
  auto& loser = ra ? *b : *a;
  auto got = Await(loser, EventKind::kOfferTaken, case_ref);
  EXPECT_EQ(Count(got, EventKind::kOfferTaken, case_ref), 1u);
  EXPECT_EQ(JournalRows(EventKind::kAccepted, case_ref), 1u);
  EXPECT_EQ(JournalRows(EventKind::kOfferTaken, case_ref), 1u);
}

TEST_F(LifecycleScenario, EscalationFiresExactlyOnceAcrossBrokerRestarts) {
  std::string case_ref;
  {
    auto hospital = Connect("hospital");
    case_ref = ReferToBoth(*hospital);
  }
  broker_->Stop();
  broker_->Start();  // same journal, same clock file
  size_t escalations = 0;
  {
    auto siao = Connect("siao");
    SetClock(due_ - 48 * kHour + 1);
    auto got = Await(*siao, EventKind::kEscalation, case_ref);
    escalations += Count(got, EventKind::kEscalation, case_ref);
    ASSERT_EQ(escalations, 1u);
  }
  broker_->Stop();
  broker_->Start();  // the replay must mark the escalation fired
  SetClock(due_ - 47 * kHour);
  auto siao = Connect("siao");
  auto later = Drain(*siao, 1500ms);
  escalations += Count(later, EventKind::kEscalation, case_ref);
  EXPECT_EQ(escalations, 1u);
  EXPECT_EQ(JournalRows(EventKind::kEscalation, case_ref), 1u);
}

}  // namespace
}  // namespace relais::testing
