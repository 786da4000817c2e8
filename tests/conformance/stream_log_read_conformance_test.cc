// StreamLog::Read (broker/stream_log.h) as the sequential readers use it (the stream ingester and
// the audit chain writer read the whole stream in order, in batches; the forwarder's recovery
// reads windows backwards), on the SQLite log, JetStream R1 and JetStream R3. JetStream serves a
// Read that continues the previous one from a cached consumer (jetstream_internal.h
// SequentialReaders): these cases pin that the records are exactly the per-record ones whatever
// the pattern, threads or failovers.
#include <gtest/gtest.h>

#include <iostream>
#include <thread>

#include "broker/jetstream/jetstream_stream_log.h"
#include "tests/conformance/backend.h"

namespace relais::conformance {
namespace {

using broker::LogMessage;
using broker::LogRecord;

LogMessage Msg(const std::string& id, int i) {
  LogMessage m;
  m.id = id;
  m.subject = i % 3 == 0 ? "relais.test.t93.ack" : "relais.test.t75.referral";
  m.headers = {{"Relais-Schema", "1"}, {"Relais-Agency", "hospital-" + std::to_string(i % 4)}};
  m.data = base::ToBytes("sealed-" + id + std::string(static_cast<size_t>(i % 7) * 50, 'x'));
  return m;
}

// Everything a record carries, for comparisons between read patterns.
void ExpectSame(const LogRecord& a, const LogRecord& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.msg.id, b.msg.id) << a.seq;
  EXPECT_EQ(a.msg.subject, b.msg.subject) << a.seq;
  EXPECT_EQ(a.msg.headers, b.msg.headers) << a.seq;
  EXPECT_EQ(a.msg.data, b.msg.data) << a.seq;
  EXPECT_EQ(a.stored_at, b.stored_at) << a.seq;
}

class StreamLogRead : public ::testing::TestWithParam<BackendSpec> {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<Backend>(GetParam());
    auto s = backend_->Start();
    ASSERT_TRUE(s) << GetParam().name << " backend did not start: " << s.error().ToString();
  }
  broker::StreamLog& log() { return backend_->log(); }

  // Appends ids prefix1..prefixN in batches of 200 (as the forwarder does).
  void AppendN(broker::StreamLog& log, const std::string& prefix, int n) {
    std::vector<LogMessage> batch;
    for (int i = 1; i <= n; ++i) {
      batch.push_back(Msg(prefix + std::to_string(i), i));
      if (batch.size() == 200 || i == n) {
        auto r = log.AppendBatch(batch);
        ASSERT_TRUE(r) << r.error().ToString();
        batch.clear();
      }
    }
  }
  // Reads from `from` to the end in Reads of `batch`, as the ingester does.
  std::vector<LogRecord> ReadAll(uint64_t from, size_t batch) {
    std::vector<LogRecord> out;
    while (true) {
      auto r = log().Read(from, batch);
      EXPECT_TRUE(r) << r.error().ToString();
      if (!r || r->empty()) return out;
      EXPECT_LE(r->size(), batch);
      for (auto& rec : *r) {
        EXPECT_EQ(rec.seq, from) << "not contiguous";
        ++from;
        out.push_back(std::move(rec));
      }
    }
  }
  // Another writer on the same stream: another log object (JetStream: its own connection).
  std::unique_ptr<broker::StreamLog> OpenOtherWriter() {
    if (backend_->cluster() == nullptr) return nullptr;  // SQLite: one log object per file
    jetstream::JetStreamOptions o;
    o.urls = backend_->cluster()->urls();
    o.stream = kStream;
    o.subjects = {kSubjects};
    o.replicas = GetParam().nodes;
    o.duplicates = std::chrono::minutes(2);
    o.deadline = std::chrono::seconds(45);
    auto log = jetstream::OpenJetStreamLog(o);
    EXPECT_TRUE(log) << log.error().ToString();
    return log ? std::move(*log) : nullptr;
  }

