#include "broker/delivery.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "schema/codec.h"

namespace relais::broker {
namespace {

// In-memory store: events addressed to agencies, with ack/dead state per (agency, seq).
class FakeStore : public EventStore {
 public:
  uint64_t Add(const std::vector<std::string>& recipients) {
    uint64_t seq = ++head_;
    schema::Envelope e;
    e.header = base::Bytes{static_cast<uint8_t>(seq)};
    events_[seq] = StoredEvent{seq, static_cast<base::TimeMs>(seq), e};
    for (const auto& r : recipients) state_[{r, seq}] = "pending";
    return seq;
  }
  void Append(schema::Envelope, schema::Header, std::vector<journal::DerivedMutation>,
              std::function<void(base::Result<Appended>)>) override {}
  uint64_t HeadSeq() override { return head_; }
  base::Result<std::optional<Appended>> FindEvent(base::ByteView) override {
    return std::optional<Appended>();
  }
  base::Status Replay(uint64_t, const std::function<bool(uint64_t, const base::Bytes&)>&) override {
    return base::Ok();
  }
  std::optional<int64_t> CaseNumber(const std::string&) override { return std::nullopt; }
  base::Status ReplayCaseNumber(int64_t, uint64_t,
                                const std::function<bool(uint64_t, const base::Bytes&)>&) override {
    return base::Ok();
  }
  base::Result<std::optional<std::string>> ConsentCase(const std::string&) override {
    return std::optional<std::string>();
  }
  base::Status Erase(const std::string&) override { return base::Ok(); }
  base::Result<std::vector<uint64_t>> Pending(const std::string& agency, uint64_t after,
                                              size_t limit) override {
    ++scans;
    std::vector<uint64_t> out;
    for (const auto& [key, st] : state_) {
      if (key.first == agency && key.second > after && st == "pending" && out.size() < limit) {
        out.push_back(key.second);
      }
    }
    return out;
  }
  base::Result<StoredEvent> Read(uint64_t seq) override {
    ++reads;
    return events_.at(seq);
  }
  base::Result<std::vector<StoredEvent>> ReadMany(const std::vector<uint64_t>& seqs) override {
    ++batch_reads;
    std::vector<StoredEvent> out;
    for (uint64_t seq : seqs) out.push_back(events_.at(seq));
    return out;
  }
  void RecordAck(const std::string& agency, uint64_t seq) override {
    if (state_.count({agency, seq})) state_[{agency, seq}] = "acked";
  }
  void RecordDeadLetter(const std::string& agency, uint64_t seq, uint32_t,
                        const std::string&) override {
    state_[{agency, seq}] = "dead";
  }
  base::Result<std::vector<DeadLetter>> DeadLetters() override { return std::vector<DeadLetter>{}; }
  void EraseAsync(const std::string&, std::function<void(base::Status)> done) override {
    done(base::Ok());
  }
  base::Result<std::vector<journal::DisclosureRow>> Disclosures(const std::string&) override {
    return std::vector<journal::DisclosureRow>();
  }
  base::Result<std::vector<std::string>> Requeue(uint64_t seq) override {
    std::vector<std::string> out;
    for (auto& [key, st] : state_) {
      if (key.second == seq && st == "dead") {
        st = "pending";
        out.push_back(key.first);
      }
    }
    return out;
  }
  std::string State(const std::string& agency, uint64_t seq) { return state_[{agency, seq}]; }
  int scans = 0;
  int reads = 0;
  int batch_reads = 0;

