// StreamForwarder and the stream payload against the embedded StreamLog (SQLite) and an in-memory
// case key store: journal order, high-water recovery from the stream, retries with the same id,
// fail-stop, crypto-shredding. The cross-process test on a real JetStream cluster is
// tests/integration/stream_replication_test.cc.
#include "broker/stream_forwarder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <map>
#include <set>
#include <thread>

#include "broker/journal/sqlite_stream_log.h"
#include "broker/journal/testing/fixture.h"
#include "broker/memory_case_keys.h"
#include "crypto/random.h"

namespace relais::broker {
namespace {

using namespace std::chrono_literals;

// A StreamLog that fails the first `fail` appends with `error` (and records every attempt's id).
class FlakyLog final : public StreamLog {
 public:
  FlakyLog(StreamLog& inner, int fail, base::Error error)
      : inner_(inner), fail_(fail), error_(std::move(error)) {}
  base::Result<AppendResult> Append(const LogMessage& msg) override {
    attempts_.push_back(msg.id);
    if (fail_ > 0) {
      --fail_;
      return error_;
    }
    return inner_.Append(msg);
  }
  base::Result<AppendResult> Append(const LogMessage& msg, uint64_t expected) override {
    return inner_.Append(msg, expected);
  }
  base::Result<std::vector<LogRecord>> Read(uint64_t from, size_t limit) override {
    return inner_.Read(from, limit);
  }
  base::Result<uint64_t> LastSeq() override { return inner_.LastSeq(); }
  base::Result<std::unique_ptr<LogCursor>> OpenCursor(const CursorOptions& o) override {
    return inner_.OpenCursor(o);
  }
  const std::vector<std::string>& attempts() const { return attempts_; }

 private:
  StreamLog& inner_;
  int fail_;
  base::Error error_;
  std::vector<std::string> attempts_;  // forwarder thread only; read after it is done
};

std::string Header(const LogMessage& m, const std::string& name) {
  for (const auto& [k, v] : m.headers) {
    if (k == name) return v;
  }
  return "";
}

class StreamForwarderTest : public journal::testing::JournalFixture {
 protected:
  void SetUp() override {
    journal_ = Open();
    auto log = journal::OpenSqliteStreamLog({dir_.path() / "stream.db", nullptr});
    ASSERT_TRUE(log) << log.error().ToString();
    log_ = std::move(log).value();
  }

  crypto::AtRestKey Secret() { return crypto::AtRestKey(crypto::Secret::Copy(secret_bytes_)); }

  std::unique_ptr<StreamForwarder> StartForwarder(StreamLog& log) {
    ForwarderOptions o;
    o.journal = db_path();
    o.naming = {"dep", "t75", "r1"};
    o.poll = 5ms;
    o.batch = 4;  // several batches per test
    o.min_backoff = 1ms;
    o.max_backoff = 4ms;
    auto f = StreamForwarder::Start(o, log, keys_, Secret(), &metrics_);
    EXPECT_TRUE(f) << f.error().ToString();
    return f ? std::move(f).value() : nullptr;
  }

  std::vector<std::string> JournalIds() {
    std::vector<std::string> ids;
    EXPECT_TRUE(Reader()->ForEachFrom(
        1,
        [&](const journal::StoredEntry& e) {
          ids.push_back(base::HexEncode(e.event_id));
          return true;
        },
        journal::ReadScope::kMetadata));
    return ids;
  }

  std::vector<LogRecord> Stream() {
    auto r = log_->Read(1, 100000);
    EXPECT_TRUE(r);
    return r ? std::move(r).value() : std::vector<LogRecord>{};
  }

  journal::testing::EventSpec Spec(const std::string& case_ref) {
    journal::testing::EventSpec s;
    s.case_ref = case_ref;
    s.body_marker = "CANARY-BODY-TEXT";
    return s;
  }

  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<StreamLog> log_;
  MemoryKeys keys_;
  BrokerMetrics metrics_;
  base::Bytes secret_bytes_ = crypto::RandomBytes(crypto::kAtRestKeySize);
};

TEST_F(StreamForwarderTest, ForwardsInJournalOrderAndResumesAfterTheStreamsHighWaterMark) {
  AppendMany(*journal_, 6, Spec("c-first"));
  auto f = StartForwarder(*log_);
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->WaitForwarded(6, 10s));
  f.reset();
  AppendMany(*journal_, 5, Spec("c-second"));
  f = StartForwarder(*log_);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->forwarded(), 6u) << "recovered from the stream";
  ASSERT_TRUE(f->WaitForwarded(11, 10s));
  EXPECT_EQ(metrics_.stream_forwarded_seq.load(), 11u);
  EXPECT_EQ(metrics_.stream_forward_duplicates.load(), 0u);

