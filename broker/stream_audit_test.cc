// The audit chain over the stream (stream_audit.h, stream_audit_verify.h) on the embedded
// StreamLog (SQLite): racing writers write the chain once, forks and tampering are reported,
// lag and holes are reported as gaps. The JetStream run is tests/conformance/stream_audit_test.cc.
#include "broker/stream_audit.h"

#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "broker/journal/sqlite_stream_log.h"
#include "broker/journal/testing/events.h"
#include "broker/stream_audit_verify.h"

namespace relais::broker {
namespace {

using namespace std::chrono_literals;

constexpr char kSubject[] = "relais-audit.test";

// A view of a log whose Read alters or hides some seqs (tampering seen by a reader), and whose
// first `fail_appends` appends answer kRetryLater.
class TamperLog final : public StreamLog {
 public:
  explicit TamperLog(StreamLog& inner) : inner_(inner) {}
  base::Result<AppendResult> Append(const LogMessage& msg) override {
    RELAIS_RETURN_IF_ERROR(Flaky());
    return inner_.Append(msg);
  }
  base::Result<AppendResult> Append(const LogMessage& msg, uint64_t expected) override {
    RELAIS_RETURN_IF_ERROR(Flaky());
    return inner_.Append(msg, expected);
  }
  base::Result<std::vector<LogRecord>> Read(uint64_t from, size_t limit) override {
    RELAIS_ASSIGN_OR_RETURN(auto records, inner_.Read(from, limit));
    std::lock_guard lock(mu_);
    std::vector<LogRecord> out;
    for (auto& r : records) {
      if (hidden_.count(r.seq) != 0) continue;
      auto it = edits.find(r.seq);
      if (it != edits.end()) it->second(r);
      out.push_back(std::move(r));
    }
    return out;
  }
  base::Result<uint64_t> LastSeq() override { return inner_.LastSeq(); }
  base::Result<std::unique_ptr<LogCursor>> OpenCursor(const CursorOptions& o) override {
    return inner_.OpenCursor(o);
  }

  std::map<uint64_t, std::function<void(LogRecord&)>> edits;
  void Hide(std::set<uint64_t> seqs) {
    std::lock_guard lock(mu_);
    hidden_ = std::move(seqs);
  }
  std::atomic<int> fail_appends{0};
  std::atomic<int> failed{0};

 private:
  base::Status Flaky() {
    if (fail_appends.load() > 0) {
      fail_appends.fetch_sub(1);
      failed.fetch_add(1);
      return base::RetryLater("stream_unavailable", "test");
    }
    return base::Ok();
  }
  StreamLog& inner_;
  std::mutex mu_;
  std::set<uint64_t> hidden_;
};

class StreamAuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto e = journal::OpenSqliteStreamLog({dir_.path() / "events.db", nullptr});
    ASSERT_TRUE(e) << e.error().ToString();
    events_ = std::move(e).value();
    auto a = journal::OpenSqliteStreamLog({dir_.path() / "audit.db", nullptr});
    ASSERT_TRUE(a) << a.error().ToString();
    audit_ = std::move(a).value();
  }

