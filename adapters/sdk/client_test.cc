#include "adapters/sdk/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <set>
#include <thread>

#include "adapters/sdk/fake_broker.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "schema/codec.h"

namespace relais::sdk {
namespace {

using std::chrono::milliseconds;
using testing::FakeBroker;

constexpr base::TimeMs kNow = 1'790'000'000'000;

// An envelope whose header decodes (the client reads the event id from it); the fake broker
// does not check signatures, so the rest is filler.
schema::Envelope MakeEnvelope() {
  schema::Header h;
  h.event_id = crypto::NewEventId(kNow);
  h.kind = schema::EventKind::kReferral;
  h.referral_kind = schema::ReferralKind::kHospitalDischarge;
  h.case_ref = "c-test";
  h.emitter = "hosp-a";
  h.emitter_key_id = "0011223344556677";
  h.recipients = {"assoc-a"};
  h.emitted_at = kNow;
  schema::Envelope e;
  e.header = schema::EncodeHeader(h);
  e.body = base::Bytes(64, 0xab);
  return e;
}

base::Bytes EventIdOf(const schema::Envelope& e) {
  return schema::DecodeHeader(e.header)->event_id;
}

schema::PublishAck Ack(const base::Bytes& id, schema::AckStatus status, uint64_t seq = 0,
                       std::string code = "") {
  schema::PublishAck a;
  a.event_id = id;
  a.status = status;
  a.seq = seq;
  a.code = std::move(code);
  a.message = "scripted";
  return a;
}

FakeBroker::PublishPolicy AlwaysOk(uint64_t seq) {
  return [seq](const base::Bytes& id, int, int) { return Ack(id, schema::AckStatus::kOk, seq); };
}

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    broker_id_ = std::make_unique<crypto::AgencyIdentity>(crypto::GenerateIdentity("broker", kNow));
    agency_ = std::make_unique<crypto::AgencyIdentity>(crypto::GenerateIdentity("hosp-a", kNow));
    broker_ = std::make_unique<FakeBroker>(
        *broker_id_, std::vector<const crypto::AgencyIdentity*>{agency_.get()});
  }

  ClientOptions Options(std::vector<std::string> endpoints = {}) {
    ClientOptions o;
    o.endpoints = endpoints.empty() ? std::vector<std::string>{broker_->endpoint()} : endpoints;
    o.broker_curve_public = broker_id_->pub.curve_public;
    o.identity = agency_.get();
    o.connect_timeout = milliseconds(2000);
    o.heartbeat_interval = milliseconds(100);
    o.silence_timeout = milliseconds(500);
    o.ack_timeout = milliseconds(5000);
    o.initial_backoff = milliseconds(20);
    o.max_backoff = milliseconds(200);
    o.close_linger = milliseconds(200);
    return o;
  }

  std::unique_ptr<Client> MustConnect(ClientOptions o) {
    auto c = Client::Connect(std::move(o));
    EXPECT_TRUE(c) << c.error().ToString();
    return c ? std::move(c).value() : nullptr;
  }

  std::unique_ptr<crypto::AgencyIdentity> broker_id_;
  std::unique_ptr<crypto::AgencyIdentity> agency_;
  std::unique_ptr<FakeBroker> broker_;
};

TEST_F(ClientTest, PublishReturnsTheSeqOfAnOkAck) {
  broker_->SetPublishPolicy(AlwaysOk(42));
  auto client = MustConnect(Options());
  ASSERT_NE(client, nullptr);
  auto out = client->Publish(MakeEnvelope(), DeadlineAfter(milliseconds(3000)));
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->seq, 42u);
  EXPECT_FALSE(out->duplicate);
  EXPECT_EQ(broker_->PublishedEventIds().size(), 1u);
}

TEST_F(ClientTest, DuplicateAckIsReportedWithTheOriginalSeq) {
  broker_->SetPublishPolicy([](const base::Bytes& id, int, int) {
    auto a = Ack(id, schema::AckStatus::kOk, 7);
    a.duplicate = true;
    return a;
  });
  auto client = MustConnect(Options());
  auto out = client->Publish(MakeEnvelope(), DeadlineAfter(milliseconds(3000)));
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->seq, 7u);
  EXPECT_TRUE(out->duplicate);
}