  auto records = Stream();
  std::vector<std::string> ids;
  for (const auto& r : records) {
    ids.push_back(r.msg.id);
    EXPECT_EQ(r.msg.subject, "relais.dep.t75.referral");
    EXPECT_EQ(Header(r.msg, kHeaderOrigin), "r1");
    EXPECT_EQ(Header(r.msg, kHeaderOriginSeq), std::to_string(ids.size()));
    EXPECT_EQ(Header(r.msg, kHeaderSealed), "case-key");
    EXPECT_EQ(Header(r.msg, kHeaderEmitter), "hopital-nord");
    EXPECT_EQ(Header(r.msg, kHeaderEntryHash).size(), 64u);
    for (const auto& [k, v] : r.msg.headers) EXPECT_EQ(v.find("c-first"), std::string::npos);
    // The body is not in the stream in the clear.
    const std::string data(r.msg.data.begin(), r.msg.data.end());
    EXPECT_EQ(data.find("CANARY-BODY-TEXT"), std::string::npos);
  }
  EXPECT_EQ(ids, JournalIds());
  EXPECT_EQ(keys_.size(), 2u);  // one key per case
}

// A failover inside a pipelined batch may leave a later entry stored and an earlier one not, and
// the instance may crash before resending it: recovery resumes before the gap, not after the last.
TEST_F(StreamForwarderTest, RecoveryResumesBeforeAGapInTheLastBatch) {
  AppendMany(*journal_, 6, Spec("c-gap"));
  const auto ids = JournalIds();
  ASSERT_EQ(ids.size(), 6u);
  for (int origin_seq : {1, 2, 3, 5}) {  // 4 never made it; 5 was stored by the first pass
    LogMessage m;
    m.id = ids[origin_seq - 1];
    m.subject = "relais.dep.t75.referral";
    m.headers = {{kHeaderOrigin, "r1"}, {kHeaderOriginSeq, std::to_string(origin_seq)}};
    m.data = base::ToBytes("stored-before-the-crash");
    ASSERT_TRUE(log_->Append(m));
  }
  auto f = StartForwarder(*log_);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->forwarded(), 3u) << "resumes before the missing entry 4, not after 5";
  ASSERT_TRUE(f->WaitForwarded(6, 10s));
  EXPECT_EQ(metrics_.stream_forward_duplicates.load(), 1u);  // 5, resent
  std::multiset<std::string> stored;
  for (const auto& r : Stream()) stored.insert(r.msg.id);
  EXPECT_EQ(stored, std::multiset<std::string>(ids.begin(), ids.end()));  // each exactly once
}

TEST_F(StreamForwarderTest, PayloadOpensWithTheCaseKeyOnlyAndKeepsTheSignedHeaderReadable) {
  AppendMany(*journal_, 1, Spec("c-open"));
  auto f = StartForwarder(*log_);
  ASSERT_TRUE(f && f->WaitForwarded(1, 10s));
  auto rec = Stream().at(0);
  auto entry = Reader()->Get(1);
  ASSERT_TRUE(entry && *entry);
  auto plain = DecodeStreamPayload(rec.msg.data, nullptr);
  ASSERT_TRUE(plain) << plain.error().ToString();
  EXPECT_TRUE(plain->had_sealed);
  EXPECT_FALSE(plain->opened);
  EXPECT_EQ(plain->envelope.header, (*entry)->envelope.header);
  EXPECT_TRUE(plain->envelope.body.empty());
  auto key = keys_.Get(CaseKeyName(Secret(), "c-open"));
  ASSERT_TRUE(key && *key);
  auto full = DecodeStreamPayload(rec.msg.data, &**key);
  ASSERT_TRUE(full) << full.error().ToString();
  EXPECT_EQ(full->envelope, (*entry)->envelope);
  crypto::AtRestKey wrong(crypto::Secret::Copy(crypto::RandomBytes(crypto::kAtRestKeySize)));
  EXPECT_FALSE(DecodeStreamPayload(rec.msg.data, &wrong));
  base::Bytes garbage = rec.msg.data;
  garbage.resize(10);
  auto bad = DecodeStreamPayload(garbage, nullptr);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "bad_stream_payload");
  // Key names do not contain the case ref and depend on the secret.
  const std::string name = CaseKeyName(Secret(), "c-open");
  EXPECT_EQ(name.find("c-open"), std::string::npos);
  EXPECT_NE(name, CaseKeyName(wrong, "c-open"));
}

TEST_F(StreamForwarderTest, RetriesTheSameIdWhileTheStreamIsUnavailable) {
  AppendMany(*journal_, 3, Spec("c-retry"));
  FlakyLog flaky(*log_, 4, base::RetryLater("stream_unavailable", "election"));
  auto f = StartForwarder(flaky);
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->WaitForwarded(3, 10s));
  f.reset();
  ASSERT_EQ(flaky.attempts().size(), 7u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(flaky.attempts()[i], flaky.attempts()[0]);
  EXPECT_EQ(metrics_.stream_forward_retries.load(), 4u);
  std::vector<std::string> ids;
  for (const auto& r : Stream()) ids.push_back(r.msg.id);
  EXPECT_EQ(ids, JournalIds());
}

