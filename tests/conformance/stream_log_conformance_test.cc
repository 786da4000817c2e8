// The StreamLog contract (broker/stream_log.h), the same test bodies against the embedded SQLite
// log, JetStream R1 (one nats-server) and JetStream R3 (3-node cluster), all started here.
// A missing nats-server FAILS the JetStream instantiations (scripts/install-deps.sh installs it).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "tests/conformance/backend.h"

namespace relais::conformance {
namespace {

using broker::CursorDelivery;
using broker::CursorOptions;
using broker::LogMessage;
using std::chrono::milliseconds;

constexpr milliseconds kAckWait{400};

LogMessage Msg(const std::string& id, const std::string& subject = "relais.test.t75.referral",
               const std::string& data = "") {
  LogMessage m;
  m.id = id;
  m.subject = subject;
  m.headers = {{"Relais-Agency", "hospital-1"}, {"Relais-Schema", "1"}};
  m.data = base::ToBytes(data.empty() ? "sealed-" + id : data);
  return m;
}

CursorOptions Cursor(const std::string& durable, const std::string& filter = "") {
  CursorOptions o;
  o.durable = durable;
  o.filter = filter;
  o.ack_wait = kAckWait;
  o.max_deliver = 3;
  return o;
}

std::vector<uint64_t> Seqs(const std::vector<CursorDelivery>& ds) {
  std::vector<uint64_t> out;
  for (const auto& d : ds) out.push_back(d.record.seq);
  return out;
}

class StreamLogConformance : public ::testing::TestWithParam<BackendSpec> {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<Backend>(GetParam());
    auto s = backend_->Start();
    ASSERT_TRUE(s) << GetParam().name << " backend did not start: " << s.error().ToString();
  }
  broker::StreamLog& log() { return backend_->log(); }

  uint64_t MustAppend(const LogMessage& m) {
    auto r = log().Append(m);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? r->seq : 0;
  }
  std::unique_ptr<broker::LogCursor> MustOpen(const CursorOptions& o) {
    auto c = log().OpenCursor(o);
    EXPECT_TRUE(c) << c.error().ToString();
    return c ? std::move(*c) : nullptr;
  }
  // Fetches until `n` distinct seqs arrived or about `total` elapsed; keeps the first delivery of
  // each (a later redelivery of a seq already seen, after its ack_wait, is not counted).
  std::vector<CursorDelivery> FetchN(broker::LogCursor& c, size_t n, milliseconds total) {
    std::vector<CursorDelivery> out;
    std::set<uint64_t> seen;
    const auto end = std::chrono::steady_clock::now() + total;
    while (out.size() < n && std::chrono::steady_clock::now() < end) {
      // A long wait per call: on JetStream a delivery that reaches the client after Fetch gave
      // up still counts as an attempt (then redelivered after ack_wait with a higher count).
      auto r = c.Fetch(n - out.size(), milliseconds(1000));
      if (!r && r.error().kind == base::ErrorKind::kRetryLater) {
        std::this_thread::sleep_for(milliseconds(100));  // an election: retry, as the contract says
        continue;
      }
      EXPECT_TRUE(r) << r.error().ToString();
      if (!r) break;
      for (auto& d : *r) {
        if (seen.insert(d.record.seq).second) out.push_back(std::move(d));
      }
    }
    return out;
  }

