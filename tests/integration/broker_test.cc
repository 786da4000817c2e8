// Cross-process tests of relaisd (issue: broker): real relaisd, real keys and registry made with
// the real `relais` CLI, real SQLite journal, SDK clients over CURVE on loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "adapters/sdk/envelope_builder.h"
#include "broker/journal/reader.h"
#include "crypto/random.h"
#include "crypto/seal.h"
#include "schema/codec.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;

class BrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    deployment_ = std::make_unique<Deployment>(dir_.path());
    AddHospitalAndAssociations(*deployment_, {"assoc-a", "assoc-b", "assoc-c"});
    deployment_->Add({"dpo", "auditor", {}});
    deployment_->Sign();
    broker_ = std::make_unique<BrokerProcess>(*deployment_);
    broker_->Start();
    hospital_ = deployment_->Identity("hospital");
  }

  std::unique_ptr<sdk::Client> Connect(const crypto::AgencyIdentity& id) {
    return ConnectClient(*deployment_, id, broker_->endpoint());
  }

  // Receives until `n` deliveries or `timeout`; acks each when `ack`.
  std::vector<sdk::Delivery> Receive(sdk::Client& client, size_t n,
                                     std::chrono::milliseconds timeout, bool ack = true) {
    std::vector<sdk::Delivery> got;
    auto end = std::chrono::steady_clock::now() + timeout;
    while (got.size() < n && std::chrono::steady_clock::now() < end) {
      auto d = client.Next(100ms);
      if (!d) {
        ADD_FAILURE() << d.error().ToString();
        break;
      }
      if (!*d) continue;
      if (ack) {
        EXPECT_TRUE(client.Ack(**d));
      }
      got.push_back(std::move(**d));
    }
    return got;
  }

  // A notice-tier referral sealed and signed with crypto directly, bypassing the SDK's own
  // registry checks, so that only the broker can refuse it.
  static base::Result<schema::Envelope> SealDirect(const crypto::AgencyIdentity& emitter,
                                                   const crypto::AgencyIdentity& recipient,
                                                   schema::ReferralKind kind) {
    base::SystemClock clock;
    schema::Header h;
    h.event_id = crypto::NewEventId(clock.NowMs());
    h.kind = schema::EventKind::kReferral;
    h.referral_kind = kind;
    h.case_ref = crypto::NewCaseRef();
    h.emitter = emitter.pub.agency_id;
    h.emitter_key_id = emitter.pub.key_id;
    h.recipients = {recipient.pub.agency_id};
    h.tier = schema::Tier::kNotice;
    h.legal_basis = schema::LegalBasis::kNoticeAllowed;
    h.emitted_at = clock.NowMs();
    h.due_at = clock.NowMs() + base::kMsPerDay;
    return crypto::SealEnvelope(
        h, schema::EventBody(schema::ReferralBody{}),
        {{recipient.pub.agency_id, recipient.pub.key_id, recipient.pub.seal_public}},
        emitter.sign_secret);
  }

  schema::Subscribe Sub(uint32_t credit) {
    schema::Subscribe s;
    s.credit = credit;
    return s;
  }

  TempDir dir_;
  std::unique_ptr<Deployment> deployment_;
  std::unique_ptr<BrokerProcess> broker_;
  crypto::AgencyIdentity hospital_;
};

