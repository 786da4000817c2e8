// relaisd serves at once after a restart (SIGKILL) while it replays its journal into the case
// engine: the case an event concerns is loaded on demand first, so the lifecycle and consent
// decisions taken during the replay are those taken after it (broker/case_recovery.h).
//
// relaisd_test_hooks holds the replay half-way (--test-replay-hold-file) so that the sequence
// runs while it is certainly still going; every case then has entries on both sides of it.
#include "tests/integration/scenario_fixture.h"

namespace relais::testing {
namespace {

struct CaseSet {
  std::string accepted;   // referred to both associations; accepted after the restart
  std::string consented;  // only a consent before the restart; referred after it
  std::string withdrawn;  // referred; its consent withdrawn after the restart
};

class RestartReplayScenario : public ScenarioTest {
 protected:
  CaseSet NewSet() { return {crypto::NewCaseRef(), crypto::NewCaseRef(), crypto::NewCaseRef()}; }

  // "ok" or the refusal code.
  std::string Outcome(sdk::Client& client, const schema::Envelope& env) {
    auto r = client.Publish(env, sdk::DeadlineAfter(10s));
    return r ? std::string("ok") : r.error().code;
  }

  // The sequence the test runs once during the replay and once after it.
  std::vector<std::string> Sequence(const CaseSet& s) {
    auto hospital = Connect("hospital");
    auto a = Connect("assoc-a");
    std::vector<std::string> out;
    out.push_back(Outcome(*a, Accept("assoc-a", s.accepted)));
    // assoc-b without subscribing: its deliveries wait for the withholding check below.
    auto b_identity = deployment_->Identity("assoc-b");
    auto b = ConnectClient(*deployment_, b_identity, broker_->endpoint());
    out.push_back(Outcome(*b, Accept("assoc-b", s.accepted)));
    out.push_back(Outcome(*hospital, Referral(s.accepted, {"assoc-a"})));
    out.push_back(Outcome(*hospital, Referral(s.consented, {"assoc-a", "assoc-b"})));
    schema::Header withdraw = Base(EventKind::kConsentWithdrawn, s.withdrawn, {});
    withdraw.consent_ref = "consent-" + s.withdrawn;
    out.push_back(Outcome(*hospital, Build(withdraw, "hospital")));
    out.push_back(Outcome(*hospital, Referral(s.withdrawn, {"assoc-a"})));
    return out;
  }

  // Fills the journal, restarts relaisd (with `extra_flags`) with its replay held half-way, and
  // runs the sequence during the replay and after it.
  void RunAcrossRestart(const std::vector<std::string>& extra_flags);

  void SetHold(const std::string& content) {
    std::ofstream out(hold_file_, std::ios::trunc);
    out << content << "\n";
  }

  std::filesystem::path hold_file_ = dir_.path() / "replay-hold";
};

TEST_F(RestartReplayScenario, DecisionsDuringTheReplayEqualThoseAfterIt) { RunAcrossRestart({}); }

// The same with two cases in memory: the replay evicts the cases it built half-way and reads them
// back when it reaches their next entry or when an event needs them (case_residency.cc).
TEST_F(RestartReplayScenario, DecisionsAreTheSameWithTwoCasesInMemory) {
  RunAcrossRestart({"--max-resident-cases", "2"});
  EXPECT_GT(MetricValue("relais_cases_evicted_total"), 30.0) << Metrics();
  EXPECT_GT(MetricValue("relais_cases_read_back_total"), 0.0) << Metrics();
}

void RestartReplayScenario::RunAcrossRestart(const std::vector<std::string>& extra_flags) {
  if (std::string(RELAISD_TEST_HOOKS_BIN).empty()) GTEST_FAIL() << "needs relaisd_test_hooks";
  const CaseSet during = NewSet(), after = NewSet();
  std::vector<std::string> filler;
  for (int i = 0; i < 30; ++i) filler.push_back(crypto::NewCaseRef());
  std::vector<std::string> referred = filler;
  for (const CaseSet* s : {&during, &after}) {
    referred.push_back(s->accepted);
    referred.push_back(s->withdrawn);
  }
  {
    auto hospital = Connect("hospital");
    // Every consent first, then every referral: the replay held between the two has every case
    // half built (its consent applied, its referral not yet).
    for (const auto& ref : referred) {
      MustPublish(*hospital, ConsentFor(ref, "consent-" + ref, {"assoc-a", "assoc-b"}));
    }
    for (const CaseSet* s : {&during, &after}) {
      MustPublish(*hospital,
                  ConsentFor(s->consented, "consent-" + s->consented, {"assoc-a", "assoc-b"}));
    }
    for (const auto& ref : referred) MustPublish(*hospital, Referral(ref, {"assoc-a", "assoc-b"}));
  }
  const size_t consents = referred.size() + 2;
  ASSERT_GT(referred.size(), 30u);
  // The restarted relaisd's line (the log file also holds the first relaisd's, with events=0).
  const std::string recovered =
      " recovered events=" + std::to_string(consents + referred.size()) + " ";

  broker_->Kill();
  SetHold(std::to_string(consents + 3));  // a few referrals of the filler replayed
  std::vector<std::string> flags = {"--test-clock-file", clock_file_.string(),
                                    "--test-replay-hold-file", hold_file_.string()};
  flags.insert(flags.end(), extra_flags.begin(), extra_flags.end());
  broker_ = std::make_unique<BrokerProcess>(*deployment_, flags);
  broker_->set_binary(RELAISD_TEST_HOOKS_BIN);
  broker_->Start();

  const std::vector<std::string> expected = {"ok", "already_accepted",  "invalid_transition", "ok",
                                             "ok", "invalid_transition"};
  std::vector<std::string> while_replaying = Sequence(during);
  // The replay was held all along: nothing was decided from a complete replay.
  EXPECT_TRUE(MetricsShow("relais_replay_pending 1"));
  EXPECT_EQ(broker_->process()->Log().find(recovered), std::string::npos);

  std::filesystem::remove(hold_file_);
  ASSERT_TRUE(broker_->process()->WaitForLog(recovered, 60s)) << broker_->process()->Log();
  EXPECT_TRUE(MetricsShow("relais_replay_pending 0"));
  std::vector<std::string> after_replay = Sequence(after);

  EXPECT_EQ(while_replaying, expected);
  EXPECT_EQ(after_replay, expected);

  // Withholding: assoc-b never received anything. It is asked to purge both withdrawn cases and
  // gets their referrals never; the referrals of the other cases still come.
  auto b = Connect("assoc-b");
  auto got = Drain(*b, 20s, [&](const auto& received) {
    return Count(received, EventKind::kPurgeRequest, during.withdrawn) > 0 &&
           Count(received, EventKind::kPurgeRequest, after.withdrawn) > 0 &&
           Count(received, EventKind::kReferral, after.consented) > 0;
  });
  for (const CaseSet* s : {&during, &after}) {
    EXPECT_EQ(Count(got, EventKind::kPurgeRequest, s->withdrawn), 1u);
    EXPECT_EQ(Count(got, EventKind::kReferral, s->withdrawn), 0u);
    EXPECT_EQ(Count(got, EventKind::kReferral, s->consented), 1u);
    EXPECT_EQ(Count(got, EventKind::kReferral, s->accepted), 1u);
  }
  EXPECT_EQ(Count(got, EventKind::kReferral, filler[0]), 1u);
}

}  // namespace
}  // namespace relais::testing