  std::unique_ptr<Backend> backend_;
};

TEST_P(StreamLogConformance, AppendsInOrderAndReadsBack) {
  for (int i = 1; i <= 20; ++i) {
    const auto seq = MustAppend(
        Msg("ev-" + std::to_string(i), i % 2 ? "relais.test.t75.referral" : "relais.test.t93.ack"));
    EXPECT_EQ(seq, static_cast<uint64_t>(i));
  }
  EXPECT_EQ(*log().LastSeq(), 20u);
  auto all = log().Read(1, 100);
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 20u);
  for (size_t i = 0; i < all->size(); ++i) {
    const auto& r = (*all)[i];
    EXPECT_EQ(r.seq, i + 1);
    EXPECT_EQ(r.msg.id, "ev-" + std::to_string(i + 1));
    EXPECT_EQ(r.msg.data, base::ToBytes("sealed-ev-" + std::to_string(i + 1)));
    EXPECT_EQ(r.msg.headers, Msg("x").headers);
    EXPECT_GT(r.stored_at, 0);
  }
  EXPECT_EQ((*all)[1].msg.subject, "relais.test.t93.ack");
  // Headers come back sorted by name, values of one name in order.
  LogMessage unsorted = Msg("ev-21");
  unsorted.headers = {{"Relais-Z", "1"}, {"Relais-A", "2"}, {"Relais-Z", "0"}};
  EXPECT_EQ(MustAppend(unsorted), 21u);
  auto last = log().Read(21, 1);
  ASSERT_TRUE(last);
  ASSERT_EQ(last->size(), 1u);
  EXPECT_EQ(last->front().msg.headers,
            (std::vector<std::pair<std::string, std::string>>{
                {"Relais-A", "2"}, {"Relais-Z", "1"}, {"Relais-Z", "0"}}));
  auto tail = log().Read(22, 10);
  ASSERT_TRUE(tail);
  EXPECT_TRUE(tail->empty());
}

TEST_P(StreamLogConformance, AppendIsIdempotentById) {
  auto first = log().Append(Msg("ev-a", "relais.test.t75.referral", "payload"));
  ASSERT_TRUE(first) << first.error().ToString();
  EXPECT_FALSE(first->duplicate);
  auto again = log().Append(Msg("ev-a", "relais.test.t75.referral", "other payload"));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->seq, first->seq);
  auto other = log().Append(Msg("ev-b", "relais.test.t75.referral", "payload"));
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->duplicate);
  EXPECT_EQ(other->seq, first->seq + 1);
  EXPECT_EQ(*log().LastSeq(), 2u);
  auto read = log().Read(1, 10);
  ASSERT_TRUE(read);
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].msg.data, base::ToBytes("payload"));
}

TEST_P(StreamLogConformance, RefusesBadMessagesAndCursors) {
  EXPECT_EQ(log().Append(Msg("", "relais.test.x")).error().code, "bad_message");
  EXPECT_EQ(log().Append(Msg("ev", "relais..x")).error().code, "bad_message");
  EXPECT_EQ(log().Append(Msg("ev", "relais.test.*")).error().code, "bad_message");
  LogMessage reserved = Msg("ev");
  reserved.headers.emplace_back("Nats-Msg-Id", "forged");
  EXPECT_EQ(log().Append(reserved).error().code, "bad_message");
  EXPECT_EQ(log().OpenCursor(Cursor("has.dot")).error().code, "bad_cursor");
  EXPECT_EQ(log().OpenCursor(Cursor("ok", "relais.>.x")).error().code, "bad_cursor");
  ASSERT_NE(MustOpen(Cursor("t75", "relais.test.t75.>")), nullptr);
  auto other_filter = log().OpenCursor(Cursor("t75", "relais.test.t93.>"));
  ASSERT_FALSE(other_filter);
  EXPECT_EQ(other_filter.error().code, "bad_cursor");
  EXPECT_EQ(*log().LastSeq(), 0u);
}

TEST_P(StreamLogConformance, ExpectedLastSeqConflicts) {
  auto a = log().Append(Msg("ev-1"), 0);
  ASSERT_TRUE(a) << a.error().ToString();
  EXPECT_EQ(a->seq, 1u);
  auto b = log().Append(Msg("ev-2"), 0);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, "wrong_last_seq");
  EXPECT_EQ(b.error().kind, base::ErrorKind::kInvalidInput);
  auto c = log().Append(Msg("ev-2"), 1);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->seq, 2u);
  auto d = log().Append(Msg("ev-3"), 7);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, "wrong_last_seq");
  // A retried append (same id) whose expectation is now stale is the original.
  auto retry = log().Append(Msg("ev-2"), 1);
  ASSERT_TRUE(retry) << retry.error().ToString();
  EXPECT_TRUE(retry->duplicate);
  EXPECT_EQ(retry->seq, 2u);
  EXPECT_EQ(*log().LastSeq(), 2u);
}

