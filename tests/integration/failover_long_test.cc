// The issue-12 failover test (label `long`, not in the default run; docs/scale-out.md section 6):
// a real 3-node nats-server cluster on 127.0.0.1 (free ports, temporary stores), two real
// relaisd ("a" and "b") in JetStream mode on one R3 stream, one hospital emitter listing both
// (a first) and two receiving associations (assoc-a: a then b, assoc-b: b then a), each client in
// its own thread. Mid-stream the stream leader and relaisd a are SIGKILLed (the emitter and
// assoc-a fail over to b on their own), then the node and relaisd a are restarted (a's journal is
// the outbox: what it acknowledged and had not forwarded reaches the stream now). Checks: no
// acknowledged event lost for either receiver; duplicates only where the receiver had not
// acknowledged before, or had acknowledged to relaisd a just before its SIGKILL; every
// acknowledged event exactly once in the stream; no delivery left pending in either journal (every
// acknowledgement reached both instances); the audit chain over the stream and both local
// journals verify; every process started is stopped by PID. Prints a summary line.
//
// ctest --test-dir build -R FailoverLong --output-on-failure

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "adapters/sdk/envelope_builder.h"
#include "broker/jetstream/jetstream_stream_log.h"
#include "broker/journal/reader.h"
#include "broker/stream_payload.h"
#include "crypto/at_rest.h"
#include "crypto/random.h"
#include "schema/codec.h"
#include "tests/harness/nats_cluster.h"
#include "tests/integration/failover_long_duplicates.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;

constexpr char kStream[] = "RELAIS_long";
constexpr size_t kEvents = 2000;
constexpr auto kInterval = 20ms;  // the emitter's pace: about 50 events/s
// Acks of deliveries are recorded locally and sent to the stream asynchronously by relaisd's
// forwarder (StreamForwarder::QueueAck, in memory, after the acked entry itself is forwarded):
// an ack given to relaisd a shortly before its SIGKILL may never reach the stream, and b then
// delivers that event again to the receiver moving over. The stream leader is killed about half
// a second before relaisd a (the forwarder waits out the election meanwhile), so acks given to a
// in the last 2 s before its SIGKILL (and after it, into the dead connection) may be lost
// (measured: the oldest such ack was 0.55-0.6 s before the SIGKILL; 2 s leaves room for a loaded
// machine).
constexpr auto kAckLossWindow = 2s;