TEST_F(ClientTest, TransientAckIsRetriedWithTheSameEnvelope) {
  broker_->SetPublishPolicy([](const base::Bytes& id, int seen, int) {
    return seen < 3 ? Ack(id, schema::AckStatus::kTransient, 0, "overloaded")
                    : Ack(id, schema::AckStatus::kOk, 9);
  });
  auto client = MustConnect(Options());
  schema::Envelope env = MakeEnvelope();
  auto out = client->Publish(env, DeadlineAfter(milliseconds(3000)));
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->seq, 9u);
  std::vector<schema::Envelope> sent;
  for (const auto& r : broker_->received()) {
    if (auto* p = std::get_if<schema::Publish>(&r.frame)) sent.push_back(p->envelope);
  }
  ASSERT_EQ(sent.size(), 3u);
  for (const auto& e : sent) EXPECT_EQ(e, env);  // same event id, same bytes
  EXPECT_EQ(client->stats().transient_acks, 2u);
}

TEST_F(ClientTest, FatalAckIsReturnedAtOnceWithTheBrokersCode) {
  struct Case {
    const char* code;
    base::ErrorKind kind;
  };
  for (const Case& c : {Case{"consent_missing", base::ErrorKind::kNotAuthorised},
                        Case{"bad_signature", base::ErrorKind::kUnauthenticated},
                        Case{"malformed_header", base::ErrorKind::kInvalidInput}}) {
    std::string code = c.code;
    broker_->SetPublishPolicy([code](const base::Bytes& id, int, int) {
      return Ack(id, schema::AckStatus::kFatal, 0, code);
    });
    auto client = MustConnect(Options());
    schema::Envelope env = MakeEnvelope();
    auto out = client->Publish(env, DeadlineAfter(milliseconds(3000)));
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, c.code);
    EXPECT_EQ(out.error().kind, c.kind) << c.code;
    EXPECT_NE(out.error().message.find(crypto::FormatUuid(EventIdOf(env))), std::string::npos);
  }
  EXPECT_EQ(broker_->PublishedEventIds().size(), 3u);  // one each: never retried
}

TEST_F(ClientTest, UnansweredPublishIsResentOnTheSameConnectionAfterTheAckTimeout) {
  broker_->SetPublishPolicy([](const base::Bytes& id, int seen, int) {
    return seen == 1 ? std::nullopt : std::optional(Ack(id, schema::AckStatus::kOk, 5));
  });
  ClientOptions o = Options();
  o.ack_timeout = milliseconds(200);
  auto client = MustConnect(o);
  schema::Envelope env = MakeEnvelope();
  auto out = client->Publish(env, DeadlineAfter(milliseconds(3000)));
  ASSERT_TRUE(out) << out.error().ToString();
  auto ids = broker_->PublishedEventIds();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_EQ(ids[0], ids[1]);
  EXPECT_EQ(client->stats().reconnects, 0u);
}

TEST_F(ClientTest, SilentBrokerCausesReconnectionThenTheSamePublishAndStoredCursorSubscribe) {
  // The first connection goes silent as soon as it has published; later ones are answered.
  auto first_went_silent = std::make_shared<bool>(false);  // read by the fake broker's thread
  broker_->SetIgnorePolicy([first_went_silent](int peer, const schema::Frame& f) {
    if (peer == 0 && std::holds_alternative<schema::Publish>(f)) *first_went_silent = true;
    return peer == 0 && *first_went_silent;
  });
  broker_->SetPublishPolicy(AlwaysOk(11));
  auto client = MustConnect(Options());
  schema::Subscribe sub;
  sub.resume = schema::Subscribe::Resume::kFromNow;
  sub.credit = 5;
  ASSERT_TRUE(client->Subscribe(sub));
  schema::Envelope env = MakeEnvelope();
  auto out = client->Publish(env, DeadlineAfter(milliseconds(5000)));
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->seq, 11u);
  EXPECT_GE(client->stats().reconnects, 1u);

  bool republished_on_new_connection = false;
  bool resubscribed_with_stored_cursor = false;
  for (const auto& r : broker_->received()) {
    if (r.peer == 0) continue;
    if (auto* p = std::get_if<schema::Publish>(&r.frame)) {
      republished_on_new_connection |= (p->envelope == env);
    }
    if (auto* s = std::get_if<schema::Subscribe>(&r.frame)) {
      resubscribed_with_stored_cursor |=
          s->resume == schema::Subscribe::Resume::kStoredCursor && s->credit == 5;
    }
  }
  EXPECT_TRUE(republished_on_new_connection);
  EXPECT_TRUE(resubscribed_with_stored_cursor);
}

