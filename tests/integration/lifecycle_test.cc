// Cross-process scenarios of the consent gate, the handover lifecycle and the deadline watch
// (docs/lifecycle.md); the fixture and deployment are in scenario_fixture.h.
#include "tests/integration/scenario_fixture.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;
using schema::EventKind;

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
  auto withdrawal = Build(withdraw, "hospital");
  auto sent = std::chrono::steady_clock::now();
  MustPublish(*hospital, withdrawal);
  // A measurement, not a timed assertion: the ack comes once the withdrawal is durable and the
  // case's deliveries are withheld.
  std::cout
      << "lone withdrawal acked (deliveries stopped) after "
      << std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count()
      << " ms\n";
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

// The person's receipt, read with the real CLI as the hospital: both associations received the
// referral, acknowledged it, were asked to purge; one confirmed, one has not yet. Nobody else
// may read it.
TEST_F(ConsentScenario, ReceiptShowsWhoReceivedWhatAndWhichPurgesAreUnconfirmed) {
  auto hospital = Connect("hospital");
  auto a = Connect("assoc-a");
  auto b = Connect("assoc-b");
  std::string case_ref = ReferToBoth(*hospital);
  for (auto* client : {a.get(), b.get()}) Await(*client, EventKind::kReferral, case_ref);
  schema::Header withdraw = Base(EventKind::kConsentWithdrawn, case_ref, {});
  withdraw.consent_ref = "consent-" + case_ref;
  MustPublish(*hospital, Build(withdraw, "hospital"));
  for (auto* client : {a.get(), b.get()}) Await(*client, EventKind::kPurgeRequest, case_ref);
  MustPublish(*a, Build(Base(EventKind::kPurgeReceipt, case_ref, {}), "assoc-a"));

  auto show = [&](const std::string& as, bool json) {
    std::vector<std::string> argv = JoinArgs({{RelaisBin(), "consent", "show", "--case", case_ref},
                                              AgencyFlags(*deployment_, as, broker_->endpoint())});
    if (json) argv.push_back("--json");
    return RunCommand(argv);
  };
  auto table = show("hospital", false);
  ASSERT_EQ(table.exit_code, 0) << table.output;
  EXPECT_NE(table.output.find("1 unconfirmed"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("NOT CONFIRMED YET"), std::string::npos) << table.output;

  auto json = show("hospital", true);
  ASSERT_EQ(json.exit_code, 0) << json.output;
  const std::string& out = json.output;
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = out.find(needle); at != std::string::npos; at = out.find(needle, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(R"("kind":"referral")"), 2u) << out;  // one delivery per association
  EXPECT_EQ(count(R"("kind":"purge_request")"), 2u) << out;
  EXPECT_EQ(count(R"("state":"acked")"), 4u) << out;  // both referrals, both purge requests
  EXPECT_EQ(count(R"("acked_at":null)"), 0u) << out;
  EXPECT_NE(out.find(R"("unconfirmed_purges":1)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("withdrawn":true)"), std::string::npos) << out;
  EXPECT_EQ(out.find("Service de test"), std::string::npos) << "the receipt holds no case data";

  auto refused = show("assoc-b", false);
  EXPECT_EQ(refused.exit_code, 3) << refused.output;
  EXPECT_NE(refused.output.find("not_authorised"), std::string::npos) << refused.output;
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

// With two cases in memory, the others are evicted and read back from the journal when an event
// or a deadline concerns them (docs/lifecycle.md §3): decisions and escalations are unchanged.
TEST_F(LifecycleScenario, CasesEvictedFromMemoryAreReadBackFromTheJournal) {
  RestartBroker({"--max-resident-cases", "2"});
  auto hospital = Connect("hospital");
  auto siao = Connect("siao");
  std::vector<std::string> cases;
  for (int i = 0; i < 6; ++i) cases.push_back(ReferToBoth(*hospital));
  auto a = Connect("assoc-a");
  auto b = Connect("assoc-b");
  MustPublish(*a, Accept("assoc-a", cases[0]));  // evicted by the five referrals after it
  // Each case read back to admit a second consent (and its id checked against the others').
  for (int i = 1; i < 6; ++i) {
    MustPublish(*hospital, ConsentFor(cases[i], "late-" + cases[i], {"assoc-a"}));
  }
  auto reused = hospital->Publish(ConsentFor(cases[1], "late-" + cases[2], {"assoc-a"}),
                                  sdk::DeadlineAfter(10s));
  ASSERT_FALSE(reused);
  EXPECT_EQ(reused.error().code, "invalid_transition");
  auto again = b->Publish(Accept("assoc-b", cases[0]), sdk::DeadlineAfter(10s));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "already_accepted");

  SetClock(due_ - 48 * kHour + 1);
  auto got = Drain(*siao, 10s, [&](const auto& received) {
    size_t n = 0;
    for (int i = 1; i < 6; ++i) n += Count(received, EventKind::kEscalation, cases[i]) > 0;
    return n == 5;
  });
  for (int i = 1; i < 6; ++i) EXPECT_EQ(Count(got, EventKind::kEscalation, cases[i]), 1u) << i;
  auto more = Drain(*siao, 500ms);
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_EQ(Count(got, EventKind::kEscalation, cases[0]), 0u);
  for (int i = 1; i < 6; ++i) EXPECT_EQ(Count(got, EventKind::kEscalation, cases[i]), 1u) << i;
  EXPECT_TRUE(MetricsShow("relais_escalations_pending 5")) << Metrics();

  EXPECT_LE(MetricValue("relais_cases_resident"), 2.0) << Metrics();
  EXPECT_GE(MetricValue("relais_cases_resident"), 1.0) << Metrics();
  EXPECT_GE(MetricValue("relais_cases_evicted_total"), 4.0) << Metrics();
  EXPECT_GE(MetricValue("relais_cases_read_back_total"), 5.0) << Metrics();
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
  // The coordinators' open list, on /metrics, until an association accepts.
  EXPECT_TRUE(MetricsShow("relais_escalations_pending 1")) << Metrics();
  EXPECT_TRUE(MetricsShow("relais_escalations_total 1")) << Metrics();
  auto a = Connect("assoc-a");
  MustPublish(*a, Accept("assoc-a", case_ref));
  EXPECT_TRUE(MetricsShow("relais_escalations_pending 0")) << Metrics();
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
  // Distinct escalation events: an escalation whose ack was lost when the broker stopped is
  // redelivered after the restart (at least once), which is not a second firing.
  std::set<base::Bytes> escalations;
  auto note = [&](const std::vector<Received>& got) {
    for (const auto& r : got) {
      if (r.kind != EventKind::kEscalation || r.case_ref != case_ref) continue;
      auto h = schema::DecodeHeader(r.envelope.header);
      ASSERT_TRUE(h);
      escalations.insert(h->event_id);
    }
  };
  {
    auto siao = Connect("siao");
    SetClock(due_ - 48 * kHour + 1);
    note(Await(*siao, EventKind::kEscalation, case_ref));
    ASSERT_EQ(escalations.size(), 1u);
  }
  broker_->Stop();
  broker_->Start();  // the replay must mark the escalation fired
  SetClock(due_ - 47 * kHour);
  auto siao = Connect("siao");
  note(Drain(*siao, 1500ms));
  EXPECT_EQ(escalations.size(), 1u);
  EXPECT_EQ(JournalRows(EventKind::kEscalation, case_ref), 1u);
}

// Aménagement de peine: the release moves later, then earlier (the escalation of the first date
// must not fire; the last date's must, once). Prison release: accept by dueAt-30d.
TEST_F(LifecycleScenario, PrisonReleaseWhoseDateMovesTwiceIsWatchedOnItsLastDate) {
  auto spip = Connect("spip");
  auto a = Connect("assoc-a");
  auto b = Connect("assoc-b");
  auto siao = Connect("siao");
  std::string case_ref = crypto::NewCaseRef();
  const std::vector<std::string> candidates = {"assoc-a", "assoc-b"};
  MustPublish(*spip, ConsentFor(case_ref, "consent-p", candidates, "spip"));
  MustPublish(*spip, ReferralOf(schema::ReferralKind::kPrisonRelease, "spip", case_ref, candidates,
                                t0_ + 60 * kDay));
  MustPublish(*spip, MoveDeadline("spip", case_ref, candidates, t0_ + 90 * kDay));
  SetClock(t0_ + 31 * kDay);  // past the first date's accept-by, before the second's
  auto quiet = Drain(*siao, 800ms);
  EXPECT_EQ(Count(quiet, EventKind::kEscalation, case_ref), 0u);

  const base::TimeMs last_due = t0_ + 40 * kDay;  // accept-by already passed: escalate now
  MustPublish(*spip, MoveDeadline("spip", case_ref, candidates, last_due));
  auto got = Await(*siao, EventKind::kEscalation, case_ref);
  ASSERT_EQ(Count(got, EventKind::kEscalation, case_ref), 1u);
  auto escalation = std::find_if(got.begin(), got.end(), [&](const Received& r) {
    return r.kind == EventKind::kEscalation && r.case_ref == case_ref;
  });
  auto header = schema::DecodeHeader(escalation->envelope.header);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->due_at, last_due);
  auto to_spip = Await(*spip, EventKind::kEscalation, case_ref);
  EXPECT_EQ(Count(to_spip, EventKind::kEscalation, case_ref), 1u);
  for (auto* client : {a.get(), b.get()}) {  // re-notified at each move
    auto moves = Drain(*client, 3s, [&](const auto& so_far) {
      return Count(so_far, EventKind::kDeadlineChanged, case_ref) >= 2;
    });
    EXPECT_EQ(Count(moves, EventKind::kDeadlineChanged, case_ref), 2u);
  }
  SetClock(t0_ + 32 * kDay);
  auto later = Drain(*siao, 800ms);
  EXPECT_EQ(Count(later, EventKind::kEscalation, case_ref), 0u);
  EXPECT_EQ(JournalRows(EventKind::kDeadlineChanged, case_ref), 2u);
  EXPECT_EQ(JournalRows(EventKind::kEscalation, case_ref), 1u);
}