  std::unique_ptr<Backend> backend_;
};

TEST_P(StreamLogRead, LongReplayInSeveralReadsEqualsOneRead) {
  AppendN(log(), "ev-", 1500);
  auto one = log().Read(1, 10'000);
  ASSERT_TRUE(one) << one.error().ToString();
  ASSERT_EQ(one->size(), 1500u);
  for (size_t batch : {256u, 100u, 1u}) {
    const auto pieces = ReadAll(1, batch);
    ASSERT_EQ(pieces.size(), one->size()) << "batch " << batch;
    for (size_t i = 0; i < pieces.size(); ++i) ExpectSame(pieces[i], (*one)[i]);
  }
  // One record at a time at scattered positions (the per-record path on JetStream).
  for (uint64_t seq : {1u, 2u, 700u, 1499u, 1500u}) {
    auto r = log().Read(seq, 1);
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_EQ(r->size(), 1u);
    ExpectSame(r->front(), (*one)[seq - 1]);
    EXPECT_EQ(r->front().msg.id, "ev-" + std::to_string(seq));
  }
  auto past = log().Read(1501, 256);
  ASSERT_TRUE(past);
  EXPECT_TRUE(past->empty());
  auto none = log().Read(1, 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_P(StreamLogRead, ReadAtTheEndPicksUpAnotherWritersAppends) {
  AppendN(log(), "ev-", 300);
  ASSERT_EQ(ReadAll(1, 256).size(), 300u);  // ends with an empty Read at 301
  auto other = OpenOtherWriter();
  broker::StreamLog& writer = other != nullptr ? *other : log();
  AppendN(writer, "other-", 50);
  auto r = log().Read(301, 256);
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->size(), 50u);
  EXPECT_EQ(r->front().seq, 301u);
  EXPECT_EQ(r->front().msg.id, "other-1");
  EXPECT_EQ(r->back().msg.id, "other-50");
  AppendN(writer, "more-", 400);
  const auto rest = ReadAll(351, 256);
  ASSERT_EQ(rest.size(), 400u);
  EXPECT_EQ(rest.front().msg.id, "more-1");
  EXPECT_EQ(rest.back().msg.id, "more-400");
  EXPECT_EQ(rest.back().seq, 750u);
}

TEST_P(StreamLogRead, ReadAtAnOlderPositionAfterSequentialReads) {
  AppendN(log(), "ev-", 800);
  const auto all = ReadAll(1, 256);
  ASSERT_EQ(all.size(), 800u);
  auto older = log().Read(100, 300);
  ASSERT_TRUE(older) << older.error().ToString();
  ASSERT_EQ(older->size(), 300u);
  for (size_t i = 0; i < older->size(); ++i) ExpectSame((*older)[i], all[99 + i]);
  // ... and on from there.
  auto next = log().Read(400, 1000);
  ASSERT_TRUE(next) << next.error().ToString();
  ASSERT_EQ(next->size(), 401u);
  for (size_t i = 0; i < next->size(); ++i) ExpectSame((*next)[i], all[399 + i]);
  // Windows going backwards from the end, as the forwarder's recovery reads.
  std::vector<LogRecord> backwards;
  for (uint64_t end = 800; end > 0;) {
    const uint64_t from = end > 256 ? end - 255 : 1;
    auto w = log().Read(from, end - from + 1);
    ASSERT_TRUE(w) << w.error().ToString();
    ASSERT_EQ(w->size(), end - from + 1);
    backwards.insert(backwards.begin(), w->begin(), w->end());
    end = from - 1;
  }
  ASSERT_EQ(backwards.size(), all.size());
  for (size_t i = 0; i < all.size(); ++i) ExpectSame(backwards[i], all[i]);
}

// The ingester and the audit writer read the same log object from two threads.
TEST_P(StreamLogRead, SequentialReadersOnSeveralThreads) {
  AppendN(log(), "ev-", 1000);
  const auto reference = ReadAll(1, 256);
  ASSERT_EQ(reference.size(), 1000u);
  std::vector<std::vector<LogRecord>> got(3);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 2; ++round) got[t] = ReadAll(1, t == 0 ? 256 : 64 + 50 * t);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& g : got) {
    ASSERT_EQ(g.size(), reference.size());
    for (size_t i = 0; i < g.size(); ++i) ExpectSame(g[i], reference[i]);
  }
}