  void AppendEvents(uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) {
      LogMessage m;
      m.id = "ev-" + std::to_string(next_id_++);
      m.subject = "relais.test.t75.referral";
      m.headers = {{"Relais-Origin", "relaisd-1"}, {"Relais-Entry-Hash", "ab"}};
      m.data = base::Bytes(40, static_cast<uint8_t>(next_id_));
      ASSERT_TRUE(events_->Append(m));
    }
  }

  AuditWriterOptions Options(size_t batch = 256) {
    AuditWriterOptions o;
    o.subject = kSubject;
    o.instance = "test";
    o.poll = 5ms;
    o.batch = batch;
    o.min_backoff = 1ms;
    o.max_backoff = 5ms;
    return o;
  }

  std::unique_ptr<StreamAuditWriter> StartWriter(StreamLog& events, StreamLog& audit,
                                                 size_t batch = 256,
                                                 BrokerMetrics* metrics = nullptr) {
    auto w = StreamAuditWriter::Start(Options(batch), events, audit, metrics);
    EXPECT_TRUE(w) << w.error().ToString();
    return w ? std::move(w).value() : nullptr;
  }

  // The audit messages for events [1..n] as a writer computes them.
  std::vector<LogMessage> Expected(uint64_t n) {
    auto records = events_->Read(1, n);
    EXPECT_TRUE(records);
    std::vector<LogMessage> out;
    crypto::Digest prev = kAuditGenesis;
    for (const auto& r : *records) {
      AuditRecord a = MakeAuditRecord(r, prev);
      prev = a.chain_hash;
      out.push_back(AuditMessage(a, kSubject));
    }
    return out;
  }

  StreamAuditReport Verify(StreamLog& events, StreamLog& audit) {
    StreamAuditVerifyOptions o;
    o.chunk = 7;  // chunk boundaries inside the test ranges
    auto r = VerifyStreamAudit(events, audit, o);
    EXPECT_TRUE(r) << r.error().ToString();
    return r ? *r : StreamAuditReport{};
  }

  journal::testing::TempDir dir_;
  std::unique_ptr<StreamLog> events_;
  std::unique_ptr<StreamLog> audit_;
  int next_id_ = 1;
};

TEST_F(StreamAuditTest, RecordRoundTripsAndRejectsEveryTruncation) {
  AuditRecord r;
  r.event_seq = 42;
  r.event_id = "0123abcd";
  r.event_hash[0] = 7;
  r.chain_hash[31] = 9;
  const base::Bytes bytes = EncodeAuditRecord(r);
  auto back = DecodeAuditRecord(bytes);
  ASSERT_TRUE(back) << back.error().ToString();
  EXPECT_EQ(back->event_seq, 42u);
  EXPECT_EQ(back->event_id, "0123abcd");
  EXPECT_EQ(back->event_hash, r.event_hash);
  EXPECT_EQ(back->chain_hash, r.chain_hash);
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto cut = DecodeAuditRecord(base::ByteView(bytes.data(), n));
    ASSERT_FALSE(cut) << n;
    EXPECT_EQ(cut.error().code, "bad_audit_record");
  }
  base::Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(DecodeAuditRecord(longer));
  base::Bytes space = bytes;
  space[13] = ' ';
  EXPECT_FALSE(DecodeAuditRecord(space));
}

TEST_F(StreamAuditTest, EventHashCoversSubjectHeadersDataAndTimeButNotHeaderOrder) {
  LogRecord a;
  a.seq = 3;
  a.stored_at = 1000;
  a.msg.id = "x";
  a.msg.subject = "relais.test.a";
  a.msg.headers = {{"A", "1"}, {"B", "2"}};
  a.msg.data = {1, 2, 3};
  LogRecord b = a;
  std::swap(b.msg.headers[0], b.msg.headers[1]);
  EXPECT_EQ(AuditEventHash(a), AuditEventHash(b));
  for (auto change : std::vector<std::function<void(LogRecord&)>>{
           [](LogRecord& r) { r.seq = 4; }, [](LogRecord& r) { r.stored_at = 1001; },
           [](LogRecord& r) { r.msg.id = "y"; }, [](LogRecord& r) { r.msg.subject += "b"; },
           [](LogRecord& r) { r.msg.headers[1].second = "3"; },
           [](LogRecord& r) { r.msg.headers.pop_back(); }, [](LogRecord& r) { r.msg.data[0] = 9; },
           // Field boundaries are length-prefixed: moving a byte between fields changes the hash.
           [](LogRecord& r) {
             r.msg.headers[0] = {"A1", ""};
           }}) {
    LogRecord c = a;
    change(c);
    EXPECT_NE(AuditEventHash(a), AuditEventHash(c));
  }
}