 private:
  uint64_t head_ = 0;
  std::map<uint64_t, StoredEvent> events_;
  std::map<std::pair<std::string, uint64_t>, std::string> state_;
};

class DeliveryTest : public ::testing::Test {
 protected:
  DeliveryTest()
      : manager_(store_, Options(),
                 [this](const std::string& peer, const base::SharedBytes& frame_bytes) {
                   if (gone_.count(peer)) return false;
                   const base::Bytes& bytes = *frame_bytes;
                   schema::DecodeLimits limits;  // frames up to the largest event
                   limits.max_bytes = std::max<uint64_t>(limits.max_bytes, bytes.size());
                   limits.traversal_limit_words = bytes.size() / 8 + 1024;
                   auto frame = schema::DecodeFrame(bytes, limits);
                   EXPECT_TRUE(frame && std::holds_alternative<schema::Deliver>(*frame));
                   if (!frame || !std::holds_alternative<schema::Deliver>(*frame)) return true;
                   const auto& d = std::get<schema::Deliver>(*frame);
                   sent_.push_back({peer, d.seq, d.attempt, d.envelope.header});
                   return true;
                 }) {}
  static DeliveryOptions Options() {
    DeliveryOptions o;
    o.ack_timeout_us = 1000;
    o.max_backoff_us = 8000;
    o.max_attempts = 3;
    return o;
  }
  schema::Subscribe Sub(uint32_t credit) {
    schema::Subscribe s;
    s.credit = credit;
    return s;
  }
  std::vector<uint64_t> SentSeqs() const {
    std::vector<uint64_t> v;
    for (const auto& s : sent_) v.push_back(s.seq);
    return v;
  }
  struct Sent {
    std::string peer;
    uint64_t seq;
    uint32_t attempt;
    base::Bytes header;  // the fake store's events carry their seq in the header
  };
  FakeStore store_;
  DeliveryManager manager_;
  std::vector<Sent> sent_;
  std::set<std::string> gone_;
};

TEST_F(DeliveryTest, DeliversBacklogInOrderWithinCredit) {
  for (int i = 0; i < 10; ++i) store_.Add({"assoc"});
  store_.Add({"other"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(4), 0));
  EXPECT_EQ(SentSeqs(), (std::vector<uint64_t>{1, 2, 3, 4}));
  manager_.Ack("assoc", 1);
  manager_.Ack("assoc", 2);
  manager_.Pump(0);
  EXPECT_EQ(SentSeqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(store_.State("assoc", 1), "acked");
}

TEST_F(DeliveryTest, LiveEventsGoStraightToCaughtUpSubscribers) {
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(10), 0));
  int scans_before = store_.scans;
  uint64_t seq = store_.Add({"assoc", "other"});
  manager_.Appended(seq, 0, store_.Read(seq)->envelope, {"assoc", "other"}, 0);
  EXPECT_EQ(SentSeqs(), (std::vector<uint64_t>{seq}));
  EXPECT_EQ(store_.scans, scans_before);  // no store scan on the live path
}

// A subscriber falling far behind holds at most max_live seqs in memory; the later ones are read
// from the store once it has caught up with those, in order and once each.
TEST_F(DeliveryTest, ASubscriberFarBehindReadsTheRestFromTheStore) {
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(1), 0));
  const size_t max_live = Options().max_live;
  const int scans_before = store_.scans;
  const uint64_t total = max_live + 500;
  for (uint64_t i = 0; i < total; ++i) {
    uint64_t seq = store_.Add({"assoc"});
    manager_.Appended(seq, 0, store_.Read(seq)->envelope, {"assoc"}, 0);
  }
  EXPECT_EQ(store_.scans, scans_before);  // nothing read from the store yet
  for (uint64_t seq = 1; sent_.size() < total && seq <= total; ++seq) {
    manager_.Ack("assoc", seq);
    manager_.Pump(0);
  }
  std::vector<uint64_t> expected(total);
  for (uint64_t i = 0; i < total; ++i) expected[i] = i + 1;
  EXPECT_EQ(SentSeqs(), expected);
  EXPECT_GT(store_.scans, scans_before);  // the last 500 came from the store
}

TEST_F(DeliveryTest, EventAlreadySeenByScanIsNotSentTwiceWhenItsCommitArrives) {
  uint64_t seq = store_.Add({"assoc"});  // committed, its completion not yet processed
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(10), 0));
  manager_.Appended(seq, 0, store_.Read(seq)->envelope, {"assoc"}, 0);
  EXPECT_EQ(SentSeqs(), (std::vector<uint64_t>{seq}));
}

TEST_F(DeliveryTest, UnackedDeliveryIsRedeliveredWithBackoffThenDeadLettered) {
  store_.Add({"assoc"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(1), 0));
  manager_.Pump(999);
  ASSERT_EQ(sent_.size(), 1u);
  manager_.Pump(1000);  // attempt 1 timed out after 1000 us
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].attempt, 2u);
  manager_.Pump(1000 + 1999);  // attempt 2 waits 2000 us
  EXPECT_EQ(sent_.size(), 2u);
  manager_.Pump(3000);
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[2].attempt, 3u);
  manager_.Pump(3000 + 4000);  // third attempt timed out: max_attempts reached
  EXPECT_EQ(sent_.size(), 3u);
  EXPECT_EQ(store_.State("assoc", 1), "dead");
  EXPECT_EQ(manager_.Stats().dead_lettered, 1u);
}