TEST_P(StreamLogConformance, CursorFiltersBySubject) {
  MustAppend(Msg("e1", "relais.test.t75.referral"));
  MustAppend(Msg("e2", "relais.test.t93.referral"));
  MustAppend(Msg("e3", "relais.test.t75.ack"));
  MustAppend(Msg("e4", "relais.test.t75.referral.extra"));
  auto star = MustOpen(Cursor("referrals", "relais.test.*.referral"));
  ASSERT_NE(star, nullptr);
  EXPECT_EQ(Seqs(FetchN(*star, 2, milliseconds(3000))), (std::vector<uint64_t>{1, 2}));
  auto none = star->Fetch(10, milliseconds(300));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  auto t75 = MustOpen(Cursor("t75", "relais.test.t75.>"));
  ASSERT_NE(t75, nullptr);
  EXPECT_EQ(Seqs(FetchN(*t75, 3, milliseconds(3000))), (std::vector<uint64_t>{1, 3, 4}));
  auto all = MustOpen(Cursor("all"));
  ASSERT_NE(all, nullptr);
  EXPECT_EQ(Seqs(FetchN(*all, 4, milliseconds(3000))), (std::vector<uint64_t>{1, 2, 3, 4}));
}

TEST_P(StreamLogConformance, AckNakRedeliveryAndMaxDeliver) {
  for (int i = 1; i <= 3; ++i) MustAppend(Msg("ev-" + std::to_string(i)));
  auto c = MustOpen(Cursor("siao"));
  ASSERT_NE(c, nullptr);
  auto first = FetchN(*c, 3, milliseconds(3000));
  ASSERT_EQ(Seqs(first), (std::vector<uint64_t>{1, 2, 3}));
  for (const auto& d : first) {
    EXPECT_EQ(d.delivery_count, 1u);
    EXPECT_FALSE(d.last_attempt);
  }
  ASSERT_TRUE(c->Ack(1));
  ASSERT_TRUE(c->Nak(2));
  EXPECT_EQ(c->Ack(1).error().code, "not_delivered");
  // Nak: redelivered at once (well within 3's ack_wait), then acked.
  auto naked = FetchN(*c, 1, milliseconds(3000));
  ASSERT_EQ(Seqs(naked), (std::vector<uint64_t>{2}));
  EXPECT_EQ(naked[0].delivery_count, 2u);
  ASSERT_TRUE(c->Ack(2));
  // Neither acked nor naked: redelivered after ack_wait. 1 and 2: never again.
  auto expired = FetchN(*c, 1, milliseconds(3000));
  ASSERT_EQ(Seqs(expired), (std::vector<uint64_t>{3}));
  EXPECT_EQ(expired[0].delivery_count, 2u);
  EXPECT_EQ(expired[0].record.msg.id, "ev-3");
  EXPECT_FALSE(expired[0].last_attempt);
  ASSERT_TRUE(c->Nak(3));
  auto third = FetchN(*c, 1, milliseconds(3000));
  ASSERT_EQ(Seqs(third), (std::vector<uint64_t>{3}));
  EXPECT_EQ(third[0].delivery_count, 3u);
  EXPECT_TRUE(third[0].last_attempt);
  // Max deliver reached: not delivered again, even after several ack waits.
  auto after = FetchN(*c, 1, 3 * kAckWait);
  EXPECT_TRUE(after.empty()) << "seq " << after[0].record.seq << " delivered again";
  std::vector<uint64_t> exhausted;
  for (int i = 0; i < 20 && exhausted.empty(); ++i) {
    exhausted = c->Exhausted();
    if (exhausted.empty()) {
      ASSERT_TRUE(c->Fetch(1, milliseconds(100)));
    }
  }
  EXPECT_EQ(exhausted, (std::vector<uint64_t>{3}));
}