std::string IdOf(const schema::Envelope& e) {
  auto h = schema::DecodeHeader(e.header);
  return h ? base::HexEncode(h->event_id) : std::string();
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

class FailoverLong : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    deployment_ = std::make_unique<Deployment>(dir_.path());
    AddHospitalAndAssociations(*deployment_, {"assoc-a", "assoc-b"});
    deployment_->Sign();
    registry_ = deployment_->Registry();
    for (const char* id : {"hospital", "assoc-a", "assoc-b"}) {
      identities_[id] = deployment_->Identity(id);
    }
    clock_file_ = dir_.path() / "clock";
    std::ofstream(clock_file_) << base::SystemClock().NowMs() << "\n";
    std::filesystem::create_directories(dir_.path() / "nats");
    auto cluster = NatsCluster::Start(3, dir_.path() / "nats");
    ASSERT_TRUE(cluster) << cluster.error().ToString();
    cluster_ = std::move(cluster).value();
    for (int i = 0; i < 3; ++i) Track(cluster_->pid(i));
    for (const auto& u : cluster_->urls()) urls_ += (urls_.empty() ? "" : ",") + u;
    const std::filesystem::path secret = dir_.path() / "stream.secret";
    ASSERT_TRUE(crypto::CreateAtRestKeyFile(secret));
    auto flags = [&](const std::string& instance) {
      return std::vector<std::string>{"--test-clock-file",    clock_file_.string(),
                                      "--stream-url",         urls_,
                                      "--stream-name",        kStream,
                                      "--deployment",         "long",
                                      "--instance",           instance,
                                      "--stream-replicas",    "3",
                                      "--territory",          "t75",
                                      "--stream-secret-file", secret.string()};
    };
    a_ = std::make_unique<BrokerProcess>(*deployment_, flags("a"));
    a_->set_name("relaisd-a");
    a_->Start();
    Track(a_->process()->pid());
    b_ = std::make_unique<BrokerProcess>(*deployment_, flags("b"));
    b_->set_name("relaisd-b");
    b_->Start();
    Track(b_->process()->pid());
    jetstream::JetStreamOptions jo;
    jo.urls = cluster_->urls();
    jo.stream = kStream;
    jo.subjects = {"relais.long.>"};
    jo.replicas = 3;
    jo.deadline = 30s;
    auto log = jetstream::OpenJetStreamLog(jo);
    ASSERT_TRUE(log) << log.error().ToString();
    log_ = std::move(log).value();
  }

  void Track(pid_t pid) {
    std::lock_guard lock(pids_mu_);
    if (pid > 0) pids_.insert(pid);
  }

  std::unique_ptr<sdk::Client> Connect(const std::string& id, const std::string& endpoints) {
    auto c = ConnectFailoverClient(*deployment_, identities_.at(id), endpoints);
    EXPECT_TRUE(c) << c.error().ToString();
    return c ? std::move(c).value() : nullptr;
  }

  // A notice-tier discharge referral (no consent needed) of a new case to both associations.
  schema::Envelope Referral() {
    base::SystemClock clock;
    schema::Header h = ReferralHeader({"assoc-a", "assoc-b"}, clock.NowMs());
    schema::ReferralBody body;
    body.exit_place = "Service de test";
    body.exit_date = h.due_at;
    auto env = sdk::BuildEnvelope(h, schema::EventBody(body), registry_, identities_.at("hospital"),
                                  clock);
    if (!env) throw std::runtime_error("cannot build envelope: " + env.error().ToString());
    return std::move(env).value();
  }

  // The receiver thread: subscribes, acks every delivery, records each one until `stop`.
  void Receive(const std::string& id, const std::string& endpoints, ReceiverLog& log) {
    auto client = Connect(id, endpoints);
    ASSERT_NE(client, nullptr);
    schema::Subscribe s;
    s.credit = 200;
    ASSERT_TRUE(client->Subscribe(s));
    while (!stop_.load()) {
      auto d = client->Next(100ms);
      if (!d) {
        std::lock_guard lock(log.mu);
        ++log.errors;
        continue;
      }
      if (!*d) continue;
      DeliveryRecord r;
      r.at = Clock::now();
      r.endpoint = client->endpoint();
      const uint64_t stale = client->stats().stale_acks_dropped;
      EXPECT_TRUE(client->Ack(**d));
      r.ack_at = Clock::now();
      r.ack_sent = client->stats().stale_acks_dropped == stale;
      std::lock_guard lock(log.mu);
      log.by_event[IdOf((*d)->envelope)].push_back(r);
      ++log.deliveries;
      log.failovers = client->stats().failovers;
      log.stale_acks = client->stats().stale_acks_dropped;
    }
  }

  // True when `log` has a delivery of every id of `ids`.
  static bool HasAll(ReceiverLog& log, const std::vector<std::string>& ids) {
    std::lock_guard lock(log.mu);
    for (const auto& id : ids) {
      if (!log.by_event.contains(id)) return false;
    }
    return true;
  }

  // Deliveries of `journal` to `agency` left pending (neither acked here nor from the stream).
  static size_t Pending(const std::filesystem::path& journal, const std::string& agency) {
    auto reader = journal::JournalReader::Open({journal, ""});
    EXPECT_TRUE(reader) << reader.error().ToString();
    if (!reader) return SIZE_MAX;
    auto rows = (*reader)->Deliveries(agency, 0, 100'000);
    EXPECT_TRUE(rows) << rows.error().ToString();
    if (!rows) return SIZE_MAX;
    size_t n = 0;
    for (const auto& r : *rows) {
      n += std::string_view(journal::DeliveryStateName(r.state)) == "pending" ? 1 : 0;
    }
    return n;
  }

  std::vector<broker::LogRecord> ReadStream() {
    auto all = log_->Read(1, 1'000'000);
    EXPECT_TRUE(all) << all.error().ToString();
    return all ? std::move(all).value() : std::vector<broker::LogRecord>{};
  }

  // The controller thread: kills and restarts while the emitter publishes (driven by the count
  // of acknowledged publishes).
  void Control() {
    auto wait_for = [&](size_t n) {
      while (acked_count_.load() < n && !stop_.load()) std::this_thread::sleep_for(5ms);
    };
    wait_for(kEvents / 4);
    auto k = cluster_->KillStreamLeader(kStream);
    t_.leader_killed = Clock::now();
    EXPECT_TRUE(k) << k.error().ToString();
    wait_for(kEvents / 4 + 25);  // about half a second later, during the election
    a_->Kill();
    t_.a_killed = Clock::now();
    wait_for(kEvents / 2);
    if (k) {
      auto st = cluster_->Restart(*k);
      EXPECT_TRUE(st) << st.error().ToString();
      Track(cluster_->pid(*k));
    }
    wait_for(kEvents * 3 / 4);
    try {  // an exception leaving this thread would end the process and leak its children
      a_->Start();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "relaisd a did not restart: " << e.what();
    }
    t_.a_ready = Clock::now();
    if (a_->process() != nullptr) Track(a_->process()->pid());
  }

  // The emitter, at a steady pace; fills acked_, acked_on_, failed_, longest_gap_, last_ack_.
  void Emit(sdk::Client& emitter, const std::vector<schema::Envelope>& events) {
    Clock::time_point next = Clock::now();
    last_ack_ = next;
    for (const auto& e : events) {
      std::this_thread::sleep_until(next);
      next += kInterval;
      auto r = emitter.Publish(e, sdk::DeadlineAfter(60s));
      if (!r) {
        ++failed_;
        continue;
      }
      const auto now = Clock::now();
      longest_gap_ = std::max(longest_gap_, Seconds(now - last_ack_));
      last_ack_ = now;
      next = std::max(next, now);
      acked_.push_back(IdOf(e));
      acked_on_[acked_.back()] = emitter.endpoint();
      acked_count_.store(acked_.size());
    }
    acked_count_.store(kEvents);  // lets the controller finish even after failed publishes
  }

  // (1) Every acked event delivered to the receiver at least once.
  void ExpectNoLoss(ReceiverLog& log, const std::string& name) {
    std::lock_guard lock(log.mu);
    size_t missing = 0;
    for (const auto& id : acked_) missing += log.by_event.contains(id) ? 0 : 1;
    EXPECT_EQ(missing, 0u) << name << " misses " << missing << " acknowledged events";
  }

  // (3) The stream holds each acked event once among event records, once the forwarders caught
  // up (a receiver may get an event from its instance's journal before it is in the stream;
  // bounded poll). Returns a's events that reached the stream after its restart: stored after
  // b's first own event (b had none before a died).
  std::set<std::string> CheckStream() {
    std::vector<broker::LogRecord> records;
    for (int i = 0; i < 300; ++i) {
      records = ReadStream();
      std::set<std::string> ids;
      for (const auto& r : records) ids.insert(r.msg.id);
      if (std::all_of(acked_.begin(), acked_.end(),
                      [&](const auto& id) { return ids.contains(id); })) {
        break;
      }
      std::this_thread::sleep_for(200ms);
    }
    std::map<std::string, int> in_stream;
    uint64_t first_b_event = UINT64_MAX;
    std::set<std::string> a_late;
    for (const auto& r : records) {
      if (broker::FindHeader(r.msg, broker::kHeaderRecord) == "ack") {
        ++ack_records_;
        continue;
      }
      ++in_stream[r.msg.id];
      const auto origin = broker::FindHeader(r.msg, broker::kHeaderOrigin);
      if (origin == "b") first_b_event = std::min(first_b_event, r.seq);
      if (origin == "a" && r.seq > first_b_event) a_late.insert(r.msg.id);
    }
    event_records_ = 0;
    for (const auto& [id, n] : in_stream) {
      EXPECT_EQ(n, 1) << "event " << id;
      event_records_ += n;
    }
    for (const auto& id : acked_) EXPECT_EQ(in_stream[id], 1) << "acked event " << id;
    return a_late;
  }

  // (4) The audit chain over the stream verifies completely once the writers caught up (poll).
  void ExpectStreamAuditVerifies() {
    CommandResult verify;
    for (int i = 0; i < 300; ++i) {
      verify = RunCommand({RelaisBin(), "audit", "verify", "--stream-url", urls_, "--stream-name",
                           kStream, "--require-complete"});
      if (verify.exit_code == 0) break;
      std::this_thread::sleep_for(200ms);
    }
    EXPECT_EQ(verify.exit_code, 0) << verify.output;
    const size_t at = verify.output.find("verified ");
    stream_audit_ = at == std::string::npos
                        ? std::string("?")
                        : verify.output.substr(at, verify.output.find('\n', at) - at);
  }

  // Every acknowledgement reached both instances (the receivers' own, and the other instance's
  // from the stream): nothing is left pending in either journal (bounded poll).
  void ExpectNothingPending() {
    std::map<std::string, size_t> pending;
    for (int i = 0; i < 300; ++i) {
      pending.clear();
      size_t total = 0;
      for (auto* broker : {a_.get(), b_.get()}) {
        for (const char* agency : {"assoc-a", "assoc-b"}) {
          const std::string key = broker->journal().stem().string() + "/" + agency;
          total += pending[key] = Pending(broker->journal(), agency);
        }
      }
      if (total == 0) break;
      std::this_thread::sleep_for(200ms);
    }
    for (const auto& [key, n] : pending) EXPECT_EQ(n, 0u) << key << " deliveries left pending";
  }

  // (4) Each local journal verifies (relaisd stopped first), then (5) every process is stopped by
  // PID and none is left.
  void StopAllAndVerifyJournals() {
    a_->Stop();
    b_->Stop();
    for (const auto& journal : {a_->journal(), b_->journal()}) {
      CommandResult local = RunCommand({RelaisBin(), "audit", "verify", journal.string(),
                                        "--registry", deployment_->RegistryFile().string(),
                                        "--authority-pub", deployment_->AuthorityPub().string()});
      EXPECT_EQ(local.exit_code, 0) << journal << ": " << local.output;
    }
    a_.reset();
    b_.reset();
    log_.reset();
    cluster_.reset();
    for (pid_t pid : pids_) EXPECT_NE(kill(pid, 0), 0) << "process " << pid << " still running";
  }

  // The last time `ids` were first delivered to either receiver, in seconds after `from`.
  static double LastFirstDelivery(const std::set<std::string>& ids,
                                  std::initializer_list<ReceiverLog*> logs,
                                  Clock::time_point from) {
    double last = 0;
    for (ReceiverLog* r : logs) {
      std::lock_guard lock(r->mu);
      for (const auto& id : ids) {
        auto it = r->by_event.find(id);
        if (it != r->by_event.end()) last = std::max(last, Seconds(it->second.front().at - from));
      }
    }
    return last;
  }

  TempDir dir_;
  std::unique_ptr<Deployment> deployment_;
  schema::Registry registry_;
  std::map<std::string, crypto::AgencyIdentity> identities_;
  std::filesystem::path clock_file_;
  std::string urls_;
  std::unique_ptr<NatsCluster> cluster_;
  std::unique_ptr<BrokerProcess> a_, b_;
  std::unique_ptr<broker::StreamLog> log_;
  std::atomic<bool> stop_{false};
  std::mutex pids_mu_;
  std::set<pid_t> pids_;

  struct Timeline {
    Clock::time_point leader_killed, a_killed, a_ready;
  } t_;
  std::atomic<size_t> acked_count_{0};
  std::vector<std::string> acked_;
  std::map<std::string, std::string> acked_on_;  // event id -> endpoint that acked it
  size_t failed_ = 0;
  double longest_gap_ = 0;
  Clock::time_point last_ack_;
  size_t event_records_ = 0, ack_records_ = 0;
  std::string stream_audit_;  // "verified N of N events" from relais audit verify --stream-url
};

