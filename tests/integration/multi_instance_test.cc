// Several relaisd instances on one JetStream stream (docs/scale-out.md section 12), across
// processes: a real nats-server, two real relaisd ("a" and "b") with their own journals and the
// same stream, real keys and registry, SDK clients. An event published on one instance is
// delivered to its recipient connected to the other; the recipient's acknowledgements reach the
// first instance, which then has nothing left to deliver (also when the acknowledgement is read
// while its event is still being journaled there); nothing is sent back to the stream twice; a
// withdrawal on one instance erases the case on the other. Label scaleout.

#include "broker/jetstream/jetstream_stream_log.h"
#include "broker/stream_payload.h"
#include "crypto/at_rest.h"
#include "tests/harness/nats_cluster.h"
#include "tests/integration/scenario_fixture.h"

namespace relais::testing {
namespace {

constexpr char kStream[] = "RELAIS_multi";

std::string EventIdHex(const schema::Envelope& e) {
  auto h = schema::DecodeHeader(e.header);
  return h ? base::HexEncode(h->event_id) : std::string();
}

class MultiInstance : public ScenarioTest {
 protected:
  void StartInstances() {
    std::filesystem::create_directories(dir_.path() / "nats");
    auto cluster = NatsCluster::Start(1, dir_.path() / "nats");
    ASSERT_TRUE(cluster) << cluster.error().ToString();
    cluster_ = std::move(cluster).value();
    const std::string url = cluster_->urls().front();
    const std::filesystem::path secret = dir_.path() / "stream.secret";
    ASSERT_TRUE(crypto::CreateAtRestKeyFile(secret));
    auto flags = [&](const std::string& instance) {
      return std::vector<std::string>{"--test-clock-file",    clock_file_.string(),
                                      "--stream-url",         url,
                                      "--stream-name",        kStream,
                                      "--deployment",         "multi",
                                      "--instance",           instance,
                                      "--stream-replicas",    "1",
                                      "--territory",          "t75",
                                      "--stream-secret-file", secret.string()};
    };
    broker_->Stop();
    broker_ = std::make_unique<BrokerProcess>(*deployment_, flags("a"));
    broker_->Start();
    b_ = std::make_unique<BrokerProcess>(*deployment_, flags("b"));
    b_->set_name("relaisd-b");
    b_->Start();
    jetstream::JetStreamOptions jo;
    jo.urls = cluster_->urls();
    jo.stream = kStream;
    jo.subjects = {"relais.multi.>"};
    jo.replicas = 1;
    auto log = jetstream::OpenJetStreamLog(jo);
    ASSERT_TRUE(log) << log.error().ToString();
    log_ = std::move(log).value();
  }

  std::unique_ptr<sdk::Client> ConnectTo(const std::string& id, const BrokerProcess& broker,
                                         bool subscribe) {
    identities_[id] = deployment_->Identity(id);
    auto client = ConnectClient(*deployment_, identities_[id], broker.endpoint());
    if (subscribe) {
      schema::Subscribe s;
      s.credit = 100;
      EXPECT_TRUE(client->Subscribe(s));
    }
    return client;
  }

  // Event ids delivered to `client` until `want` distinct ones arrived or `timeout`; acks each.
  std::map<std::string, int> Receive(sdk::Client& client, size_t want, std::chrono::seconds timeout,
                                     bool ack = true) {
    std::map<std::string, int> seen;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (seen.size() < want && std::chrono::steady_clock::now() < end) {
      auto d = client.Next(200ms);
      EXPECT_TRUE(d) << d.error().ToString();
      if (!d || !*d) continue;
      ++seen[EventIdHex((*d)->envelope)];
      if (ack) {
        EXPECT_TRUE(client.Ack(**d));
      }
    }
    return seen;
  }