TEST_F(BrokerTest, ReferralReachesBothRecipientsAndNoOneElse) {
  auto hospital = Connect(hospital_);
  auto id_a = deployment_->Identity("assoc-a");
  auto id_b = deployment_->Identity("assoc-b");
  auto id_c = deployment_->Identity("assoc-c");
  auto a = Connect(id_a);
  auto b = Connect(id_b);
  auto c = Connect(id_c);
  for (auto* cl : {a.get(), b.get(), c.get()}) ASSERT_TRUE(cl->Subscribe(Sub(10)));

  auto envelope = MakeReferral(*deployment_, hospital_, {"assoc-a", "assoc-b"});
  auto outcome = hospital->Publish(envelope, sdk::DeadlineAfter(10s));
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  EXPECT_FALSE(outcome->duplicate);

  auto registry = deployment_->Registry();
  for (auto [client, id] : {std::pair{a.get(), &id_a}, std::pair{b.get(), &id_b}}) {
    auto got = Receive(*client, 1, 10s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].seq, outcome->seq);
    auto opened = sdk::VerifyAndOpen(got[0].envelope, registry, *id);
    ASSERT_TRUE(opened) << opened.error().ToString();
    const auto& body = std::get<schema::ReferralBody>(opened->body);
    EXPECT_EQ(body.exit_place, "Service de médecine interne");
  }
  EXPECT_TRUE(Receive(*c, 1, 1500ms).empty());
  // A non-recipient cannot open the envelope even if it got hold of it.
  EXPECT_FALSE(sdk::VerifyAndOpen(envelope, registry, id_c));

  // Publishing the same envelope again is acknowledged with the original seq, stored once.
  auto again = hospital->Publish(envelope, sdk::DeadlineAfter(10s));
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->seq, outcome->seq);
}

TEST_F(BrokerTest, UnregisteredCurveKeyIsRefused) {
  deployment_->KeygenOnly("intruder");
  auto intruder = deployment_->Identity("intruder");
  auto registry = deployment_->Registry();
  sdk::ClientOptions options;
  options.endpoints = {broker_->endpoint()};
  options.broker_curve_public = *sdk::BrokerCurveKey(registry, base::SystemClock().NowMs());
  options.identity = &intruder;
  options.connect_timeout = 1500ms;
  auto client = sdk::Client::Connect(options);
  ASSERT_FALSE(client);
  EXPECT_TRUE(client.error().code == "handshake_refused" || client.error().code == "no_answer")
      << client.error().ToString();
}

TEST_F(BrokerTest, RefusesForgedEmitterBadSignatureUnknownRecipientAndForbiddenKind) {
  auto hospital = Connect(hospital_);
  auto id_a = deployment_->Identity("assoc-a");
  auto registry = deployment_->Registry();

  // Forged emitter: an envelope emitted (and signed) as assoc-a, sent on the hospital's session.
  {
    schema::Header h;
    h.kind = schema::EventKind::kAccepted;
    h.case_ref = crypto::NewCaseRef();
    h.recipients = {"hospital"};
    h.in_reply_to = crypto::NewEventId(base::SystemClock().NowMs());
    base::SystemClock clock;
    auto env =
        sdk::BuildEnvelope(h, schema::EventBody(schema::AcceptedBody{}), registry, id_a, clock);
    ASSERT_TRUE(env) << env.error().ToString();
    auto r = hospital->Publish(*env, sdk::DeadlineAfter(10s));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "emitter_mismatch");
  }
  // Bad signature.
  {
    auto env = MakeReferral(*deployment_, hospital_, {"assoc-a"});
    env.signature[10] ^= 0x01;
    auto r = hospital->Publish(env, sdk::DeadlineAfter(10s));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "bad_signature");
  }
  // Unknown recipient: properly sealed and signed, but "ghost" is not in the registry.
  {
    auto ghost = crypto::GenerateIdentity("ghost", base::SystemClock().NowMs());
    auto env = SealDirect(hospital_, ghost, schema::ReferralKind::kHospitalDischarge);
    ASSERT_TRUE(env) << env.error().ToString();
    auto r = hospital->Publish(*env, sdk::DeadlineAfter(10s));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "unknown_recipient");
  }
  // A kind the emitter may not emit: an association emitting a referral. The SDK refuses to
  // build it, so it is sealed directly: the broker must refuse it on its own.
  {
    auto a = Connect(id_a);
    auto env = SealDirect(id_a, deployment_->Identity("assoc-b"), schema::ReferralKind::kOther);
    ASSERT_TRUE(env) << env.error().ToString();
    auto r = a->Publish(*env, sdk::DeadlineAfter(10s));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "kind_not_allowed");
  }
  // Nothing of the above was journaled.
  auto reader = journal::JournalReader::Open({broker_->journal(), ""});
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->GetHead()->seq, 0u);
}