TEST_F(ClientTest, PublishWithoutAnyAckFailsAtItsDeadlineSayingItMayBeStored) {
  broker_->SetPublishPolicy([](const base::Bytes&, int, int) { return std::nullopt; });
  ClientOptions o = Options();
  o.ack_timeout = milliseconds(100);
  auto client = MustConnect(o);
  schema::Envelope env = MakeEnvelope();
  auto out = client->Publish(env, DeadlineAfter(milliseconds(400)));
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, "publish_timeout");
  EXPECT_EQ(out.error().kind, base::ErrorKind::kRetryLater);
  EXPECT_NE(out.error().message.find(crypto::FormatUuid(EventIdOf(env))), std::string::npos);
  EXPECT_NE(out.error().message.find("publish the same envelope again"), std::string::npos);
  EXPECT_EQ(client->PublishesInFlight(), 0u);
}

TEST_F(ClientTest, ConnectToNoBrokerFailsInTimeNamingTheEndpoint) {
  // A port with nothing behind it: take a free one from the fake broker, then close it.
  std::string dead;
  {
    FakeBroker gone(*broker_id_, {});
    dead = gone.endpoint();
  }
  ClientOptions o = Options({dead});
  o.connect_timeout = milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  auto c = Client::Connect(o);
  ASSERT_FALSE(c);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(3000));
  EXPECT_EQ(c.error().code, "no_answer");
  EXPECT_EQ(c.error().kind, base::ErrorKind::kRetryLater);
  EXPECT_EQ(c.error().message,
            "no answer from the broker at " + dead +
                " within 0.3 s: is it running, and is this agency's CURVE key in the registry?");
}

TEST_F(ClientTest, UnknownCurveKeyIsRefusedWithoutHanging) {
  crypto::AgencyIdentity stranger = crypto::GenerateIdentity("stranger", kNow);
  ClientOptions o = Options();
  o.identity = &stranger;
  o.connect_timeout = milliseconds(1000);
  auto c = Client::Connect(o);
  ASSERT_FALSE(c);
  // libzmq reports ZAP's refusal through the socket monitor; without it, silence is all we see.
  EXPECT_TRUE(c.error().code == "handshake_refused" || c.error().code == "no_answer")
      << c.error().ToString();
  EXPECT_NE(c.error().message.find(broker_->endpoint()), std::string::npos);
  EXPECT_TRUE(broker_->received().empty());
}

TEST_F(ClientTest, FailsOverToTheNextEndpointInOrder) {
  std::string dead;
  {
    FakeBroker gone(*broker_id_, {});
    dead = gone.endpoint();
  }
  ClientOptions o = Options({dead, broker_->endpoint()});
  o.connect_timeout = milliseconds(300);
  auto client = MustConnect(o);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->endpoint(), broker_->endpoint());
}

std::vector<schema::Deliver> Deliveries(uint64_t first, int n) {
  std::vector<schema::Deliver> out;
  for (int i = 0; i < n; ++i) {
    schema::Deliver d;
    d.seq = first + static_cast<uint64_t>(i);
    d.received_at = kNow + i;
    d.attempt = 1;
    d.envelope = MakeEnvelope();
    out.push_back(std::move(d));
  }
  return out;
}

