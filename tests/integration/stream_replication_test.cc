// relaisd's JetStream mode, first step (docs/scale-out.md section 9), across processes: a real
// 3-node nats-server cluster (tests/harness/nats_cluster.h), a real relaisd with --stream-url of
// the three nodes, real keys and registry, an SDK publisher. The stream leader (twice) and relaisd
// are SIGKILLed mid-stream; every event acknowledged to the publisher ends up in the stream
// exactly once and in the local journal's order; subjects and headers carry no case ref and no
// body text; a withdrawal crypto-shreds the stream copies of its case (the case key is gone from
// the KV bucket); the audit chain over the stream that relaisd writes meanwhile verifies with
// `relais audit verify --stream-url --require-complete`. Label scaleout.

#include "broker/case_keys.h"
#include "broker/jetstream/jetstream_case_keys.h"
#include "broker/jetstream/jetstream_stream_log.h"
#include "broker/stream_payload.h"
#include "crypto/at_rest.h"
#include "tests/harness/nats_cluster.h"
#include "tests/integration/scenario_fixture.h"

namespace relais::testing {
namespace {

constexpr char kStream[] = "RELAIS_test";

std::string EventIdHex(const schema::Envelope& e) {
  auto h = schema::DecodeHeader(e.header);
  return h ? base::HexEncode(h->event_id) : std::string();
}

class StreamReplication : public ScenarioTest {
 protected:
  void StartReplicatingBroker() {
    std::filesystem::create_directories(dir_.path() / "nats");
    auto cluster = NatsCluster::Start(3, dir_.path() / "nats");
    ASSERT_TRUE(cluster) << cluster.error().ToString();
    cluster_ = std::move(cluster).value();
    std::string urls;
    for (const auto& u : cluster_->urls()) urls += (urls.empty() ? "" : ",") + u;
    secret_file_ = dir_.path() / "stream.secret";
    ASSERT_TRUE(crypto::CreateAtRestKeyFile(secret_file_));
    RestartBroker({"--stream-url", urls, "--deployment", "test", "--instance", "r1",
                   "--stream-replicas", "3", "--territory", "t75", "--stream-secret-file",
                   secret_file_.string()});
    jetstream::JetStreamOptions jo;
    jo.urls = cluster_->urls();
    jo.stream = kStream;
    jo.subjects = {"relais.test.>"};
    jo.replicas = 3;
    jo.deadline = std::chrono::seconds(30);
    auto log = jetstream::OpenJetStreamLog(jo);
    ASSERT_TRUE(log) << log.error().ToString();
    log_ = std::move(log).value();
    auto keys = jetstream::OpenJetStreamCaseKeys(jo, std::string(kStream) + "_KEYS");
    ASSERT_TRUE(keys) << keys.error().ToString();
    keys_ = std::move(keys).value();
    auto secret = crypto::LoadAtRestKeyFile(secret_file_);
    ASSERT_TRUE(secret);
    secret_ = std::move(secret).value();
  }

  // Publishes `envelopes` one by one (the SDK resends with the same id across a relaisd
  // restart); calls `at(i)` after the i-th acknowledgement. Returns the acknowledged ids.
  std::vector<std::string> PublishAll(sdk::Client& client,
                                      const std::vector<schema::Envelope>& envelopes,
                                      const std::function<void(size_t)>& at) {
    std::vector<std::string> acked;
    for (size_t i = 0; i < envelopes.size(); ++i) {
      auto r = client.Publish(envelopes[i], sdk::DeadlineAfter(30s));
      EXPECT_TRUE(r) << r.error().ToString();
      if (r) acked.push_back(EventIdHex(envelopes[i]));
      at(i + 1);
    }
    return acked;
  }

  // The journal's event ids in seq order.
  std::vector<std::string> JournalIds() {
    std::vector<std::string> ids;
    auto reader = journal::JournalReader::Open({broker_->journal(), ""});
    EXPECT_TRUE(reader);
    if (!reader) return ids;
    EXPECT_TRUE((*reader)->ForEachFrom(
        1,
        [&](const journal::StoredEntry& e) {
          ids.push_back(base::HexEncode(e.event_id));
          return true;
        },
        journal::ReadScope::kMetadata));
    return ids;
  }