TEST_P(StreamLogConformance, ReplaysFromSeq) {
  for (int i = 1; i <= 10; ++i) MustAppend(Msg("ev-" + std::to_string(i)));
  auto from4 = log().Read(4, 100);
  ASSERT_TRUE(from4);
  ASSERT_EQ(from4->size(), 7u);
  for (size_t i = 0; i < from4->size(); ++i) EXPECT_EQ((*from4)[i].seq, 4 + i);
  auto window = log().Read(5, 3);
  ASSERT_TRUE(window);
  ASSERT_EQ(window->size(), 3u);
  EXPECT_EQ(window->back().seq, 7u);
  EXPECT_EQ(window->back().msg.id, "ev-7");
  // A new durable cursor starts at the beginning of the stream.
  auto late = MustOpen(Cursor("late-joiner"));
  ASSERT_NE(late, nullptr);
  auto all = FetchN(*late, 10, milliseconds(3000));
  ASSERT_EQ(all.size(), 10u);
  EXPECT_EQ(all.front().record.seq, 1u);
  EXPECT_EQ(all.back().record.seq, 10u);
}

TEST_P(StreamLogConformance, SubscriberRestartContinues) {
  for (int i = 1; i <= 5; ++i) MustAppend(Msg("ev-" + std::to_string(i)));
  {
    auto c = MustOpen(Cursor("assoc"));
    ASSERT_NE(c, nullptr);
    ASSERT_EQ(FetchN(*c, 5, milliseconds(3000)).size(), 5u);
    for (uint64_t s : {1, 2, 3}) ASSERT_TRUE(c->Ack(s));
  }
  auto c = MustOpen(Cursor("assoc"));
  ASSERT_NE(c, nullptr);
  MustAppend(Msg("ev-6"));
  auto again = FetchN(*c, 3, milliseconds(5000));
  std::sort(again.begin(), again.end(),
            [](const auto& a, const auto& b) { return a.record.seq < b.record.seq; });
  ASSERT_EQ(Seqs(again), (std::vector<uint64_t>{4, 5, 6}));
  // Unacked before the restart: redelivered (>= 2: a slow machine may add attempts).
  EXPECT_GE(again[0].delivery_count, 2u);
  EXPECT_GE(again[1].delivery_count, 2u);
  EXPECT_EQ(again[2].record.msg.id, "ev-6");
}

// The cursor, its acks, the messages and the de-duplication survive closing the log and, for
// JetStream, stopping and restarting every server.
TEST_P(StreamLogConformance, CursorDurableAcrossEngineRestart) {
  for (int i = 1; i <= 4; ++i) MustAppend(Msg("ev-" + std::to_string(i)));
  {
    auto c = MustOpen(Cursor("durable"));
    ASSERT_NE(c, nullptr);
    ASSERT_EQ(FetchN(*c, 3, milliseconds(3000)).size(), 3u);
    ASSERT_TRUE(c->Ack(1));
    ASSERT_TRUE(c->Ack(2));
  }
  auto restarted = backend_->RestartEngine();
  ASSERT_TRUE(restarted) << restarted.error().ToString();
  EXPECT_EQ(*log().LastSeq(), 4u);
  auto dup = log().Append(Msg("ev-2"));
  ASSERT_TRUE(dup) << dup.error().ToString();
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->seq, 2u);
  auto c = MustOpen(Cursor("durable"));
  ASSERT_NE(c, nullptr);
  // Up to 30 s: after a whole-cluster restart the consumer may need a new leader first.
  auto rest = FetchN(*c, 2, milliseconds(30000));
  std::sort(rest.begin(), rest.end(),
            [](const auto& a, const auto& b) { return a.record.seq < b.record.seq; });
  ASSERT_EQ(Seqs(rest), (std::vector<uint64_t>{3, 4}));
  EXPECT_GE(rest[0].delivery_count, 2u);  // delivered before the restart, never acked
  EXPECT_EQ(rest[1].record.msg.id, "ev-4");
}

