// Client fail-over between two REAL relaisd processes (issue 12: "an adapter lists several
// broker endpoints and fails over"). Both serve the same deployment (keys, registry) in the
// embedded mode, each with its own journal, so the same seq numbers name different events on
// each: exactly the situation where an ack carried over from one instance to the other would
// acknowledge the wrong event.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <map>
#include <set>

#include "adapters/sdk/envelope_builder.h"
#include "crypto/random.h"
#include "schema/codec.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;

class FailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    deployment_ = std::make_unique<Deployment>(dir_.path());
    AddHospitalAndAssociations(*deployment_, {"assoc-a"});
    deployment_->Sign();
    // A short ack timeout on B, so that an event whose delivery was not acknowledged there comes
    // back within the test.
    a_ = std::make_unique<BrokerProcess>(*deployment_);
    a_->set_name("relaisd-a");
    a_->Start();
    b_ = std::make_unique<BrokerProcess>(*deployment_,
                                         std::vector<std::string>{"--ack-timeout-ms", "1000"});
    b_->set_name("relaisd-b");
    b_->Start();
    hospital_ = deployment_->Identity("hospital");
    assoc_ = deployment_->Identity("assoc-a");
  }

  // A client listing both brokers in one comma-separated value, as `--broker A,B` gives it.
  std::unique_ptr<sdk::Client> Connect(const crypto::AgencyIdentity& id) {
    auto c = ConnectFailoverClient(*deployment_, id, a_->endpoint() + "," + b_->endpoint());
    EXPECT_TRUE(c) << c.error().ToString();
    return c ? std::move(c).value() : nullptr;
  }

  schema::Envelope Referral() { return MakeReferral(*deployment_, hospital_, {"assoc-a"}); }

  static base::Bytes EventId(const schema::Envelope& e) {
    return schema::DecodeHeader(e.header)->event_id;
  }

  TempDir dir_;
  std::unique_ptr<Deployment> deployment_;
  std::unique_ptr<BrokerProcess> a_, b_;
  crypto::AgencyIdentity hospital_, assoc_;
};