// A young person leaving child welfare whom every candidate declines: the case is unplaced and
// the SIAO and the ASE are alerted at once, long before the accept-by time; nobody may accept
// afterwards.
TEST_F(LifecycleScenario, AseExitDeclinedByAllIsUnplacedAndEscalated) {
  auto ase = Connect("ase");
  auto a = Connect("assoc-a");
  auto b = Connect("assoc-b");
  auto siao = Connect("siao");
  std::string case_ref = crypto::NewCaseRef();
  const std::vector<std::string> candidates = {"assoc-a", "assoc-b"};
  MustPublish(*ase, ConsentFor(case_ref, "consent-ase", candidates, "ase"));
  MustPublish(*ase, ReferralOf(schema::ReferralKind::kAseExit, "ase", case_ref, candidates,
                               t0_ + 200 * kDay));
  MustPublish(*a, Decline("assoc-a", case_ref, "ase", schema::DeclineReason::kNoCapacity));
  auto after_one = Drain(*siao, 800ms);
  EXPECT_EQ(Count(after_one, EventKind::kEscalation, case_ref), 0u) << "b may still accept";

  MustPublish(*b, Decline("assoc-b", case_ref, "ase", schema::DeclineReason::kNotEligible));
  auto got = Await(*siao, EventKind::kEscalation, case_ref);
  EXPECT_EQ(Count(got, EventKind::kEscalation, case_ref), 1u);
  auto to_ase = Await(*ase, EventKind::kEscalation, case_ref);
  EXPECT_EQ(Count(to_ase, EventKind::kEscalation, case_ref), 1u);

  auto late = a->Publish(Accept("assoc-a", case_ref), sdk::DeadlineAfter(10s));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, "invalid_transition");
  EXPECT_NE(late.error().message.find("unplaced"), std::string::npos) << late.error().message;
  EXPECT_EQ(JournalRows(EventKind::kEscalation, case_ref), 1u);
  EXPECT_EQ(JournalRows(EventKind::kDeclined, case_ref), 2u);
}

}  // namespace
}  // namespace relais::testing