TEST_F(DeliveryTest, BacklogOutsideTheCacheIsReadInOneBatch) {
  for (int i = 0; i < 50; ++i) store_.Add({"assoc"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(20), 0));
  std::vector<uint64_t> want;
  for (uint64_t s = 1; s <= 20; ++s) want.push_back(s);
  EXPECT_EQ(SentSeqs(), want);
  EXPECT_EQ(store_.batch_reads, 1);  // the 64 pending seqs fetched by the scan, in one read
  EXPECT_EQ(store_.reads, 0);
  for (uint64_t s = 1; s <= 20; ++s) manager_.Ack("assoc", s);
  manager_.Pump(0);
  EXPECT_EQ(sent_.size(), 40u);
  EXPECT_EQ(sent_.back().seq, 40u);
  EXPECT_EQ(store_.reads, 0);
}

// Subscribers behind the cache catching up over the same seqs share one read of the store.
TEST_F(DeliveryTest, SubscribersBehindTheCacheShareOneReadOfTheStore) {
  const std::vector<std::string> agencies = {"a1", "a2", "a3"};
  for (int i = 0; i < 50; ++i) store_.Add(agencies);
  for (size_t k = 0; k < agencies.size(); ++k) {
    ASSERT_TRUE(manager_.Subscribe(agencies[k], "p" + std::to_string(k), Sub(100), 0));
  }
  ASSERT_EQ(sent_.size(), 150u);
  EXPECT_EQ(store_.batch_reads, 1);
  EXPECT_EQ(store_.reads, 0);
  for (size_t k = 0; k < agencies.size(); ++k) {
    std::vector<uint64_t> got;
    for (const auto& s : sent_) {
      if (s.peer == "p" + std::to_string(k)) {
        got.push_back(s.seq);
        EXPECT_EQ(s.header, (base::Bytes{static_cast<uint8_t>(s.seq)}));
      }
    }
    ASSERT_EQ(got.size(), 50u);
    for (uint64_t i = 0; i < 50; ++i) EXPECT_EQ(got[i], i + 1);
  }
}

// A live event is encoded once for all its recipients; a redelivery carries the same event with
// its own attempt number.
TEST_F(DeliveryTest, ARedeliveryCarriesTheSameEventWithItsAttempt) {
  ASSERT_TRUE(manager_.Subscribe("a1", "p1", Sub(10), 0));
  ASSERT_TRUE(manager_.Subscribe("a2", "p2", Sub(10), 0));
  uint64_t seq = store_.Add({"a1", "a2"});
  manager_.Appended(seq, 7, store_.Read(seq)->envelope, {"a1", "a2"}, 0);
  ASSERT_EQ(sent_.size(), 2u);
  manager_.Ack("a2", seq);
  manager_.Pump(1000);  // a1's first attempt timed out
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[2].peer, "p1");
  EXPECT_EQ(sent_[2].attempt, 2u);
  for (const auto& s : sent_) {
    EXPECT_EQ(s.seq, seq);
    EXPECT_EQ(s.header, (base::Bytes{static_cast<uint8_t>(seq)}));
  }
  EXPECT_EQ(store_.reads, 1);  // the test's own read above: the broker read nothing
}

// An event as large as a publish may be (8 MiB) is redelivered too: re-encoding its frame with
// the new attempt is bounded by the frame's own size, not by the decoder's default limits.
TEST_F(DeliveryTest, ALargeEventIsRedeliveredWithItsAttempt) {
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(1), 0));
  uint64_t seq = store_.Add({"assoc"});
  schema::Envelope large = store_.Read(seq)->envelope;
  large.body.assign(8u << 20, 0x5a);
  manager_.Appended(seq, 0, large, {"assoc"}, 0);
  manager_.Pump(1000);  // the first attempt timed out
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].seq, seq);
  EXPECT_EQ(sent_[1].attempt, 2u);
}

TEST_F(DeliveryTest, OnlyTimedOutDeliveriesAreRedeliveredInSeqOrder) {
  for (int i = 0; i < 5; ++i) store_.Add({"assoc"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(2), 0));  // 1, 2 sent at t=0
  manager_.Ack("assoc", 1);
  manager_.Pump(500);  // 3 sent at t=500: due at 1500, 2 due at 1000
  ASSERT_EQ(SentSeqs(), (std::vector<uint64_t>{1, 2, 3}));
  manager_.Nack("assoc", 3, "busy", 600);  // 3 now due at 1600
  manager_.Pump(1000);
  ASSERT_EQ(SentSeqs(), (std::vector<uint64_t>{1, 2, 3, 2}));
  EXPECT_EQ(sent_.back().attempt, 2u);
  manager_.Pump(1599);
  EXPECT_EQ(sent_.size(), 4u);
  EXPECT_EQ(manager_.Pump(1599), 1600);  // the next deadline is 3's
  manager_.Pump(1600);
  ASSERT_EQ(sent_.size(), 5u);
  EXPECT_EQ(sent_.back().seq, 3u);
  EXPECT_EQ(manager_.Stats().in_flight, 2u);
}