std::vector<LogMessage> Batch(const std::string& prefix, int from, int to) {
  std::vector<LogMessage> out;
  for (int i = from; i <= to; ++i) out.push_back(Msg(prefix + std::to_string(i)));
  return out;
}

TEST_P(StreamLogConformance, BatchGetsIncreasingSeqsInMessageOrder) {
  MustAppend(Msg("ev-before"));
  auto r = log().AppendBatch(Batch("ev-", 1, 200));
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->size(), 200u);
  for (size_t i = 0; i < r->size(); ++i) {
    EXPECT_FALSE((*r)[i].duplicate) << i;
    EXPECT_EQ((*r)[i].seq, i + 2) << i;  // after ev-before, consecutive in message order
  }
  EXPECT_EQ(*log().LastSeq(), 201u);
  auto read = log().Read(2, 500);
  ASSERT_TRUE(read) << read.error().ToString();
  ASSERT_EQ(read->size(), 200u);
  for (size_t i = 0; i < read->size(); ++i) {
    EXPECT_EQ((*read)[i].msg.id, "ev-" + std::to_string(i + 1));
    EXPECT_EQ((*read)[i].msg.data, base::ToBytes("sealed-ev-" + std::to_string(i + 1)));
  }
  auto empty = log().AppendBatch({});
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST_P(StreamLogConformance, BatchReportsAlreadyAppendedIdsAsDuplicates) {
  const uint64_t seq_b = MustAppend(Msg("ev-b"));
  const uint64_t seq_d = MustAppend(Msg("ev-d"));
  std::vector<LogMessage> batch = {Msg("ev-a"), Msg("ev-b", "relais.test.t75.referral", "other"),
                                   Msg("ev-c"), Msg("ev-d"), Msg("ev-a")};
  auto r = log().AppendBatch(batch);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->size(), 5u);
  EXPECT_FALSE((*r)[0].duplicate);
  EXPECT_EQ((*r)[0].seq, 3u);
  EXPECT_TRUE((*r)[1].duplicate);
  EXPECT_EQ((*r)[1].seq, seq_b);
  EXPECT_FALSE((*r)[2].duplicate);
  EXPECT_EQ((*r)[2].seq, 4u);
  EXPECT_TRUE((*r)[3].duplicate);
  EXPECT_EQ((*r)[3].seq, seq_d);
  EXPECT_TRUE((*r)[4].duplicate);  // the same id earlier in the same batch
  EXPECT_EQ((*r)[4].seq, 3u);
  EXPECT_EQ(*log().LastSeq(), 4u);
  auto read = log().Read(1, 10);
  ASSERT_TRUE(read);
  ASSERT_EQ(read->size(), 4u);
  EXPECT_EQ((*read)[0].msg.data, base::ToBytes("sealed-ev-b"));  // the duplicate changed nothing
}

// Another writer appending at the same time interleaves, but the batch keeps its own order.
TEST_P(StreamLogConformance, BatchKeepsItsOrderAgainstAConcurrentWriter) {
  std::atomic<bool> stop{false};
  std::atomic<int> other{0};
  std::thread writer([&] {
    while (!stop.load() && other.load() < 2000) {
      if (!log().Append(Msg("other-" + std::to_string(other.load())))) break;
      other.fetch_add(1);
    }
  });
  std::vector<broker::AppendResult> all;
  for (int round = 0; round < 5; ++round) {
    auto r = log().AppendBatch(Batch("ev-" + std::to_string(round) + "-", 1, 100));
    ASSERT_TRUE(r) << r.error().ToString();
    all.insert(all.end(), r->begin(), r->end());
  }
  stop.store(true);
  writer.join();
  EXPECT_GT(other.load(), 0);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_FALSE(all[i].duplicate);
    EXPECT_LT(all[i - 1].seq, all[i].seq) << i;
  }
  auto read = log().Read(1, 5000);
  ASSERT_TRUE(read) << read.error().ToString();
  EXPECT_EQ(read->size(), all.size() + static_cast<size_t>(other.load()));
  size_t inside = 0;  // the other writer's messages between a batch's first and last seq
  for (size_t b = 0; b < all.size(); b += 100) {
    for (const auto& rec : *read) {
      inside += rec.seq > all[b].seq && rec.seq < all[b + 99].seq && rec.msg.id[0] == 'o';
    }
  }
  std::cout << "[ info ] " << inside << " messages of the other writer inside the batches\n";
}