TEST_F(ClientTest, DeliveriesStayWithinCreditAndFlowAsTheyAreAcked) {
  broker_->QueueDeliveries(Deliveries(100, 10));
  auto client = MustConnect(Options());
  ASSERT_TRUE(client->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kStoredCursor, 0, 3}));
  std::vector<Delivery> held;
  for (int i = 0; i < 3; ++i) {
    auto d = client->Next(milliseconds(2000));
    ASSERT_TRUE(d) << d.error().ToString();
    ASSERT_TRUE(d->has_value());
    held.push_back(std::move(**d));
  }
  auto none = client->Next(milliseconds(200));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value()) << "a fourth delivery exceeded the credit of 3";
  std::vector<uint64_t> seqs;
  for (const auto& d : held) {
    seqs.push_back(d.seq);
    ASSERT_TRUE(client->Ack(d));
  }
  while (seqs.size() < 10) {
    auto d = client->Next(milliseconds(2000));
    ASSERT_TRUE(d) << d.error().ToString();
    ASSERT_TRUE(d->has_value());
    EXPECT_EQ((*d)->attempt, 1u);
    seqs.push_back((*d)->seq);
    ASSERT_TRUE(client->Ack(**d));
  }
  for (size_t i = 0; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], 100 + i);
  EXPECT_TRUE(
      FakeBroker::WaitUntil([&] { return broker_->Acked().size() == 10; }, milliseconds(2000)));
  EXPECT_EQ(broker_->MaxOutstanding(), 3u);
}

// Acks of deliveries received together leave together, in one ack frame, once the application
// has acked the last of them; an ack with nothing else waiting leaves at once.
TEST_F(ClientTest, AcksOfDeliveriesReceivedTogetherLeaveInOneFrame) {
  broker_->QueueDeliveries(Deliveries(100, 5));
  auto client = MustConnect(Options());
  ASSERT_TRUE(client->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kStoredCursor, 0, 5}));
  // The five deliveries reach the client's socket; the first Next receives them all.
  std::this_thread::sleep_for(milliseconds(300));
  std::vector<Delivery> got;
  while (got.size() < 5) {
    auto d = client->Next(milliseconds(2000));
    ASSERT_TRUE(d && d->has_value());
    got.push_back(std::move(**d));
    ASSERT_TRUE(client->Ack(got.back()));
  }
  ASSERT_TRUE(
      FakeBroker::WaitUntil([&] { return broker_->Acked().size() == 5; }, milliseconds(2000)));
  std::vector<schema::Ack> frames;
  for (const auto& r : broker_->received()) {
    if (auto* a = std::get_if<schema::Ack>(&r.frame)) frames.push_back(*a);
  }
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].seq, 100u);
  EXPECT_EQ(frames[0].more, (std::vector<uint64_t>{101, 102, 103, 104}));
  EXPECT_EQ(client->stats().ack_frames_sent, 1u);
}

TEST_F(ClientTest, NackedDeliveryComesBackWithTheNextAttempt) {
  broker_->QueueDeliveries(Deliveries(1, 1));
  auto client = MustConnect(Options());
  ASSERT_TRUE(client->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kStoredCursor, 0, 1}));
  auto first = client->Next(milliseconds(2000));
  ASSERT_TRUE(first && first->has_value());
  ASSERT_TRUE(client->Nack(**first, "disk busy"));
  auto again = client->Next(milliseconds(2000));
  ASSERT_TRUE(again && again->has_value());
  EXPECT_EQ((*again)->seq, 1u);
  EXPECT_EQ((*again)->attempt, 2u);
  EXPECT_EQ((*again)->envelope, (*first)->envelope);
}