TEST_F(StreamAuditTest, WriterCoversEveryEventOnceAndTheChainVerifies) {
  AppendEvents(600);
  BrokerMetrics metrics;
  auto w = StartWriter(*events_, *audit_, 256, &metrics);
  ASSERT_TRUE(w->WaitCovered(600, 20s));
  AppendEvents(50);
  w->Notify();
  ASSERT_TRUE(w->WaitCovered(650, 20s));
  EXPECT_FALSE(w->failed());
  EXPECT_EQ(w->written(), 650u);
  EXPECT_EQ(metrics.stream_audit_covered_seq.load(), 650u);
  EXPECT_NE(metrics.Render().find("relais_stream_audit_covered_seq 650"), std::string::npos);
  w.reset();
  auto stored = audit_->Read(1, 1000);
  ASSERT_TRUE(stored);
  auto expected = Expected(650);
  ASSERT_EQ(stored->size(), 650u);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*stored)[i].seq, i + 1);
    EXPECT_EQ((*stored)[i].msg.id, expected[i].id);
    EXPECT_EQ((*stored)[i].msg.data, expected[i].data);
  }
  StreamAuditReport report = Verify(*events_, *audit_);
  EXPECT_TRUE(report.Ok(false));
  EXPECT_EQ(report.verified, 650u);
  EXPECT_EQ(report.event_last, 650u);
  EXPECT_EQ(report.audit_last, 650u);
}

TEST_F(StreamAuditTest, RestartedWriterContinuesAfterTheStoredChain) {
  AppendEvents(100);
  auto w = StartWriter(*events_, *audit_);
  ASSERT_TRUE(w->WaitCovered(100, 20s));
  w.reset();
  AppendEvents(30);
  w = StartWriter(*events_, *audit_);
  ASSERT_TRUE(w->WaitCovered(130, 20s));
  EXPECT_EQ(w->written(), 30u);
  w.reset();
  EXPECT_TRUE(Verify(*events_, *audit_).Ok(false));
}

TEST_F(StreamAuditTest, TwoRacingWritersWriteTheChainOnceWithoutFork) {
  AppendEvents(300);
  // Small batches and a producer appending meanwhile: the writers overtake each other often.
  auto a = StartWriter(*events_, *audit_, 16);
  auto b = StartWriter(*events_, *audit_, 5);
  std::thread producer([&] {
    for (int i = 0; i < 20; ++i) {
      AppendEvents(25);
      a->Notify();
      b->Notify();
    }
  });
  producer.join();
  ASSERT_TRUE(a->WaitCovered(800, 30s));
  ASSERT_TRUE(b->WaitCovered(800, 30s));
  EXPECT_FALSE(a->failed());
  EXPECT_FALSE(b->failed());
  EXPECT_EQ(a->written() + b->written(), 800u);
  std::cout << "written by a: " << a->written() << ", by b: " << b->written() << "\n";
  a.reset();
  b.reset();
  auto last = audit_->LastSeq();
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, 800u);
  StreamAuditReport report = Verify(*events_, *audit_);
  EXPECT_TRUE(report.Ok(false));
  EXPECT_EQ(report.verified, 800u);
}

TEST_F(StreamAuditTest, WriterRetriesAnUnavailableStreamWithTheSameMessages) {
  AppendEvents(20);
  TamperLog flaky(*audit_);
  flaky.fail_appends = 6;
  auto w = StartWriter(*events_, flaky);
  ASSERT_TRUE(w->WaitCovered(20, 20s));
  EXPECT_EQ(flaky.failed.load(), 6);
  EXPECT_EQ(w->written(), 20u);
  w.reset();
  EXPECT_TRUE(Verify(*events_, *audit_).Ok(false));
}