TEST_P(StreamLogConformance, ResendingABatchIsIdempotent) {
  auto first = log().AppendBatch(Batch("ev-", 1, 50));
  ASSERT_TRUE(first) << first.error().ToString();
  auto again = log().AppendBatch(Batch("ev-", 1, 50));
  ASSERT_TRUE(again) << again.error().ToString();
  ASSERT_EQ(again->size(), 50u);
  for (size_t i = 0; i < 50; ++i) {
    EXPECT_TRUE((*again)[i].duplicate) << i;
    EXPECT_EQ((*again)[i].seq, (*first)[i].seq) << i;
  }
  EXPECT_EQ(*log().LastSeq(), 50u);
  // A bad message refuses the whole batch: nothing appended.
  auto bad = Batch("ev-", 51, 53);
  bad[1].subject = "relais.test.*";
  auto refused = log().AppendBatch(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "bad_message");
  EXPECT_EQ(*log().LastSeq(), 50u);
}

std::string Name(const ::testing::TestParamInfo<BackendSpec>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Engines, StreamLogConformance,
                         ::testing::Values(BackendSpec{"sqlite", 0}, BackendSpec{"jetstream_r1", 1},
                                           BackendSpec{"jetstream_r3", 3}),
                         Name);

// R3 only. Appends acknowledged before the stream leader is SIGKILLed are all readable after,
// and the same log object keeps appending through the election.
class StreamLogCluster : public StreamLogConformance {};

TEST_P(StreamLogCluster, AckedAppendsSurviveLeaderKill) {
  std::set<uint64_t> acked;
  for (int i = 1; i <= 20; ++i) acked.insert(MustAppend(Msg("ev-" + std::to_string(i))));
  auto killed = backend_->cluster()->KillStreamLeader(kStream);
  ASSERT_TRUE(killed) << killed.error().ToString();
  for (int i = 21; i <= 40; ++i) acked.insert(MustAppend(Msg("ev-" + std::to_string(i))));
  EXPECT_EQ(acked.size(), 40u);
  auto read = log().Read(1, 100);
  ASSERT_TRUE(read) << read.error().ToString();
  ASSERT_EQ(read->size(), 40u);
  for (size_t i = 0; i < read->size(); ++i) {
    EXPECT_EQ((*read)[i].seq, i + 1);
    EXPECT_EQ((*read)[i].msg.id, "ev-" + std::to_string(i + 1));
  }
  ASSERT_TRUE(backend_->cluster()->Restart(*killed));
  auto dup = log().Append(Msg("ev-7"));
  ASSERT_TRUE(dup);
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(*log().LastSeq(), 40u);
}