TEST_F(StreamForwarderTest, StopsForwardingOnAPermanentError) {
  AppendMany(*journal_, 2, Spec("c-fail"));
  FlakyLog broken(*log_, 1000, base::FailStop("stream_failed", "disk"));
  auto f = StartForwarder(broken);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->WaitForwarded(1, 5s));
  EXPECT_TRUE(f->failed());
  EXPECT_EQ(metrics_.stream_forward_failed.load(), 1u);
  f.reset();
  EXPECT_EQ(broken.attempts().size(), 1u);
  EXPECT_TRUE(Stream().empty());
}

TEST_F(StreamForwarderTest, ShredDestroysTheCaseKeyAndLaterEntriesGoWithoutSealedBytes) {
  AppendMany(*journal_, 2, Spec("c-gone"));
  AppendMany(*journal_, 1, Spec("c-kept"));
  auto f = StartForwarder(*log_);
  ASSERT_TRUE(f && f->WaitForwarded(3, 10s));
  std::promise<base::Status> done;
  f->Shred("c-gone", [&](base::Status st) { done.set_value(std::move(st)); });
  ASSERT_TRUE(done.get_future().get());
  EXPECT_EQ(metrics_.stream_keys_destroyed.load(), 1u);
  auto gone = keys_.Get(CaseKeyName(Secret(), "c-gone"));
  ASSERT_TRUE(gone);
  EXPECT_FALSE(gone->has_value());
  auto kept = keys_.Get(CaseKeyName(Secret(), "c-kept"));
  ASSERT_TRUE(kept && kept->has_value());
  AppendMany(*journal_, 1, Spec("c-gone"));  // e.g. a purge request after the withdrawal
  ASSERT_TRUE(f->WaitForwarded(4, 10s));
  auto rec = Stream().at(3);
  EXPECT_EQ(Header(rec.msg, kHeaderSealed), "withheld");
  auto plain = DecodeStreamPayload(rec.msg.data, nullptr);
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->had_sealed);
}

// Entries ingested from the stream (other instances' events) are never sent back, also after a
// restart whose high-water mark is found among them.
TEST_F(StreamForwarderTest, EntriesIngestedFromTheStreamAreNotSentBack) {
  AppendMany(*journal_, 2, Spec("c-local"));
  for (uint64_t stream_seq : {101, 102, 103}) {
    auto request = journal::testing::MakeRequest(Spec("c-foreign"));
    request.mutations.push_back(journal::FromStream{stream_seq});
    AppendOk(*journal_, std::move(request));
  }
  AppendMany(*journal_, 1, Spec("c-local"));
  auto f = StartForwarder(*log_);
  ASSERT_TRUE(f);
  ASSERT_TRUE(f->WaitForwarded(6, 10s));
  f.reset();
  AppendMany(*journal_, 1, Spec("c-local"));
  f = StartForwarder(*log_);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->forwarded(), 6u) << "the ingested entries after the last own one count as sent";
  ASSERT_TRUE(f->WaitForwarded(7, 10s));
  const auto ids = JournalIds();
  std::vector<std::string> stream_ids;
  for (const auto& r : Stream()) stream_ids.push_back(r.msg.id);
  EXPECT_EQ(stream_ids, (std::vector<std::string>{ids[0], ids[1], ids[5], ids[6]}));
  EXPECT_EQ(metrics_.stream_forward_duplicates.load(), 0u);
}

// An acknowledgement is sent once its entry is in the stream, never before it, with the event id
// and the agency in its headers and an idempotent id.
TEST_F(StreamForwarderTest, AcknowledgementsFollowTheirEntryIntoTheStream) {
  AppendMany(*journal_, 3, Spec("c-acked"));
  const auto ids = JournalIds();
  auto f = StartForwarder(*log_);
  ASSERT_TRUE(f);
  f->QueueAck("siao-75", 3);
  f->QueueAck("asso-abri", 1);
  ASSERT_TRUE(f->WaitForwarded(3, 10s));
  std::vector<LogRecord> records;
  for (int i = 0; i < 200 && records.size() < 5; ++i) {
    std::this_thread::sleep_for(5ms);
    records = Stream();
  }
  ASSERT_EQ(records.size(), 5u);
  std::map<std::string, uint64_t> event_seq;
  for (const auto& r : records) {
    auto ack = DecodeAckMessage(r.msg);
    ASSERT_TRUE(ack) << ack.error().ToString();
    if (!*ack) {
      event_seq[r.msg.id] = r.seq;
      continue;
    }
    const std::string hex = base::HexEncode((*ack)->event_id);
    ASSERT_EQ(event_seq.count(hex), 1u) << "ack before its event";
    EXPECT_EQ(r.msg.id, "ack-" + hex + "-" + (*ack)->agency);
    EXPECT_EQ(r.msg.subject, "relais.dep.t75.delivery_acked");
    EXPECT_EQ(Header(r.msg, kHeaderOrigin), "r1");
    EXPECT_EQ(hex, (*ack)->agency == "siao-75" ? ids[2] : ids[0]);
  }
  EXPECT_EQ(metrics_.stream_acks_forwarded.load(), 2u);
}

}  // namespace
}  // namespace relais::broker