TEST_F(BrokerTest, OfflineSubscriberReceivesThousandEventsInOrder) {
  constexpr int kEvents = 1000;
  auto hospital = Connect(hospital_);
  std::vector<schema::Envelope> envelopes;
  for (int i = 0; i < kEvents; ++i) {
    envelopes.push_back(MakeReferral(*deployment_, hospital_, {"assoc-a"}));
  }
  auto results = hospital->PublishMany(envelopes, 256, sdk::DeadlineAfter(60s));
  std::vector<uint64_t> seqs;
  for (auto& r : results) {
    ASSERT_TRUE(r) << r.error().ToString();
    seqs.push_back(r->seq);
  }
  auto id_a = deployment_->Identity("assoc-a");
  auto a = Connect(id_a);
  ASSERT_TRUE(a->Subscribe(Sub(100)));
  auto got = Receive(*a, kEvents, 60s);
  ASSERT_EQ(got.size(), static_cast<size_t>(kEvents));
  std::sort(seqs.begin(), seqs.end());
  for (int i = 0; i < kEvents; ++i) EXPECT_EQ(got[i].seq, seqs[i]) << i;
  EXPECT_TRUE(Receive(*a, 1, 500ms).empty());
  // The acks of deliveries received together travelled together (docs/protocol.md §4), and the
  // broker recorded every one of them: a new session gets nothing again.
  EXPECT_LT(a->stats().ack_frames_sent, static_cast<uint64_t>(kEvents));
  a.reset();
  auto again = Connect(id_a);
  ASSERT_TRUE(again->Subscribe(Sub(100)));
  EXPECT_TRUE(Receive(*again, 1, 1s).empty());
}

TEST_F(BrokerTest, SubscriberDyingMidStreamLosesNothingAndSeesOnlyUnackedAgain) {
  constexpr int kEvents = 400;
  auto hospital = Connect(hospital_);
  std::vector<schema::Envelope> envelopes;
  for (int i = 0; i < kEvents; ++i) {
    envelopes.push_back(MakeReferral(*deployment_, hospital_, {"assoc-b"}));
  }
  for (auto& r : hospital->PublishMany(envelopes, 256, sdk::DeadlineAfter(60s))) {
    ASSERT_TRUE(r) << r.error().ToString();
  }
  auto id_b = deployment_->Identity("assoc-b");
  std::set<uint64_t> acked;
  std::set<uint64_t> received_unacked;
  {
    auto b = Connect(id_b);
    ASSERT_TRUE(b->Subscribe(Sub(50)));
    auto got = Receive(*b, 150, 3s, /*ack=*/false);  // well within the 30 s ack timeout
    ASSERT_EQ(got.size(), 50u);                      // credit: no more than 50 unacked
    for (size_t i = 0; i < got.size(); ++i) {
      if (i < 30) {
        ASSERT_TRUE(b->Ack(got[i]));
        acked.insert(got[i].seq);
      } else {
        received_unacked.insert(got[i].seq);
      }
    }
    auto more = Receive(*b, 30, 3s, /*ack=*/false);  // credit freed by the 30 acks
    EXPECT_EQ(more.size(), 30u);
    for (auto& d : more) received_unacked.insert(d.seq);
  }  // the subscriber goes away without acking the rest
  auto b = Connect(id_b);
  ASSERT_TRUE(b->Subscribe(Sub(100)));
  auto rest = Receive(*b, kEvents - acked.size(), 60s);
  std::set<uint64_t> seen;
  for (auto& d : rest) {
    EXPECT_FALSE(acked.count(d.seq)) << "acked seq " << d.seq << " delivered again";
    seen.insert(d.seq);
  }
  EXPECT_EQ(seen.size(), kEvents - acked.size());
  for (uint64_t s : received_unacked) EXPECT_TRUE(seen.count(s)) << s;
}