// Batches appended while the stream leader is SIGKILLed: each batch is resent whole on
// kRetryLater (same ids), as the forwarder does. Every id ends up stored exactly once, in message
// order, and each result names the seq that holds its id.
TEST_P(StreamLogCluster, BatchThroughLeaderKillStoresEveryIdOnce) {
  constexpr int kPerBatch = 150;
  constexpr int kMaxBatches = 200;
  std::map<std::string, int> order;  // id -> position in the order the batches were sent
  std::map<std::string, uint64_t> result_seq;
  std::atomic<int> done{0};
  std::atomic<int> stop_after{kMaxBatches};  // set once the leader is dead: 3 more batches
  std::string failure;
  std::thread writer([&] {
    for (int b = 0; b < stop_after.load(); ++b) {
      const auto batch = Batch("ev-" + std::to_string(b) + "-", 1, kPerBatch);
      for (size_t i = 0; i < batch.size(); ++i) {
        order[batch[i].id] = b * kPerBatch + static_cast<int>(i);
      }
      base::Result<std::vector<broker::AppendResult>> r = base::RetryLater("x", "not yet");
      for (int attempt = 0; attempt < 20 && !r; ++attempt) {
        r = log().AppendBatch(batch);
        if (!r && r.error().kind != base::ErrorKind::kRetryLater) break;
      }
      if (!r) {
        failure = r.error().ToString();
        return;
      }
      for (size_t i = 0; i < batch.size(); ++i) result_seq[batch[i].id] = (*r)[i].seq;
      done.store(b + 1);
    }
  });
  while (done.load() < 2 && failure.empty()) {
    std::this_thread::sleep_for(milliseconds(1));  // not a deadline: waits for the writer
  }
  auto killed = backend_->cluster()->KillStreamLeader(kStream);
  const int done_at_kill = done.load();
  stop_after.store(done_at_kill + 4);  // the one in flight at the kill, then 3 after it
  writer.join();
  ASSERT_TRUE(killed) << killed.error().ToString();
  ASSERT_TRUE(failure.empty()) << failure;
  const int batches = done.load();
  EXPECT_EQ(batches, done_at_kill + 4);
  ASSERT_EQ(result_seq.size(), static_cast<size_t>(batches * kPerBatch));
  auto read = log().Read(1, batches * kPerBatch + 100);
  ASSERT_TRUE(read) << read.error().ToString();
  ASSERT_EQ(read->size(), static_cast<size_t>(batches * kPerBatch));  // no id twice, none lost
  std::map<std::string, uint64_t> stored;
  for (const auto& rec : *read) {
    EXPECT_TRUE(stored.emplace(rec.msg.id, rec.seq).second) << "stored twice";
  }
  for (const auto& [id, seq] : result_seq) {
    ASSERT_EQ(stored.count(id), 1u) << "lost";
    EXPECT_EQ(stored[id], seq) << "the result does not name the stored seq";
  }
  // Strict message order: batches never overlap and keep their order inside.
  for (size_t i = 1; i < read->size(); ++i) {
    const int prev = order[(*read)[i - 1].msg.id];
    const int cur = order[(*read)[i].msg.id];
    EXPECT_LT(prev, cur) << "out of message order at seq " << i + 1;
  }
  std::cout << "[ info ] leader killed after " << done_at_kill << " batches of " << kPerBatch
            << "\n";
  ASSERT_TRUE(backend_->cluster()->Restart(*killed));
}

// The stream's settings as the server reports them (docs/scale-out.md §4).
TEST_P(StreamLogCluster, StreamIsReplicatedFileStorageWithoutDeleteOrPurge) {
  MustAppend(Msg("ev-1"));
  auto body = backend_->cluster()->Monitor(0, "/jsz?accounts=true&streams=true&config=true");
  ASSERT_TRUE(body) << body.error().ToString();
  std::string compact = *body;
  std::erase_if(compact, [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); });
  ASSERT_NE(compact.find(std::string("\"name\":\"") + kStream + "\""), std::string::npos);
  for (const char* setting : {"\"storage\":\"file\"", "\"num_replicas\":3", "\"deny_delete\":true",
                              "\"deny_purge\":true", "\"duplicate_window\":120000000000"}) {
    EXPECT_NE(compact.find(setting), std::string::npos) << setting;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, StreamLogCluster,
                         ::testing::Values(BackendSpec{"jetstream_r3", 3}), Name);

}  // namespace
}  // namespace relais::conformance