TEST_F(StreamAuditTest, AnUnreadableEventStallsTheWriterWithoutFailingIt) {
  AppendEvents(10);
  TamperLog events(*events_);
  events.Hide({6});  // e.g. a stale read from a replica that has just restarted
  auto w = StartWriter(events, *audit_);
  ASSERT_TRUE(w->WaitCovered(5, 20s));
  EXPECT_FALSE(w->WaitCovered(6, 200ms));
  EXPECT_FALSE(w->failed());
  events.Hide({});
  ASSERT_TRUE(w->WaitCovered(10, 20s));
  w.reset();
  EXPECT_TRUE(Verify(*events_, *audit_).Ok(false));
}

TEST_F(StreamAuditTest, WriterStopsOnAForgedAuditMessageWrittenByAnother) {
  AppendEvents(5);
  auto w = StartWriter(*events_, *audit_);
  ASSERT_TRUE(w->WaitCovered(5, 20s));
  // Another "writer" stores audit seq 6 for an event 6 it invented.
  AuditRecord forged;
  forged.event_seq = 6;
  forged.event_id = "ev-6";
  forged.chain_hash[0] = 1;
  ASSERT_TRUE(audit_->Append(AuditMessage(forged, kSubject), 5));
  AppendEvents(3);
  w->Notify();
  for (int i = 0; i < 2000 && !w->failed(); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(w->failed());
  EXPECT_EQ(w->failure()->code, "audit_fork");
  EXPECT_EQ(w->covered(), 5u);
}

TEST_F(StreamAuditTest, WriterRefusesToStartOnALastRecordOfAnotherEvent) {
  AppendEvents(3);
  auto expected = Expected(3);
  ASSERT_TRUE(audit_->Append(expected[0], 0));
  AuditRecord wrong = *DecodeAuditRecord(expected[1].data);
  wrong.event_hash[5] ^= 1;
  ASSERT_TRUE(audit_->Append(AuditMessage(wrong, kSubject), 1));
  BrokerMetrics metrics;
  auto w = StartWriter(*events_, *audit_, 256, &metrics);
  for (int i = 0; i < 2000 && !w->failed(); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(w->failed());
  EXPECT_EQ(w->failure()->code, "audit_fork");
  EXPECT_EQ(metrics.stream_audit_failed.load(), 1u);
}

TEST_F(StreamAuditTest, VerifierReportsLagAsNotCoveredGap) {
  AppendEvents(10);
  auto w = StartWriter(*events_, *audit_);
  ASSERT_TRUE(w->WaitCovered(10, 20s));
  w.reset();
  AppendEvents(5);
  StreamAuditReport report = Verify(*events_, *audit_);
  ASSERT_EQ(report.gaps.size(), 1u);
  EXPECT_EQ(report.gaps[0].kind, "not_covered");
  EXPECT_EQ(report.gaps[0].from, 11u);
  EXPECT_EQ(report.gaps[0].to, 15u);
  EXPECT_EQ(report.NotCovered(), 5u);
  EXPECT_TRUE(report.findings.empty());
  EXPECT_TRUE(report.Ok(true));
  EXPECT_FALSE(report.Ok(false));
}

TEST_F(StreamAuditTest, VerifierReportsAForgedChainAndAChangedEvent) {
  AppendEvents(12);
  auto expected = Expected(12);
  // seq 4: a record for another event, chained consistently (forged); from seq 5 on, the chain
  // continues from the forged hash, so only seq 4 is reported.
  crypto::Digest prev = kAuditGenesis;
  for (uint64_t i = 0; i < 12; ++i) {
    AuditRecord r = *DecodeAuditRecord(expected[i].data);
    if (i == 3) r.event_hash[0] ^= 0x80;
    r.chain_hash = AuditChainHash(prev, r.event_hash);
    prev = r.chain_hash;
    ASSERT_TRUE(audit_->Append(AuditMessage(r, kSubject), i));
  }
  TamperLog events(*events_);
  events.edits[9] = [](LogRecord& r) { r.msg.data[3] ^= 1; };              // a changed event
  events.edits[11] = [](LogRecord& r) { r.msg.headers[0].second = "x"; };  // a changed header
  StreamAuditReport report = Verify(events, *audit_);
  ASSERT_EQ(report.findings.size(), 3u);
  EXPECT_EQ(report.findings[0].seq, 4u);
  EXPECT_EQ(report.findings[0].finding, "event_hash_mismatch");
  EXPECT_EQ(report.findings[1].seq, 9u);
  EXPECT_EQ(report.findings[2].seq, 11u);
  EXPECT_EQ(report.verified, 9u);
  EXPECT_TRUE(report.gaps.empty());
  EXPECT_FALSE(report.Ok(true));
}

TEST_F(StreamAuditTest, VerifierReportsABrokenLinkAndResumesAfterIt) {
  AppendEvents(10);
  auto w = StartWriter(*events_, *audit_);
  ASSERT_TRUE(w->WaitCovered(10, 20s));
  w.reset();
  TamperLog audit(*audit_);
  // seq 6's chain hash replaced (headers kept in agreement): 6 and 7 do not link.
  audit.edits[6] = [](LogRecord& r) {
    AuditRecord a = *DecodeAuditRecord(r.msg.data);
    a.chain_hash[0] ^= 1;
    r.msg = AuditMessage(a, kSubject);
  };
  audit.edits[8] = [](LogRecord& r) { r.msg.data.pop_back(); };  // undecodable
  StreamAuditReport report = Verify(*events_, audit);
  ASSERT_EQ(report.findings.size(), 3u);
  EXPECT_EQ(report.findings[0].seq, 6u);
  EXPECT_EQ(report.findings[0].finding, "chain_mismatch");
  EXPECT_EQ(report.findings[1].seq, 7u);
  EXPECT_EQ(report.findings[1].finding, "chain_mismatch");
  EXPECT_EQ(report.findings[2].seq, 8u);
  EXPECT_EQ(report.findings[2].finding, "bad_audit_record");
  EXPECT_EQ(report.verified, 7u);  // 9 is not linked (its predecessor unknown) but verified
}

TEST_F(StreamAuditTest, VerifierReportsHolesInEitherStreamAsRanges) {
  AppendEvents(20);
  auto w = StartWriter(*events_, *audit_);
  ASSERT_TRUE(w->WaitCovered(20, 20s));
  w.reset();
  TamperLog audit(*audit_);
  audit.Hide({5, 6, 7});
  TamperLog events(*events_);
  events.Hide({12});
  StreamAuditReport report = Verify(events, audit);
  ASSERT_EQ(report.gaps.size(), 2u);
  EXPECT_EQ(report.gaps[0].kind, "missing_audit");
  EXPECT_EQ(report.gaps[0].from, 5u);
  EXPECT_EQ(report.gaps[0].to, 7u);
  EXPECT_EQ(report.gaps[1].kind, "audit_without_event");
  EXPECT_EQ(report.gaps[1].from, 12u);
  EXPECT_EQ(report.gaps[1].to, 12u);
  EXPECT_TRUE(report.findings.empty());
  EXPECT_FALSE(report.Ok(true));
}

TEST_F(StreamAuditTest, VerifierReportsAuditMessagesBeyondTheEventStream) {
  AppendEvents(3);
  auto expected = Expected(3);
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(audit_->Append(expected[i], i));
  AuditRecord extra = *DecodeAuditRecord(expected[2].data);
  extra.event_seq = 4;
  extra.chain_hash = AuditChainHash(extra.chain_hash, extra.event_hash);
  ASSERT_TRUE(audit_->Append(AuditMessage(extra, kSubject), 3));
  StreamAuditReport report = Verify(*events_, *audit_);
  ASSERT_EQ(report.gaps.size(), 1u);
  EXPECT_EQ(report.gaps[0].kind, "audit_without_event");
  EXPECT_EQ(report.gaps[0].from, 4u);
  EXPECT_EQ(report.verified, 3u);
}

}  // namespace
}  // namespace relais::broker