TEST_F(BrokerTest, AckedPublishesSurviveBrokerKillAndRetriesCreateNoDuplicates) {
  constexpr int kEvents = 600;
  std::vector<schema::Envelope> envelopes;
  for (int i = 0; i < kEvents; ++i) {
    envelopes.push_back(MakeReferral(*deployment_, hospital_, {"assoc-c"}));
  }
  std::map<std::string, uint64_t> ok_seq;  // event id -> seq, for publishes acked ok
  {
    auto hospital = Connect(hospital_);
    bool killed = false;
    size_t next = 0;
    auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end && next < envelopes.size()) {
      if (!killed && ok_seq.size() >= 200) {  // mid-stream, with publishes in flight
        broker_->process()->Signal(SIGKILL);
        killed = true;
      }
      if (hospital->PublishesInFlight() < 64) {
        (void)hospital->SubmitPublish(envelopes[next++], sdk::DeadlineAfter(3s));
        continue;
      }
      for (auto& r : hospital->PollAcks(20ms)) {
        if (r.outcome) ok_seq[base::HexEncode(r.event_id)] = r.outcome->seq;
      }
    }
    ASSERT_TRUE(killed);
    for (int i = 0; i < 200 && hospital->PublishesInFlight() > 0; ++i) {
      for (auto& r : hospital->PollAcks(20ms)) {
        if (r.outcome) ok_seq[base::HexEncode(r.event_id)] = r.outcome->seq;
      }
    }
  }
  broker_->Kill();
  broker_->Start();
  // The publisher comes back and publishes everything again (same event ids).
  auto hospital = Connect(hospital_);
  auto results = hospital->PublishMany(envelopes, 128, sdk::DeadlineAfter(60s));
  for (size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i]) << results[i].error().ToString();
    auto id = base::HexEncode(schema::DecodeHeader(envelopes[i].header)->event_id);
    auto it = ok_seq.find(id);
    if (it != ok_seq.end()) {
      EXPECT_TRUE(results[i]->duplicate);
      EXPECT_EQ(results[i]->seq, it->second);
    }
  }
  auto reader = journal::JournalReader::Open({broker_->journal(), ""});
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->GetHead()->seq, static_cast<uint64_t>(kEvents));  // no duplicate rows
  auto report = (*reader)->VerifyChain();
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->fault.has_value());
  // Every event reaches the recipient, each once (it acks everything).
  auto id_c = deployment_->Identity("assoc-c");
  auto c = Connect(id_c);
  ASSERT_TRUE(c->Subscribe(Sub(200)));
  auto got = Receive(*c, kEvents, 60s);
  std::set<uint64_t> seqs;
  for (auto& d : got) seqs.insert(d.seq);
  EXPECT_EQ(seqs.size(), static_cast<size_t>(kEvents));
  EXPECT_LT(ok_seq.size(), static_cast<size_t>(kEvents)) << "the kill came after the stream";
}

TEST_F(BrokerTest, RevocationCutsLiveSessionAndRefusesReconnection) {
  auto id_a = deployment_->Identity("assoc-a");
  auto a = Connect(id_a);
  ASSERT_TRUE(a->Subscribe(Sub(10)));
  deployment_->Revoke("assoc-a");
  deployment_->Sign();
  auto started = std::chrono::steady_clock::now();
  broker_->Reload();
  bool refused = false;
  while (!refused && std::chrono::steady_clock::now() - started < 5s) {
    auto d = a->Next(100ms);
    if (!d) {
      refused = true;
      EXPECT_TRUE(d.error().code == "agency_revoked" || d.error().code == "handshake_refused")
          << d.error().ToString();
    }
  }
  EXPECT_TRUE(refused) << "the revoked session was not cut within 5 s";
  ASSERT_TRUE(broker_->process()->WaitForLog("session_cut", 5s));
  auto again = sdk::Client::Connect([&] {
    sdk::ClientOptions o;
    o.endpoints = {broker_->endpoint()};
    o.broker_curve_public =
        *sdk::BrokerCurveKey(deployment_->Registry(), base::SystemClock().NowMs());
    o.identity = &id_a;
    o.connect_timeout = 1500ms;
    return o;
  }());
  EXPECT_FALSE(again);
}

TEST_F(BrokerTest, NonReceiverSubscriptionIsRefused) {
  auto auditor_id = deployment_->Identity("dpo");
  auto auditor = Connect(auditor_id);
  ASSERT_TRUE(auditor->Subscribe(Sub(10)));
  auto d = auditor->Next(3s);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, "not_a_receiver");
}