std::string Name(const ::testing::TestParamInfo<BackendSpec>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Engines, StreamLogRead,
                         ::testing::Values(BackendSpec{"sqlite", 0}, BackendSpec{"jetstream_r1", 1},
                                           BackendSpec{"jetstream_r3", 3}),
                         Name);

// R3: a sequential reader continues across a SIGKILL of the stream leader (its consumer, on the
// leader, is gone): nothing skipped, nothing twice, appends made through the election included.
class StreamLogReadCluster : public StreamLogRead {};

TEST_P(StreamLogReadCluster, SequentialReadAcrossLeaderKill) {
  AppendN(log(), "ev-", 1000);
  std::vector<LogRecord> got;
  uint64_t next = 1;
  while (next <= 512) {
    auto r = log().Read(next, 256);
    ASSERT_TRUE(r) << r.error().ToString();
    ASSERT_FALSE(r->empty());
    next = r->back().seq + 1;
    got.insert(got.end(), r->begin(), r->end());
  }
  auto killed = backend_->cluster()->KillStreamLeader(kStream);
  ASSERT_TRUE(killed) << killed.error().ToString();
  AppendN(log(), "after-", 200);
  for (const auto& rec : ReadAll(next, 256)) got.push_back(rec);
  ASSERT_EQ(got.size(), 1200u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].seq, i + 1);
    EXPECT_EQ(got[i].msg.id,
              i < 1000 ? "ev-" + std::to_string(i + 1) : "after-" + std::to_string(i - 999));
  }
  ASSERT_TRUE(backend_->cluster()->Restart(*killed));
  // Right after it is healthy, the restarted former leader may answer stream info and reads for
  // a moment from its own, older copy (nats-server 2.9.10: LastSeq 1000 for up to ~0.2 s here).
  // A client connected to it only: each Read is then a shorter prefix, never a record with a
  // hole before it, another record or a changed one; it soon sees all 1200.
  jetstream::JetStreamOptions o;
  o.urls = {backend_->cluster()->urls()[*killed]};
  o.stream = kStream;
  o.create = false;
  o.deadline = std::chrono::seconds(45);
  auto fresh = jetstream::OpenJetStreamLog(o);
  ASSERT_TRUE(fresh) << fresh.error().ToString();
  size_t short_reads = 0;
  for (int attempt = 0; attempt < 200; ++attempt) {
    auto tail = (*fresh)->Read(901, 300);  // a consumer
    auto one = (*fresh)->Read(1200, 1);    // js_GetMsg
    ASSERT_TRUE(tail) << tail.error().ToString();
    ASSERT_TRUE(one) << one.error().ToString();
    for (size_t i = 0; i < tail->size(); ++i) ExpectSame((*tail)[i], got[900 + i]);
    for (const auto& rec : *one) ExpectSame(rec, got[1199]);
    if (tail->size() == 300 && one->size() == 1) break;
    ++short_reads;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polls a condition
  }
  auto last = (*fresh)->LastSeq();
  ASSERT_TRUE(last) << last.error().ToString();
  EXPECT_EQ(*last, 1200u);
  std::cout << "[ info ] " << short_reads << " short reads from the restarted node\n";
}

INSTANTIATE_TEST_SUITE_P(Engines, StreamLogReadCluster,
                         ::testing::Values(BackendSpec{"jetstream_r3", 3}), Name);

}  // namespace
}  // namespace relais::conformance