TEST_F(ClientTest, IdleClientSendsHeartbeatsThatTheBrokerAnswers) {
  ClientOptions o = Options();
  o.silence_timeout = milliseconds(3000);  // no reconnection even on a loaded machine
  auto client = MustConnect(o);
  auto none = client->Next(milliseconds(700));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  int heartbeats = 0;
  for (const auto& r : broker_->received()) {
    if (std::holds_alternative<schema::Heartbeat>(r.frame)) {
      ++heartbeats;
      EXPECT_EQ(r.peer, 0);
    }
  }
  EXPECT_GE(heartbeats, 3);  // the probe at Connect, then one per 100 ms idle
  EXPECT_EQ(client->stats().reconnects, 0u);
  EXPECT_EQ(broker_->PeerCount(), 1);
}

// The broker drops a session it has not heard from for its session timeout; an application that
// was busy that long must find its subscription again without having to know.
TEST_F(ClientTest, ApplicationBusyLongerThanTheSessionTimeoutSubscribesAgain) {
  auto client = MustConnect(Options());
  ASSERT_TRUE(client->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kFromNow, 0, 2}));
  std::this_thread::sleep_for(milliseconds(600));  // the application is busy: no calls
  ASSERT_TRUE(client->Next(milliseconds(50)));
  ASSERT_TRUE(FakeBroker::WaitUntil(
      [&] {
        int subscribes = 0;
        for (const auto& r : broker_->received()) {
          if (auto* s = std::get_if<schema::Subscribe>(&r.frame)) {
            subscribes += s->resume == schema::Subscribe::Resume::kStoredCursor ? 1 : 0;
          }
        }
        return subscribes == 1;
      },
      milliseconds(2000)));
  EXPECT_EQ(broker_->PeerCount(), 1) << "the connection itself was fine: no new socket";
}

TEST_F(ClientTest, UnansweredHeartbeatsMakeTheClientReconnect) {
  auto client = MustConnect(Options());
  broker_->SetAnswerHeartbeats(false);
  auto none = client->Next(milliseconds(1500));
  ASSERT_TRUE(none);
  EXPECT_GE(client->stats().reconnects, 1u);
  EXPECT_GE(broker_->PeerCount(), 2);
}

TEST_F(ClientTest, ErrorFrameIsReturnedByNext) {
  broker_->SetRefuseSubscriptions("not_a_receiver");
  auto client = MustConnect(Options());
  ASSERT_TRUE(client->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kFromNow, 0, 10}));
  auto d = client->Next(milliseconds(2000));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, "not_a_receiver");
  EXPECT_EQ(d.error().kind, base::ErrorKind::kNotAuthorised);
}

TEST_F(ClientTest, SubscribeRefusesCreditOutsideOneToTenThousand) {
  auto client = MustConnect(Options());
  EXPECT_EQ(
      client->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kFromNow, 0, 0}).error().code,
      "bad_credit");
  EXPECT_EQ(client->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kFromNow, 0, 10001})
                .error()
                .code,
            "bad_credit");
}

TEST_F(ClientTest, AdminRequestGetsItsReply) {
  auto client = MustConnect(Options());
  schema::AdminRequest req;
  req.op = schema::AdminRequest::Op::kListDeadLetters;
  auto reply = client->Admin(req, DeadlineAfter(milliseconds(2000)));
  ASSERT_TRUE(reply) << reply.error().ToString();
  EXPECT_TRUE(reply->ok);
  EXPECT_NE(reply->request_id, 0u);
  ASSERT_EQ(reply->lines.size(), 1u);
  EXPECT_EQ(reply->lines[0], "op 1");
}

TEST_F(ClientTest, UndecodableFrameFromTheBrokerIsDroppedNotFatal) {
  broker_->SetPublishPolicy(AlwaysOk(3));
  broker_->SendGarbageBeforeNextAck();
  auto client = MustConnect(Options());
  auto out = client->Publish(MakeEnvelope(), DeadlineAfter(milliseconds(3000)));
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(client->stats().malformed_frames, 1u);
}