TEST_F(BrokerTest, TheReadyLineNamesTheAllocatorRelaisdRunsOn) {
  const std::string log = broker_->process()->Log();
  const size_t ready = log.find("relaisd_ready");
  ASSERT_NE(ready, std::string::npos) << log;
  const std::string line = log.substr(ready, log.find('\n', ready) - ready);
#ifdef RELAIS_EXPECT_JEMALLOC
  // The version string comes from the jemalloc library serving the allocations (mallctl).
  EXPECT_NE(line.find("allocator=\"jemalloc 5."), std::string::npos) << line;
#else
  EXPECT_NE(line.find("allocator=glibc"), std::string::npos) << line;
#endif
}

TEST_F(BrokerTest, GracefulStopAndLogsCarryNoCaseData) {
  auto hospital = Connect(hospital_);
  auto envelope = MakeReferral(*deployment_, hospital_, {"assoc-a"});
  ASSERT_TRUE(hospital->Publish(envelope, sdk::DeadlineAfter(10s)));
  ASSERT_TRUE(broker_->process()->WaitForLog("event_journaled", 5s));
  auto* process = broker_->process();
  process->Signal(SIGTERM);
  ASSERT_EQ(process->Wait(10s), std::optional<int>(0));
  std::string log = process->Log();
  EXPECT_NE(log.find("relaisd_stopped"), std::string::npos);
  EXPECT_EQ(log.find("médecine"), std::string::npos);
  EXPECT_EQ(log.find("Assistante"), std::string::npos);
}