  std::vector<broker::LogRecord> ReadStream() {
    auto all = log_->Read(1, 1'000'000);
    EXPECT_TRUE(all) << all.error().ToString();
    return all ? std::move(all).value() : std::vector<broker::LogRecord>{};
  }

  // Waits until the stream holds as many messages as the journal has entries (the forwarder
  // works asynchronously after the adapter's ack; bounded by `timeout`, not a deadline).
  std::vector<broker::LogRecord> WaitReplicated(size_t entries, std::chrono::seconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto last = log_->LastSeq();
      if (last && *last >= entries) break;
      std::this_thread::sleep_for(50ms);
    }
    return ReadStream();
  }

  std::unique_ptr<NatsCluster> cluster_;
  std::filesystem::path secret_file_;
  std::unique_ptr<broker::StreamLog> log_;
  std::unique_ptr<broker::CaseKeyStore> keys_;
  crypto::AtRestKey secret_;
};

std::string Header(const broker::LogMessage& m, const std::string& name) {
  for (const auto& [k, v] : m.headers) {
    if (k == name) return v;
  }
  return "";
}

TEST_F(StreamReplication, AckedEventsReachTheStreamExactlyOnceInOrderThroughLeaderAndBrokerKills) {
  StartReplicatingBroker();
  ASSERT_NE(log_, nullptr);
  auto hospital_id = deployment_->Identity("hospital");
  auto hospital = ConnectClient(*deployment_, hospital_id, broker_->endpoint());
  constexpr size_t kFirst = 240;  // events: a consent then a referral per case
  constexpr size_t kSecond = 160;
  std::vector<std::string> case_refs;
  auto make = [&](size_t n) {
    std::vector<schema::Envelope> out;
    for (size_t i = 0; i < n / 2; ++i) {
      case_refs.push_back(crypto::NewCaseRef());
      out.push_back(ConsentFor(case_refs.back(), "consent-" + case_refs.back(), {"assoc-a"}));
      out.push_back(Referral(case_refs.back(), {"assoc-a"}));
    }
    return out;
  };

  // 1. The stream leader is SIGKILLed after 80 acks and restarted after 160.
  int killed = -1;
  auto acked = PublishAll(*hospital, make(kFirst), [&](size_t n) {
    if (n == 80) {
      auto k = cluster_->KillStreamLeader(kStream);
      ASSERT_TRUE(k) << k.error().ToString();
      killed = *k;
    }
    if (n == 160 && killed >= 0) {
      ASSERT_TRUE(cluster_->Restart(killed));
    }
  });
  ASSERT_EQ(acked.size(), kFirst);

  // 2. The new stream leader is SIGKILLed after 40 more acks, relaisd is SIGKILLed after 60
  // (the forwarder still retrying or catching up) and restarted while a node is down (the
  // high-water mark is recovered from the two others), the node after 100. The publisher's
  // pending publish is resent with the same id by the SDK.
  int killed2 = -1;
  int64_t unforwarded_at_kill = -1;
  auto acked2 = PublishAll(*hospital, make(kSecond), [&](size_t n) {
    if (n == 40) {
      auto k = cluster_->KillStreamLeader(kStream);
      ASSERT_TRUE(k) << k.error().ToString();
      killed2 = *k;
    }
    if (n == 60) {
      const size_t head = JournalIds().size();
      auto last = log_->LastSeq();
      if (last) unforwarded_at_kill = static_cast<int64_t>(head) - static_cast<int64_t>(*last);
      broker_->Kill();
      broker_->Start();
    }
    if (n == 100 && killed2 >= 0) {
      ASSERT_TRUE(cluster_->Restart(killed2));
    }
  });
  ASSERT_EQ(acked2.size(), kSecond);
  acked.insert(acked.end(), acked2.begin(), acked2.end());

  const std::vector<std::string> journal_ids = JournalIds();
  ASSERT_GE(journal_ids.size(), acked.size());
  auto records = WaitReplicated(journal_ids.size(), 40s);

  // Exactly once, in the journal's order, and every acked event is there.
  std::vector<std::string> stream_ids;
  std::map<std::string, int> count;
  for (const auto& r : records) {
    stream_ids.push_back(r.msg.id);
    ++count[r.msg.id];
    EXPECT_EQ(Header(r.msg, broker::kHeaderOrigin), "r1");
    EXPECT_EQ(Header(r.msg, broker::kHeaderOriginSeq), std::to_string(stream_ids.size()));
    EXPECT_TRUE(r.msg.subject == "relais.test.t75.referral" ||
                r.msg.subject == "relais.test.t75.consent_granted")
        << r.msg.subject;
  }
  EXPECT_EQ(stream_ids, journal_ids);
  for (const auto& id : acked) EXPECT_EQ(count[id], 1) << "acked event " << id;

  // No case ref or body text in subjects or headers.
  for (const auto& r : records) {
    std::string meta = r.msg.subject;
    for (const auto& [k, v] : r.msg.headers) meta += " " + k + "=" + v;
    for (const auto& ref : case_refs) ASSERT_EQ(meta.find(ref), std::string::npos) << meta;
    EXPECT_EQ(meta.find("Service de"), std::string::npos);
    EXPECT_EQ(meta.find("sssssss"), std::string::npos);
  }

  // The metrics show the replication caught up.
  const std::string metrics = HttpGet(broker_->metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("relais_stream_forwarded_seq " + std::to_string(journal_ids.size())),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("relais_stream_forward_lag 0"), std::string::npos);
  auto metric = [&](const std::string& name) {
    const size_t at = metrics.find("\n" + name + " ");
    return at == std::string::npos
               ? std::string("?")
               : metrics.substr(at + name.size() + 2,
                                metrics.find('\n', at + 1) - at - name.size() - 2);
  };
  std::printf(
      "replicated %zu entries (%zu acked) through 2 leader kills and a relaisd kill (%lld "
      "entries not yet in the stream when relaisd was killed); after the restart: %s resent "
      "entries the stream already had, %s retries\n",
      records.size(), acked.size(), static_cast<long long>(unforwarded_at_kill),
      metric("relais_stream_forward_duplicates_total").c_str(),
      metric("relais_stream_forward_retries_total").c_str());

  // The audit chain over the stream (docs/scale-out.md section 11), written by relaisd across
  // the leader and relaisd kills, verifies completely with the CLI. Bounded wait: the writer
  // trails the forwarder.
  std::string urls;
  for (const auto& u : cluster_->urls()) urls += (urls.empty() ? "" : ",") + u;
  CommandResult verify;
  for (int i = 0; i < 200; ++i) {
    verify = RunCommand({RelaisBin(), "audit", "verify", "--stream-url", urls, "--stream-name",
                         kStream, "--require-complete"});
    if (verify.exit_code == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(verify.exit_code, 0) << verify.output;
  const std::string n = std::to_string(journal_ids.size());
  EXPECT_NE(verify.output.find("verified " + n + " of " + n + " events"), std::string::npos)
      << verify.output;
}

TEST_F(StreamReplication, WithdrawalShredsTheStreamCopiesOfItsCase) {
  StartReplicatingBroker();
  ASSERT_NE(log_, nullptr);
  auto hospital =
      ConnectClient(*deployment_, deployment_->Identity("hospital"), broker_->endpoint());
  const std::string kept = crypto::NewCaseRef();
  const std::string withdrawn = crypto::NewCaseRef();
  for (const auto& ref : {kept, withdrawn}) {
    ASSERT_TRUE(
        hospital->Publish(ConsentFor(ref, "consent-" + ref, {"assoc-a"}), sdk::DeadlineAfter(30s)));
    ASSERT_TRUE(hospital->Publish(Referral(ref, {"assoc-a"}), sdk::DeadlineAfter(30s)));
  }
  auto records = WaitReplicated(4, 30s);
  ASSERT_EQ(records.size(), 4u);
  // While the keys exist, every sealed copy opens to the journal's envelope.
  auto reader = journal::JournalReader::Open({broker_->journal(), ""});
  ASSERT_TRUE(reader);
  auto opened_bodies = [&](const std::string& ref) -> int {
    int opened = 0;
    auto key = keys_->Get(broker::CaseKeyName(secret_, ref));
    EXPECT_TRUE(key);
    for (const auto& r : records) {
      auto plain = broker::DecodeStreamPayload(r.msg.data, nullptr);
      EXPECT_TRUE(plain) << plain.error().ToString();
      if (!plain) continue;
      auto h = schema::DecodeHeader(plain->envelope.header);
      if (!h || h->case_ref != ref || !plain->had_sealed) continue;
      EXPECT_TRUE(plain->envelope.body.empty());  // nothing sealed readable without the key
      if (!key || !*key) continue;
      auto full = broker::DecodeStreamPayload(r.msg.data, &**key);
      EXPECT_TRUE(full) << full.error().ToString();
      if (!full) continue;
      auto entry = (*reader)->Get(std::stoull(Header(r.msg, broker::kHeaderOriginSeq)));
      EXPECT_TRUE(entry && *entry);
      if (entry && *entry && !(*entry)->erased) {
        EXPECT_EQ(full->envelope, (*entry)->envelope);
      }
      ++opened;
    }
    return opened;
  };
  EXPECT_EQ(opened_bodies(kept), 2);  // the consent and the referral
  EXPECT_EQ(opened_bodies(withdrawn), 2);

  schema::Header w = Base(EventKind::kConsentWithdrawn, withdrawn, {});
  w.consent_ref = "consent-" + withdrawn;
  ASSERT_TRUE(hospital->Publish(Build(w, "hospital"), sdk::DeadlineAfter(30s)));
  // The key goes once the local erasure committed (asynchronous after the ack; bounded wait).
  const std::string name = broker::CaseKeyName(secret_, withdrawn);
  const auto end = std::chrono::steady_clock::now() + 30s;
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() < end) {
    auto k = keys_->Get(name);
    ASSERT_TRUE(k) << k.error().ToString();
    gone = !k->has_value();
    if (!gone) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(gone) << "the withdrawn case's stream key is still in the bucket\n"
                    << broker_->process()->Log();
  records = WaitReplicated(5, 30s);
  EXPECT_EQ(opened_bodies(withdrawn), 0);  // its copies no longer open
  EXPECT_EQ(opened_bodies(kept), 2);       // the other case is untouched
  // The stream still holds the withdrawn case's sealed copy, unreadable: a random key cannot
  // be guessed, and a key made up now does not open it.
  int sealed_copies = 0;
  crypto::AtRestKey wrong(crypto::Secret::Copy(crypto::RandomBytes(crypto::kAtRestKeySize)));
  for (const auto& r : records) {
    auto plain = broker::DecodeStreamPayload(r.msg.data, nullptr);
    ASSERT_TRUE(plain);
    auto h = schema::DecodeHeader(plain->envelope.header);
    if (h && h->case_ref == withdrawn && plain->had_sealed) {
      ++sealed_copies;
      EXPECT_FALSE(broker::DecodeStreamPayload(r.msg.data, &wrong));
    }
  }
  // The consent and the referral; the withdrawal and the purge request too when they were
  // forwarded before the key went (a race: either way they open with no key).
  EXPECT_GE(sealed_copies, 2);
  const std::string metrics = HttpGet(broker_->metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("relais_stream_keys_destroyed_total 1"), std::string::npos) << metrics;

  // A restart finishes every erasure again from the journal (a crash between the local erasure
  // and the key's destruction leaves nothing readable): the key is destroyed again, idempotently,
  // and relaisd serves.
  hospital.reset();
  broker_->Stop();
  broker_->Start();
  hospital = ConnectClient(*deployment_, deployment_->Identity("hospital"), broker_->endpoint());
  const std::string after = crypto::NewCaseRef();
  ASSERT_TRUE(hospital->Publish(ConsentFor(after, "consent-" + after, {"assoc-a"}),
                                sdk::DeadlineAfter(30s)));
  EXPECT_TRUE(MetricsShow("relais_stream_keys_destroyed_total 1")) << Metrics();
  auto k = keys_->Get(name);
  ASSERT_TRUE(k) << k.error().ToString();
  EXPECT_FALSE(k->has_value());
}

}  // namespace
}  // namespace relais::testing