  // Deliveries of `journal` to `agency` in each state.
  std::map<std::string, size_t> DeliveryStates(const std::filesystem::path& journal,
                                               const std::string& agency) {
    std::map<std::string, size_t> out;
    auto reader = journal::JournalReader::Open({journal, ""});
    EXPECT_TRUE(reader);
    if (!reader) return out;
    auto rows = (*reader)->Deliveries(agency, 0, 100'000);
    EXPECT_TRUE(rows);
    if (!rows) return out;
    for (const auto& r : *rows) ++out[journal::DeliveryStateName(r.state)];
    return out;
  }

  std::unique_ptr<NatsCluster> cluster_;
  std::unique_ptr<BrokerProcess> b_;
  std::unique_ptr<broker::StreamLog> log_;
};

TEST_F(MultiInstance, AnEventPublishedOnOneInstanceIsDeliveredAndAcknowledgedOnTheOther) {
  StartInstances();
  ASSERT_NE(log_, nullptr);
  auto receiver_on_b = ConnectTo("assoc-a", *b_, true);
  auto hospital_on_a = ConnectTo("hospital", *broker_, false);
  constexpr size_t kEvents = 40;
  std::set<std::string> published;
  for (size_t i = 0; i < kEvents; ++i) {  // a consent (no recipient) then a referral per case
    const std::string ref = crypto::NewCaseRef();
    ASSERT_TRUE(hospital_on_a->Publish(ConsentFor(ref, "consent-" + ref, {"assoc-a"}),
                                       sdk::DeadlineAfter(10s)));
    schema::Envelope e = Referral(ref, {"assoc-a"});
    auto r = hospital_on_a->Publish(e, sdk::DeadlineAfter(10s));
    ASSERT_TRUE(r) << r.error().ToString();
    published.insert(EventIdHex(e));
  }

  // Delivered on b, once each.
  auto seen = Receive(*receiver_on_b, kEvents, 30s);
  ASSERT_EQ(seen.size(), kEvents);
  for (const auto& [id, n] : seen) {
    EXPECT_EQ(published.count(id), 1u) << id;
    EXPECT_EQ(n, 1) << id;
  }

  // The acknowledgements given on b reach a's journal.
  std::map<std::string, size_t> on_a;
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < end) {
    on_a = DeliveryStates(broker_->journal(), "assoc-a");
    if (on_a["acked"] == kEvents) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(on_a["acked"], kEvents);
  EXPECT_EQ(on_a["pending"], 0u);
  EXPECT_EQ(DeliveryStates(b_->journal(), "assoc-a")["acked"], kEvents);

  // The receiver moving to a gets nothing again.
  receiver_on_b.reset();
  auto receiver_on_a = ConnectTo("assoc-a", *broker_, true);
  auto again = Receive(*receiver_on_a, 1, 3s);
  EXPECT_TRUE(again.empty()) << again.size() << " event(s) delivered again";

  // The stream holds each event once (b never sent a's events back) and one ack record each.
  auto records = log_->Read(1, 100'000);
  ASSERT_TRUE(records) << records.error().ToString();
  std::map<std::string, int> events, acks;
  for (const auto& r : *records) {
    if (broker::FindHeader(r.msg, broker::kHeaderRecord) == "ack") {
      ++acks[*broker::FindHeader(r.msg, broker::kHeaderEvent)];
      EXPECT_EQ(broker::FindHeader(r.msg, broker::kHeaderOrigin), "b");
    } else {
      ++events[r.msg.id];
      EXPECT_EQ(broker::FindHeader(r.msg, broker::kHeaderOrigin), "a");
    }
  }
  EXPECT_EQ(events.size(), 2 * kEvents);
  for (const auto& [id, n] : events) EXPECT_EQ(n, 1) << id;
  EXPECT_EQ(acks.size(), kEvents);

  const std::string metrics = HttpGet(b_->metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("relais_stream_ingested_total " + std::to_string(2 * kEvents)),
            std::string::npos)
      << metrics;
  const std::string metrics_a = HttpGet(broker_->metrics_port(), "/metrics");
  EXPECT_NE(metrics_a.find("relais_stream_acks_ingested_total " + std::to_string(kEvents)),
            std::string::npos);
}

// The receiver acknowledges on the instance the events were published on, as soon as they come:
// b reads each event and its acknowledgement from the stream close together (often in one batch),
// the acknowledgement while the event is still being journaled on b. b applies it once the event
// is committed, so nothing is left pending on b (a receiver moving to b would get it again).
TEST_F(MultiInstance, AcknowledgementsReadRightAfterTheirEventSettleTheDeliveryOnTheOther) {
  StartInstances();
  ASSERT_NE(log_, nullptr);
  auto receiver_on_a = ConnectTo("assoc-a", *broker_, true);
  auto hospital_on_a = ConnectTo("hospital", *broker_, false);
  constexpr size_t kCases = 40;
  for (size_t i = 0; i < kCases; ++i) {
    const std::string ref = crypto::NewCaseRef();
    ASSERT_TRUE(hospital_on_a->Publish(ConsentFor(ref, "consent-" + ref, {"assoc-a"}),
                                       sdk::DeadlineAfter(10s)));
    ASSERT_TRUE(hospital_on_a->Publish(Referral(ref, {"assoc-a"}), sdk::DeadlineAfter(10s)));
    ASSERT_EQ(Receive(*receiver_on_a, 1, 10s).size(), 1u);
  }
  std::map<std::string, size_t> on_b;
  const auto end = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < end) {
    on_b = DeliveryStates(b_->journal(), "assoc-a");
    if (on_b["acked"] == kCases) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(on_b["acked"], kCases);
  EXPECT_EQ(on_b["pending"], 0u);
  // The receiver moving to b gets nothing again.
  receiver_on_a.reset();
  auto receiver_on_b = ConnectTo("assoc-a", *b_, true);
  auto again = Receive(*receiver_on_b, 1, 3s);
  EXPECT_TRUE(again.empty()) << again.size() << " event(s) delivered again";
}

TEST_F(MultiInstance, AWithdrawalOnOneInstanceErasesTheCaseOnTheOther) {
  StartInstances();
  ASSERT_NE(log_, nullptr);
  auto hospital_on_a = ConnectTo("hospital", *broker_, false);
  const std::string ref = crypto::NewCaseRef();
  const std::string consent = "consent-" + ref;
  for (const auto& e : {ConsentFor(ref, consent, {"assoc-b"}), Referral(ref, {"assoc-b"})}) {
    auto r = hospital_on_a->Publish(e, sdk::DeadlineAfter(10s));
    ASSERT_TRUE(r) << r.error().ToString();
  }
  // b has the case (its two entries, with their sealed bytes) before the withdrawal.
  // Entries of the case on b (with_body: the consent and referral still holding sealed bytes).
  auto count_on_b = [&](bool with_body) {
    size_t n = 0;
    auto reader = journal::JournalReader::Open({b_->journal(), ""});
    if (!reader) return n;
    (void)(*reader)->ByCase(
        ref,
        [&](const journal::StoredEntry& e) {
          const bool before =
              e.kind == EventKind::kConsentGranted || e.kind == EventKind::kReferral;
          if (!with_body || (before && !e.erased && !e.envelope.body.empty())) ++n;
          return true;
        },
        journal::ReadScope::kWithSealed);
    return n;
  };
  auto wait_for = [&](const std::function<bool()>& ok) {
    const auto end = std::chrono::steady_clock::now() + 30s;
    while (!ok() && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(100ms);
    return ok();
  };
  ASSERT_TRUE(wait_for([&] { return count_on_b(true) >= 2; })) << count_on_b(true);

  schema::Header w = Base(EventKind::kConsentWithdrawn, ref, {});
  w.consent_ref = consent;
  auto r = hospital_on_a->Publish(Build(w, "hospital"), sdk::DeadlineAfter(10s));
  ASSERT_TRUE(r) << r.error().ToString();
  // b journals the withdrawal and erases every sealed byte of the case.
  EXPECT_TRUE(wait_for([&] { return count_on_b(false) >= 3 && count_on_b(true) == 0; }))
      << count_on_b(false) << " entries, " << count_on_b(true) << " with sealed bytes";
  // Its recipient connecting to b gets the purge request, never the referral.
  auto receiver_on_b = ConnectTo("assoc-b", *b_, true);
  std::map<EventKind, int> kinds;
  const auto end = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < end) {
    auto d = receiver_on_b->Next(200ms);
    ASSERT_TRUE(d) << d.error().ToString();
    if (!d || !*d) continue;
    auto h = schema::DecodeHeader((*d)->envelope.header);
    ASSERT_TRUE(h);
    ++kinds[h->kind];
  }
  EXPECT_EQ(kinds[EventKind::kReferral], 0);
  EXPECT_GE(kinds[EventKind::kPurgeRequest], 1);
}

// How fast b takes in a burst published on a (printed, not asserted: shared cores). Every event
// reaches b's journal once.
TEST_F(MultiInstance, ABurstPublishedOnOneInstanceIsIngestedByTheOther) {
  StartInstances();
  ASSERT_NE(log_, nullptr);
  const int n =
      std::getenv("RELAIS_MULTI_BURST") ? std::atoi(std::getenv("RELAIS_MULTI_BURST")) : 2000;
  std::vector<schema::Envelope> burst;  // a consent then a referral per case
  for (int i = 0; i < n / 2; ++i) {
    const std::string ref = crypto::NewCaseRef();
    burst.push_back(ConsentFor(ref, "consent-" + ref, {"assoc-a"}));
    burst.push_back(Referral(ref, {"assoc-a"}));
  }
  auto hospital_on_a = ConnectTo("hospital", *broker_, false);
  const auto start = std::chrono::steady_clock::now();
  for (const auto& r : hospital_on_a->PublishMany(burst, 256, sdk::DeadlineAfter(120s))) {
    ASSERT_TRUE(r) << r.error().ToString();
  }
  const double published_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // When the stream holds the whole burst (a's forwarder done).
  double forwarded_s = -1;
  auto forwarded = [&] {
    if (forwarded_s < 0) {
      auto last = log_->LastSeq();
      if (last && *last >= burst.size()) {
        forwarded_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      }
    }
  };
  auto ingested = [&] {
    forwarded();
    auto reader = journal::JournalReader::Open({b_->journal(), ""});
    if (!reader) return size_t{0};
    auto origins = (*reader)->StreamOrigins(0, UINT64_MAX / 2);
    return origins ? origins->size() : size_t{0};
  };
  while (ingested() < burst.size() && std::chrono::steady_clock::now() - start < 120s) {
    std::this_thread::sleep_for(20ms);
  }
  const double ingested_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(ingested(), burst.size());
  std::printf(
      "multi-instance: %d events published on a in %.2f s (%.0f/s); all in the stream after "
      "%.2f s; all in b's journal after %.2f s (%.0f/s end to end)\n",
      static_cast<int>(burst.size()), published_s, burst.size() / published_s, forwarded_s,
      ingested_s, burst.size() / ingested_s);
}

}  // namespace
}  // namespace relais::testing