TEST_F(ClientTest, PublishManyPipelinesAndRetriesPerEvent) {
  auto next_seq = std::make_shared<uint64_t>(1);  // used by the fake broker's thread only
  broker_->SetPublishPolicy([next_seq](const base::Bytes& id, int seen, int) {
    if (seen == 1 && id[15] % 7 == 0)
      return Ack(id, schema::AckStatus::kTransient, 0, "overloaded");
    return Ack(id, schema::AckStatus::kOk, (*next_seq)++);
  });
  auto client = MustConnect(Options());
  std::vector<schema::Envelope> batch;
  for (int i = 0; i < 500; ++i) batch.push_back(MakeEnvelope());
  auto results = client->PublishMany(batch, 64, DeadlineAfter(milliseconds(10000)));
  ASSERT_EQ(results.size(), batch.size());
  std::set<uint64_t> seqs;
  for (const auto& r : results) {
    ASSERT_TRUE(r) << r.error().ToString();
    seqs.insert(r->seq);
  }
  EXPECT_EQ(seqs.size(), batch.size());
  EXPECT_EQ(client->PublishesInFlight(), 0u);
}

TEST_F(ClientTest, SubmitAndPollAcksGiveOneResultPerEnvelope) {
  broker_->SetPublishPolicy(AlwaysOk(1));
  auto client = MustConnect(Options());
  std::set<base::Bytes> submitted;
  for (int i = 0; i < 20; ++i) {
    schema::Envelope e = MakeEnvelope();
    submitted.insert(EventIdOf(e));
    ASSERT_TRUE(client->SubmitPublish(e, DeadlineAfter(milliseconds(3000))));
  }
  schema::Envelope again = MakeEnvelope();
  ASSERT_TRUE(client->SubmitPublish(again, DeadlineAfter(milliseconds(3000))));
  EXPECT_EQ(client->SubmitPublish(again, DeadlineAfter(milliseconds(3000))).error().code,
            "already_in_flight");
  submitted.insert(EventIdOf(again));
  std::set<base::Bytes> done;
  for (int i = 0; i < 100 && done.size() < submitted.size(); ++i) {
    for (auto& r : client->PollAcks(milliseconds(100))) {
      EXPECT_TRUE(r.outcome);
      EXPECT_TRUE(done.insert(r.event_id).second) << "two results for one event";
    }
  }
  EXPECT_EQ(done, submitted);
}

TEST_F(ClientTest, BrokerRestartOnTheSameEndpointGetsTheSubscriptionAgain) {
  broker_->QueueDeliveries(Deliveries(1, 1));
  auto client = MustConnect(Options());
  ASSERT_TRUE(client->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kFromNow, 0, 4}));
  auto d = client->Next(milliseconds(2000));
  ASSERT_TRUE(d && d->has_value());
  int port = broker_->port();
  broker_.reset();
  broker_ = std::make_unique<FakeBroker>(
      *broker_id_, std::vector<const crypto::AgencyIdentity*>{agency_.get()}, port);
  broker_->QueueDeliveries(Deliveries(1, 1));  // the unacknowledged event, still pending
  auto again = client->Next(milliseconds(3000));
  ASSERT_TRUE(again) << again.error().ToString();
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->seq, 1u);
  bool stored_cursor = false;
  for (const auto& r : broker_->received()) {
    if (auto* s = std::get_if<schema::Subscribe>(&r.frame)) {
      stored_cursor |= s->resume == schema::Subscribe::Resume::kStoredCursor && s->credit == 4;
    }
  }
  EXPECT_TRUE(stored_cursor);
}