TEST_F(FailoverLong, NoAckedEventLostThroughStreamLeaderAndRelaisdKills) {
  ASSERT_NE(log_, nullptr);
  const std::string a_endpoint = a_->endpoint(), b_endpoint = b_->endpoint();
  std::vector<schema::Envelope> events;
  for (size_t i = 0; i < kEvents; ++i) events.push_back(Referral());
  auto emitter = Connect("hospital", a_endpoint + "," + b_endpoint);
  ASSERT_NE(emitter, nullptr);

  ReceiverLog assoc_a, assoc_b;
  std::thread ra([&] { Receive("assoc-a", a_endpoint + "," + b_endpoint, assoc_a); });
  std::thread rb([&] { Receive("assoc-b", b_endpoint + "," + a_endpoint, assoc_b); });
  std::thread controller([&] { Control(); });
  Emit(*emitter, events);
  controller.join();
  EXPECT_EQ(failed_, 0u);
  EXPECT_GE(emitter->stats().failovers, 1u);

  // (1) Zero loss, once everything settled (bounded wait, polling).
  const auto settle_end = Clock::now() + 180s;
  while (Clock::now() < settle_end && !(HasAll(assoc_a, acked_) && HasAll(assoc_b, acked_))) {
    std::this_thread::sleep_for(100ms);
  }
  const auto settled = Clock::now();
  ExpectNoLoss(assoc_a, "assoc-a");
  ExpectNoLoss(assoc_b, "assoc-b");
  // (3), (4) and the journals' delivery states, the receivers still running.
  const std::set<std::string> a_late = CheckStream();
  ExpectStreamAuditVerifies();
  ExpectNothingPending();
  stop_.store(true);
  ra.join();
  rb.join();

  // (2) Duplicates.
  const Duplicates da = Classify(assoc_a, a_endpoint, t_.a_killed, kAckLossWindow);
  const Duplicates db = Classify(assoc_b, a_endpoint, t_.a_killed, kAckLossWindow);
  EXPECT_EQ(da.unexplained, 0u) << "assoc-a, e.g. " << ::testing::PrintToString(da.unexplained_ids);
  EXPECT_EQ(db.unexplained, 0u) << "assoc-b, e.g. " << ::testing::PrintToString(db.unexplained_ids);

  size_t acked_on_a = 0;
  for (const auto& [id, ep] : acked_on_) acked_on_a += ep == a_endpoint ? 1 : 0;
  auto u = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  std::printf(
      "failover-long: %zu events acked (%zu on a, %zu failed), emitter failovers %llu, resends "
      "%llu, longest gap between acks %.2f s; deliveries assoc-a %zu (failovers %llu, stale acks "
      "%llu, errors %zu), assoc-b %zu (failovers %llu, errors %zu); duplicates explained "
      "assoc-a: %zu unacked + %zu acked to a within %llus of its kill (oldest %.2f s), assoc-b: "
      "%zu + %zu; unexplained %zu + %zu; stream: %zu event records, %zu ack records; %zu of a's "
      "events reached the stream after its restart, the last one delivered %.2f s after a was "
      "ready; all delivered %.2f s after the last ack; leader kill -> a kill %.2f s; stream audit: "
      "%s\n",
      acked_.size(), acked_on_a, failed_, u(emitter->stats().failovers),
      u(emitter->stats().publish_resends), longest_gap_, assoc_a.deliveries, u(assoc_a.failovers),
      u(assoc_a.stale_acks), assoc_a.errors, assoc_b.deliveries, u(assoc_b.failovers),
      assoc_b.errors, da.unacked, da.ack_lost_on_a, u(kAckLossWindow.count()), da.oldest_lost_ack,
      db.unacked, db.ack_lost_on_a, da.unexplained, db.unexplained, event_records_, ack_records_,
      a_late.size(), LastFirstDelivery(a_late, {&assoc_a, &assoc_b}, t_.a_ready),
      Seconds(settled - last_ack_), Seconds(t_.a_killed - t_.leader_killed), stream_audit_.c_str());
  emitter.reset();
  StopAllAndVerifyJournals();
}

}  // namespace
}  // namespace relais::testing