TEST_F(BrokerTest, ConsentRecordedAndWithdrawnWithTheCliGatesReferrals) {
  std::string case_ref = crypto::NewCaseRef();
  auto consent = [&](std::vector<std::string> args) {
    std::vector<std::string> argv = {RelaisBin(), "consent"};
    argv.insert(argv.end(), args.begin(), args.end());
    for (const auto& a : {std::string("--key"), deployment_->KeyFile("hospital").string(),
                          std::string("--registry"), deployment_->RegistryFile().string(),
                          std::string("--authority-pub"), deployment_->AuthorityPub().string(),
                          std::string("--broker"), broker_->endpoint()}) {
      argv.push_back(a);
    }
    return RunCommand(argv);
  };
  auto referral = [&]() {
    base::SystemClock clock;
    schema::Header h;
    h.kind = schema::EventKind::kReferral;
    h.referral_kind = schema::ReferralKind::kHospitalDischarge;
    h.case_ref = case_ref;
    h.recipients = {"assoc-a"};
    h.tier = schema::Tier::kReferral;
    h.legal_basis = schema::LegalBasis::kConsent;
    h.purpose = schema::Purpose::kHousing;
    h.due_at = clock.NowMs() + 5 * base::kMsPerDay;
    return sdk::BuildEnvelope(h, schema::EventBody(schema::ReferralBody{}), deployment_->Registry(),
                              hospital_, clock);
  };
  auto hospital = Connect(hospital_);
  auto refused = referral();
  ASSERT_TRUE(refused) << refused.error().ToString();
  auto r = hospital->Publish(*refused, sdk::DeadlineAfter(10s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "consent_missing");

  auto granted = consent({"grant", "--case", case_ref, "--consent-id", "consent-1", "--recipients",
                          "assoc-a", "--purposes", "housing"});
  ASSERT_EQ(granted.exit_code, 0) << granted.output;
  EXPECT_NE(granted.output.find("consent=consent-1"), std::string::npos);
  auto allowed = referral();
  ASSERT_TRUE(allowed);
  ASSERT_TRUE(hospital->Publish(*allowed, sdk::DeadlineAfter(10s)));

  auto withdrawn = consent({"withdraw", "--case", case_ref, "--consent-id", "consent-1"});
  ASSERT_EQ(withdrawn.exit_code, 0) << withdrawn.output;
  auto again = consent({"withdraw", "--case", case_ref, "--consent-id", "consent-1"});
  EXPECT_EQ(again.exit_code, 3) << again.output;  // nothing active left to withdraw
  auto bad =
      consent({"grant", "--case", case_ref, "--recipients", "assoc-a", "--purposes", "lodging"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("unknown purpose 'lodging'"), std::string::npos) << bad.output;
}

TEST_F(BrokerTest, OperatorListsAndRequeuesDeadLettersAndMetricsShowThem) {
  broker_->Stop();
  broker_ = std::make_unique<BrokerProcess>(
      *deployment_, std::vector<std::string>{"--ack-timeout-ms", "100", "--max-attempts", "2"});
  broker_->Start();
  auto hospital = Connect(hospital_);
  auto outcome = hospital->Publish(MakeReferral(*deployment_, hospital_, {"assoc-a"}),
                                   sdk::DeadlineAfter(10s));
  ASSERT_TRUE(outcome) << outcome.error().ToString();
  auto id_a = deployment_->Identity("assoc-a");
  auto a = Connect(id_a);
  ASSERT_TRUE(a->Subscribe(Sub(10)));
  auto unacked = Receive(*a, 5, 1500ms, /*ack=*/false);  // two attempts, never acked
  ASSERT_EQ(unacked.size(), 2u);
  EXPECT_EQ(unacked[1].attempt, 2u);

  std::vector<std::string> admin = {RelaisBin(),
                                    "admin",
                                    "dead-letters",
                                    "--key",
                                    deployment_->KeyFile(deployment_->broker_id()).string(),
                                    "--registry",
                                    deployment_->RegistryFile().string(),
                                    "--authority-pub",
                                    deployment_->AuthorityPub().string(),
                                    "--broker",
                                    broker_->endpoint()};
  CommandResult listed;
  for (int i = 0; i < 50; ++i) {  // the dead letter is recorded by the journal writer
    listed = RunCommand(admin);
    if (listed.output.find("assoc-a") != std::string::npos) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find(std::to_string(outcome->seq) + " assoc-a 2"), std::string::npos)
      << listed.output;

  // Only the broker's key may ask.
  std::vector<std::string> as_assoc = admin;
  as_assoc[4] = deployment_->KeyFile("assoc-b").string();
  EXPECT_NE(RunCommand(as_assoc).exit_code, 0);

  std::vector<std::string> requeue = admin;
  requeue[2] = "requeue";
  requeue.insert(requeue.begin() + 3, std::to_string(outcome->seq));
  auto requeued = RunCommand(requeue);
  ASSERT_EQ(requeued.exit_code, 0) << requeued.output;
  auto again = Receive(*a, 1, 5s);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].seq, outcome->seq);
  EXPECT_EQ(again[0].attempt, 1u);

  std::string metrics = HttpGet(broker_->metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("relais_dead_letters_total 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("relais_publish_ok_total 1"), std::string::npos);
  EXPECT_NE(metrics.find("relais_publish_ack_seconds_count"), std::string::npos);
  // The one publish acked ok, in each stage of its time to ack.
  for (const char* stage : {"verify", "admit", "journal", "ack"}) {
    EXPECT_NE(metrics.find(std::string("relais_publish_stage_seconds_count{stage=\"") + stage +
                           "\"} 1\n"),
              std::string::npos)
        << stage << "\n"
        << metrics;
  }
  // The journal writer's transactions: the one event went through one of them, and each
  // transaction is counted in every part of its histogram.
  EXPECT_NE(metrics.find("relais_journal_batch_appends_total 1\n"), std::string::npos) << metrics;
  const std::string sample = "\nrelais_journal_batches_total ";
  const size_t at = metrics.find(sample);
  ASSERT_NE(at, std::string::npos) << metrics;
  const size_t from = at + sample.size();
  const std::string batches = metrics.substr(from, metrics.find('\n', from) - from);
  EXPECT_GE(std::stoul(batches), 1u);
  for (const char* part : {"queued", "write", "commit", "wal_catchup"}) {
    EXPECT_NE(metrics.find(std::string("relais_journal_batch_seconds_count{part=\"") + part +
                           "\"} " + batches + "\n"),
              std::string::npos)
        << part << "\n"
        << metrics;
  }
  EXPECT_NE(HttpGet(broker_->metrics_port(), "/healthz").find("200"), std::string::npos);
}

}  // namespace
}  // namespace relais::testing