// Two brokers (two relaisd instances): the first goes silent after a delivery and a publish; the
// client moves to the second, publishes the same envelope there, subscribes again, and never
// sends the second broker the ack of a delivery received from the first.
TEST_F(ClientTest, SilentFirstBrokerFailsOverToTheSecondWithoutCarryingItsAcks) {
  auto silent = std::make_shared<std::atomic<bool>>(false);
  broker_->SetIgnorePolicy([silent](int, const schema::Frame&) { return silent->load(); });
  broker_->SetPublishPolicy(
      [silent](const base::Bytes&, int, int) -> std::optional<schema::PublishAck> {
        silent->store(true);  // the publish is swallowed, and nothing is answered from now on
        return std::nullopt;
      });
  broker_->QueueDeliveries(Deliveries(7, 1));
  FakeBroker second(*broker_id_, {agency_.get()});
  second.SetPublishPolicy(AlwaysOk(900));
  second.QueueDeliveries(Deliveries(7, 1));  // seq 7 is ANOTHER event on the second instance
  ClientOptions o = Options({broker_->endpoint(), second.endpoint()});
  o.failover_timeout = milliseconds(60000);  // only the silence rule can move the client
  auto client = MustConnect(o);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kStoredCursor, 0, 4}));
  auto first = client->Next(milliseconds(2000));
  ASSERT_TRUE(first && first->has_value());
  Delivery old = std::move(**first);
  uint64_t first_epoch = client->epoch();
  EXPECT_EQ(old.epoch, first_epoch);

  schema::Envelope env = MakeEnvelope();
  auto out = client->Publish(env, DeadlineAfter(milliseconds(5000)));
  ASSERT_TRUE(out) << out.error().ToString();
  EXPECT_EQ(out->seq, 900u);
  EXPECT_EQ(client->endpoint(), second.endpoint());
  EXPECT_EQ(client->stats().failovers, 1u);
  EXPECT_GT(client->epoch(), first_epoch);
  EXPECT_EQ(broker_->PublishedEventIds(), std::vector<base::Bytes>{EventIdOf(env)});
  EXPECT_EQ(second.PublishedEventIds(), std::vector<base::Bytes>{EventIdOf(env)});

  // The application acknowledges the delivery from the first broker only now: dropped.
  ASSERT_TRUE(client->Ack(old));
  ASSERT_TRUE(client->Nack(old, "late"));
  EXPECT_EQ(client->stats().stale_acks_dropped, 2u);
  auto fresh = client->Next(milliseconds(2000));
  ASSERT_TRUE(fresh && fresh->has_value());
  EXPECT_EQ((*fresh)->seq, 7u);
  EXPECT_EQ((*fresh)->epoch, client->epoch());
  ASSERT_TRUE(client->Ack(**fresh));
  ASSERT_TRUE(FakeBroker::WaitUntil([&] { return second.Acked() == std::set<uint64_t>{7}; },
                                    milliseconds(2000)));
  int acks = 0, nacks = 0;
  bool stored_cursor = false;
  for (const auto& r : second.received()) {
    acks += std::holds_alternative<schema::Ack>(r.frame);
    nacks += std::holds_alternative<schema::Nack>(r.frame);
    if (auto* s = std::get_if<schema::Subscribe>(&r.frame)) {
      stored_cursor |= s->resume == schema::Subscribe::Resume::kStoredCursor && s->credit == 4;
    }
  }
  EXPECT_EQ(acks, 1) << "only the ack of the second broker's own delivery";
  EXPECT_EQ(nacks, 0);
  EXPECT_TRUE(stored_cursor);
}

// A broker that is gone (connection refused) is left after failover_timeout, well before the
// silence timeout, and the unacknowledged publish goes to the next endpoint.
TEST_F(ClientTest, StoppedBrokerIsLeftAfterTheFailoverTimeoutWithItsUnackedPublish) {
  broker_->SetPublishPolicy([](const base::Bytes&, int, int) { return std::nullopt; });
  FakeBroker second(*broker_id_, {agency_.get()});
  second.SetPublishPolicy(AlwaysOk(5));
  ClientOptions o = Options({broker_->endpoint(), second.endpoint()});
  o.heartbeat_interval = milliseconds(1000);
  o.silence_timeout = milliseconds(60000);  // only the failover rule can move the client
  o.failover_timeout = milliseconds(300);
  auto client = MustConnect(o);
  ASSERT_NE(client, nullptr);
  schema::Envelope env = MakeEnvelope();
  ASSERT_TRUE(client->SubmitPublish(env, DeadlineAfter(milliseconds(20000))));
  ASSERT_TRUE(FakeBroker::WaitUntil([&] { return broker_->PublishedEventIds().size() == 1; },
                                    milliseconds(2000)));
  (void)client->PollAcks(milliseconds(50));
  broker_.reset();  // the first relaisd dies: its port refuses connections
  std::vector<PublishResult> results;
  for (int i = 0; i < 100 && results.empty(); ++i) results = client->PollAcks(milliseconds(100));
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results[0].outcome) << results[0].outcome.error().ToString();
  EXPECT_EQ(results[0].outcome->seq, 5u);
  EXPECT_EQ(results[0].event_id, EventIdOf(env));
  EXPECT_EQ(client->endpoint(), second.endpoint());
  EXPECT_EQ(client->stats().failovers, 1u);
}