TEST_F(FailoverTest, EmitterAndReceiverMoveToTheSecondRelaisdWhenTheFirstIsKilled) {
  auto emitter = Connect(hospital_);
  auto receiver = Connect(assoc_);
  ASSERT_NE(emitter, nullptr);
  ASSERT_NE(receiver, nullptr);
  ASSERT_EQ(emitter->endpoint(), a_->endpoint());
  ASSERT_EQ(receiver->endpoint(), a_->endpoint());
  ASSERT_TRUE(
      receiver->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kStoredCursor, 0, 10}));

  // Three events through A; the receiver acknowledges two and still holds the third.
  std::vector<schema::Envelope> before = {Referral(), Referral(), Referral()};
  for (const auto& e : before) {
    auto out = emitter->Publish(e, sdk::DeadlineAfter(10s));
    ASSERT_TRUE(out) << out.error().ToString();
  }
  std::vector<sdk::Delivery> from_a;
  for (int i = 0; i < 100 && from_a.size() < 3; ++i) {
    auto d = receiver->Next(100ms);
    ASSERT_TRUE(d) << d.error().ToString();
    if (*d) from_a.push_back(std::move(**d));
  }
  ASSERT_EQ(from_a.size(), 3u);
  ASSERT_TRUE(receiver->Ack(from_a[0]));
  ASSERT_TRUE(receiver->Ack(from_a[1]));
  const sdk::Delivery& held = from_a[2];

  // A stops answering, gets a publish it will never read, then dies.
  a_->process()->Signal(SIGSTOP);
  schema::Envelope in_flight = Referral();
  ASSERT_TRUE(emitter->SubmitPublish(in_flight, sdk::DeadlineAfter(30s)));
  a_->Kill();

  // The application does nothing special: its next publishes are acknowledged by B, and the
  // publish A never read is re-sent to B with the same event id.
  std::vector<schema::Envelope> after = {Referral(), Referral()};
  for (const auto& e : after) {
    auto out = emitter->Publish(e, sdk::DeadlineAfter(30s));
    ASSERT_TRUE(out) << out.error().ToString();
    EXPECT_FALSE(out->duplicate);
  }
  EXPECT_EQ(emitter->endpoint(), b_->endpoint());
  EXPECT_GE(emitter->stats().failovers, 1u);
  std::vector<sdk::PublishResult> pending;
  for (int i = 0; i < 100 && pending.empty(); ++i) pending = emitter->PollAcks(100ms);
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].event_id, EventId(in_flight));
  ASSERT_TRUE(pending[0].outcome) << pending[0].outcome.error().ToString();
  EXPECT_GE(emitter->stats().publish_resends, 1u);

  // The receiver moves to B too and gets B's three events, which B numbers with its own seqs.
  std::set<base::Bytes> expected = {EventId(in_flight), EventId(after[0]), EventId(after[1])};
  std::map<base::Bytes, sdk::Delivery> from_b;  // by event id: seqs differ between instances
  for (int i = 0; i < 300 && from_b.size() < expected.size(); ++i) {
    auto d = receiver->Next(100ms);
    ASSERT_TRUE(d) << d.error().ToString();
    if (*d) from_b.emplace(EventId((*d)->envelope), std::move(**d));
  }
  ASSERT_EQ(from_b.size(), expected.size());
  EXPECT_EQ(receiver->endpoint(), b_->endpoint());
  std::set<base::Bytes> got;
  std::map<uint64_t, base::Bytes> b_seq_to_event;
  for (const auto& [id, d] : from_b) {
    got.insert(id);
    b_seq_to_event[d.seq] = id;
  }
  EXPECT_EQ(got, expected);
  // The held delivery's seq (from A) names another event on B: the situation this guards.
  ASSERT_TRUE(b_seq_to_event.contains(held.seq)) << "seq " << held.seq << " not used by B";
  ASSERT_NE(b_seq_to_event[held.seq], EventId(held.envelope));

  // The application acknowledges A's delivery only now: not sent to B.
  ASSERT_TRUE(receiver->Ack(held));
  EXPECT_EQ(receiver->stats().stale_acks_dropped, 1u);
  // Acknowledge B's events except the one sharing the held seq; B must redeliver that one, which
  // it would not do had the stale ack reached it.
  for (const auto& [id, d] : from_b) {
    if (d.seq != held.seq) {
      ASSERT_TRUE(receiver->Ack(d));
    }
  }
  std::optional<sdk::Delivery> redelivered;
  for (int i = 0; i < 100 && !redelivered; ++i) {
    auto d = receiver->Next(100ms);
    ASSERT_TRUE(d) << d.error().ToString();
    if (*d && EventId((*d)->envelope) == b_seq_to_event[held.seq]) redelivered = std::move(**d);
  }
  ASSERT_TRUE(redelivered.has_value());
  EXPECT_GE(redelivered->attempt, 2u);
  EXPECT_EQ(redelivered->seq, held.seq);
  ASSERT_TRUE(receiver->Ack(*redelivered));
}

// `relais tail --broker A,B` moves to B when A is killed and prints each event once: by event
// id, although B numbers the events with other seqs than A.
TEST_F(FailoverTest, TailFailsOverAndPrintsAnEventDeliveredByBothInstancesOnce) {
  auto only_to = [&](BrokerProcess& broker, const schema::Envelope& e) {
    auto client = ConnectClient(*deployment_, hospital_, broker.endpoint());
    auto out = client->Publish(e, sdk::DeadlineAfter(10s));
    ASSERT_TRUE(out) << out.error().ToString();
  };
  schema::Envelope both = Referral(), first_on_b = Referral(), last_on_b = Referral();
  only_to(*a_, both);
  only_to(*b_, first_on_b);  // shifts B's seqs: `both` is seq 1 on A, not on B
  only_to(*b_, both);
  only_to(*b_, last_on_b);

  auto tail = Process::Start(
      JoinArgs({{RelaisBin(), "tail"},
                AgencyFlags(*deployment_, "assoc-a", a_->endpoint() + "," + b_->endpoint()),
                {"--count", "3", "--timeout", "60"}}),
      dir_.path() / "tail.log");
  ASSERT_TRUE(tail);
  auto id_text = [](const schema::Envelope& e) { return crypto::FormatUuid(EventId(e)); };
  ASSERT_TRUE((*tail)->WaitForLog(id_text(both), 20s)) << (*tail)->Log();
  a_->Kill();
  auto status = (*tail)->Wait(60s);
  ASSERT_TRUE(status.has_value()) << (*tail)->Log();
  EXPECT_EQ(*status, 0) << (*tail)->Log();
  std::string log = (*tail)->Log();
  auto count = [&](const std::string& needle) {
    int n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count(id_text(both)), 1) << log;
  EXPECT_EQ(count(id_text(first_on_b)), 1) << log;
  EXPECT_EQ(count(id_text(last_on_b)), 1) << log;
}

}  // namespace
}  // namespace relais::testing