TEST_F(DeliveryTest, NackSchedulesRedelivery) {
  store_.Add({"assoc"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(1), 0));
  manager_.Nack("assoc", 1, "local store busy", 10);
  manager_.Pump(500);
  EXPECT_EQ(sent_.size(), 1u);
  manager_.Pump(1010);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].attempt, 2u);
}

TEST_F(DeliveryTest, NewSubscriptionTakesOverUnackedDeliveries) {
  store_.Add({"assoc"});
  store_.Add({"assoc"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(10), 0));
  manager_.Ack("assoc", 1);
  ASSERT_TRUE(manager_.Subscribe("assoc", "p2", Sub(10), 0));
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[2].peer, "p2");
  EXPECT_EQ(sent_[2].seq, 2u);
  EXPECT_EQ(sent_[2].attempt, 2u);  // attempts survive the reconnect
}

TEST_F(DeliveryTest, AttemptsSurviveADisconnect) {
  store_.Add({"assoc"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(10), 0));
  manager_.Pump(1000);  // attempt 1 timed out: attempt 2 in flight
  ASSERT_EQ(sent_.size(), 2u);
  manager_.Disconnected("p1");
  store_.Add({"assoc"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p2", Sub(10), 2000));
  ASSERT_EQ(SentSeqs(), (std::vector<uint64_t>{1, 1, 1, 2}));
  EXPECT_EQ(sent_[2].peer, "p2");
  EXPECT_EQ(sent_[2].attempt, 3u);  // counted on from before the disconnect
  EXPECT_EQ(sent_[3].attempt, 1u);  // never sent before
  manager_.Pump(2000 + 4000);       // attempt 3 timed out (4000 us backoff): the last allowed
  manager_.Pump(2000 + 4000 + 8000);
  EXPECT_EQ(manager_.Stats().dead_lettered, 1u);
}

TEST_F(DeliveryTest, FromNowSkipsBacklogAndFromSeqSkipsOlder) {
  store_.Add({"assoc"});
  store_.Add({"assoc"});
  schema::Subscribe now = Sub(10);
  now.resume = schema::Subscribe::Resume::kFromNow;
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", now, 0));
  EXPECT_TRUE(sent_.empty());
  schema::Subscribe from = Sub(10);
  from.resume = schema::Subscribe::Resume::kFromSeq;
  from.from_seq = 2;
  ASSERT_TRUE(manager_.Subscribe("assoc", "p2", from, 0));
  EXPECT_EQ(SentSeqs(), (std::vector<uint64_t>{2}));
}

TEST_F(DeliveryTest, VanishedConnectionEndsSubscription) {
  store_.Add({"assoc"});
  gone_.insert("p1");
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(10), 0));
  manager_.Pump(0);
  EXPECT_FALSE(manager_.HasSubscription("assoc"));
  EXPECT_EQ(store_.State("assoc", 1), "pending");
}

TEST_F(DeliveryTest, ARedeliveryToAVanishedConnectionKeepsItsCount) {
  store_.Add({"assoc"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(10), 0));  // attempt 1 goes out
  gone_.insert("p1");
  manager_.Pump(1000);  // attempt 2 finds the connection gone
  EXPECT_FALSE(manager_.HasSubscription("assoc"));
  ASSERT_TRUE(manager_.Subscribe("assoc", "p2", Sub(10), 2000));
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].peer, "p2");
  EXPECT_EQ(sent_[1].attempt, 2u);
}

TEST_F(DeliveryTest, RequeuedDeadLetterIsDeliveredAgain) {
  store_.Add({"assoc"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(1), 0));
  for (int64_t t = 0; t < 20000; t += 500) manager_.Pump(t);
  ASSERT_EQ(store_.State("assoc", 1), "dead");
  size_t before = sent_.size();
  ASSERT_TRUE(store_.Requeue(1));
  manager_.Rescan("assoc", 1);
  manager_.Pump(20000);
  ASSERT_EQ(sent_.size(), before + 1);
  EXPECT_EQ(sent_.back().attempt, 1u);
}

TEST_F(DeliveryTest, WithheldSeqsAreNotRedelivered) {
  store_.Add({"assoc"});
  ASSERT_TRUE(manager_.Subscribe("assoc", "p1", Sub(1), 0));
  manager_.Withhold({1});
  manager_.Pump(5000);
  EXPECT_EQ(sent_.size(), 1u);
}

}  // namespace
}  // namespace relais::broker