// Connect with a first endpoint that refuses connections moves on after failover_timeout rather
// than connect_timeout, and later fail-overs go round robin.
TEST_F(ClientTest, ConnectSkipsARefusingEndpointAfterTheFailoverTimeout) {
  std::string dead;
  {
    FakeBroker gone(*broker_id_, {});
    dead = gone.endpoint();
  }
  ClientOptions o = Options({dead, broker_->endpoint()});
  o.connect_timeout = milliseconds(30000);
  o.failover_timeout = milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  auto client = MustConnect(o);
  ASSERT_NE(client, nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(10000));
  EXPECT_EQ(client->endpoint(), broker_->endpoint());
}

TEST_F(ClientTest, EndpointsMayBeGivenSeparatedByCommas) {
  auto list = ParseEndpoints({"tcp://a:1, tcp://b:2", "tcp://c:3", "tcp://a:1"});
  ASSERT_TRUE(list) << list.error().ToString();
  EXPECT_EQ(*list, (std::vector<std::string>{"tcp://a:1", "tcp://b:2", "tcp://c:3"}));
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {}, {""}, {"tcp://a:1,"}, {"tcp://a:1,,tcp://b:2"}, {"a:1"}, {"tcp://"}}) {
    auto r = ParseEndpoints(bad);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "bad_endpoint");
  }
  // Connect takes the same form.
  ClientOptions o = Options({broker_->endpoint() + "," + broker_->endpoint()});
  auto client = MustConnect(o);
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->endpoint(), broker_->endpoint());
  auto bad = Client::Connect(Options({"tcp://127.0.0.1:1,nonsense"}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "bad_endpoint");
}

// Even on the same endpoint, a new connection (a restarted broker, maybe another instance behind
// the same address) starts a new epoch: an ack of a delivery from before is not sent.
TEST_F(ClientTest, AckOfADeliveryFromBeforeAReconnectionIsDropped) {
  broker_->QueueDeliveries(Deliveries(1, 1));
  auto client = MustConnect(Options());
  ASSERT_TRUE(client->Subscribe(schema::Subscribe{schema::Subscribe::Resume::kFromNow, 0, 4}));
  auto d = client->Next(milliseconds(2000));
  ASSERT_TRUE(d && d->has_value());
  Delivery old = std::move(**d);
  int port = broker_->port();
  broker_.reset();
  broker_ = std::make_unique<FakeBroker>(
      *broker_id_, std::vector<const crypto::AgencyIdentity*>{agency_.get()}, port);
  broker_->QueueDeliveries(Deliveries(1, 1));
  auto again = client->Next(milliseconds(3000));
  ASSERT_TRUE(again && again->has_value());
  EXPECT_NE((*again)->epoch, old.epoch);
  ASSERT_TRUE(client->Ack(old));
  EXPECT_EQ(client->stats().stale_acks_dropped, 1u);
  ASSERT_TRUE(client->Ack(**again));
  ASSERT_TRUE(FakeBroker::WaitUntil([&] { return broker_->Acked() == std::set<uint64_t>{1}; },
                                    milliseconds(2000)));
  int acks = 0;
  for (const auto& r : broker_->received()) acks += std::holds_alternative<schema::Ack>(r.frame);
  EXPECT_EQ(acks, 1);
  EXPECT_EQ(client->stats().stale_acks_dropped, 1u);
}

}  // namespace
}  // namespace relais::sdk
