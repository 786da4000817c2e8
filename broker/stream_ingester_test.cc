// StreamIngester against the embedded StreamLog (SQLite) and an in-memory case key store: another
// instance ("r1") forwards its journal and an acknowledgement into the stream; this instance
// ("r2") reads them back in stream order with the sealed parts opened, skips its own records,
// reads a record again when the broker could not store it, and hands over events of a destroyed
// case key without their sealed bytes. The cross-process test with two relaisd is
// tests/integration/multi_instance_test.cc.
#include "broker/stream_ingester.h"

#include <gtest/gtest.h>

#include <thread>

#include "broker/journal/sqlite_stream_log.h"
#include "broker/journal/testing/fixture.h"
#include "broker/memory_case_keys.h"
#include "broker/stream_forwarder.h"

namespace relais::broker {
namespace {

using namespace std::chrono_literals;

class StreamIngesterTest : public journal::testing::JournalFixture {
 protected:
  void SetUp() override {
    local_ = Open();  // r2's journal (empty: nothing ingested yet)
    journal::JournalOptions o = Options();
    o.path = dir_.path() / "other.db";
    other_ = Open(o);
    auto log = journal::OpenSqliteStreamLog({dir_.path() / "stream.db", nullptr});
    ASSERT_TRUE(log) << log.error().ToString();
    log_ = std::move(log).value();
  }

  crypto::AtRestKey Secret() { return crypto::AtRestKey(crypto::Secret::Copy(secret_bytes_)); }

  // r1 forwards its first `n` entries (and the acks queued by `acks`).
  void ForwardOther(uint64_t n, const std::function<void(StreamForwarder&)>& acks = nullptr) {
    ForwarderOptions o;
    o.journal = dir_.path() / "other.db";
    o.naming = {"dep", "t75", "r1"};
    o.poll = 5ms;
    auto f = StreamForwarder::Start(o, *log_, keys_, Secret(), nullptr);
    ASSERT_TRUE(f) << f.error().ToString();
    ASSERT_TRUE((*f)->WaitForwarded(n, 10s));
    if (acks) {
      auto before = log_->LastSeq();
      acks(**f);
      for (int i = 0; i < 400 && *log_->LastSeq() == *before; ++i) std::this_thread::sleep_for(5ms);
    }
  }

  std::unique_ptr<StreamIngester> StartIngester() {
    IngesterOptions o;
    o.journal = db_path();
    o.naming = {"dep", "t75", "r2"};
    o.poll = 5ms;
    o.batch = 3;  // several batches per test
    o.min_backoff = 1ms;
    o.max_backoff = 4ms;
    auto i = StreamIngester::Start(o, *log_, keys_, Secret(), &metrics_);
    EXPECT_TRUE(i) << i.error().ToString();
    return i ? std::move(i).value() : nullptr;
  }

  // Takes `n` records from the ingester, answering each with `ok(record)`.
  std::vector<IngestedRecord> Take(StreamIngester& ingester, size_t n,
                                   const std::function<bool(const IngestedRecord&)>& ok,
                                   std::chrono::milliseconds timeout = 10s) {
    std::vector<IngestedRecord> out;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n && std::chrono::steady_clock::now() < end) {
      for (auto& r : ingester.records().Drain()) {
        ingester.Done(r.stream_seq, ok(r));
        out.push_back(std::move(r));
      }
      std::this_thread::sleep_for(2ms);
    }
    return out;
  }

  journal::testing::EventSpec Spec(const std::string& case_ref) {
    journal::testing::EventSpec s;
    s.case_ref = case_ref;
    s.body_marker = "CANARY-BODY-TEXT";
    return s;
  }

  std::unique_ptr<journal::Journal> local_;
  std::unique_ptr<journal::Journal> other_;
  std::unique_ptr<StreamLog> log_;
  MemoryKeys keys_;
  BrokerMetrics metrics_;
  base::Bytes secret_bytes_ = crypto::RandomBytes(crypto::kAtRestKeySize);
};

TEST_F(StreamIngesterTest, ReadsTheOtherInstancesEventsAndAcksInStreamOrderAndSkipsItsOwn) {
  auto events = AppendMany(*other_, 4, Spec("c-one"));
  ForwardOther(4, [](StreamForwarder& f) { f.QueueAck("siao-75", 2); });
  // A well-formed record of r2 itself (a copy of r1's first with r2 as origin): skipped.
  auto first = log_->Read(1, 1);
  ASSERT_TRUE(first && first->size() == 1);
  LogMessage own = (*first)[0].msg;
  own.id = "own-1";
  for (auto& [k, v] : own.headers) {
    if (k == kHeaderOrigin) v = "r2";
  }
  ASSERT_TRUE(log_->Append(own));

  auto ingester = StartIngester();
  ASSERT_TRUE(ingester);
  // Waits a little for a sixth record, which must not come.
  auto got = Take(
      *ingester, 6, [](const IngestedRecord&) { return true; }, 1500ms);
  ASSERT_EQ(got.size(), 5u) << "r2's own record was handed over";
  auto reader = journal::JournalReader::Open({dir_.path() / "other.db", ""});
  ASSERT_TRUE(reader);
  uint64_t last = 0;
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_TRUE(got[i].event.has_value()) << i;
    EXPECT_GT(got[i].stream_seq, last);
    last = got[i].stream_seq;
    auto stored = (*reader)->Get(events[i].seq);
    ASSERT_TRUE(stored && *stored);
    EXPECT_EQ(*got[i].event, (*stored)->envelope) << "the sealed part opened with the case key";
    EXPECT_FALSE(got[i].event->body.empty());
  }
  ASSERT_TRUE(got[4].ack.has_value());
  EXPECT_EQ(got[4].ack->agency, "siao-75");
  auto second = (*reader)->Get(events[1].seq);
  EXPECT_EQ(got[4].ack->event_id, (*second)->event_id);
  ASSERT_TRUE(ingester->WaitIngested(*log_->LastSeq(), 5s));
  EXPECT_EQ(metrics_.stream_ingested_seq.load(), *log_->LastSeq());
}

TEST_F(StreamIngesterTest, ARecordTheBrokerCouldNotStoreIsReadAgain) {
  AppendMany(*other_, 2, Spec("c-two"));
  ForwardOther(2);
  auto ingester = StartIngester();
  ASSERT_TRUE(ingester);
  bool refused = false;
  auto got = Take(*ingester, 3, [&](const IngestedRecord& r) {
    if (r.stream_seq == 2 && !refused) {
      refused = true;  // e.g. the local disk was full
      return false;
    }
    return true;
  });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].stream_seq, 1u);
  EXPECT_EQ(got[1].stream_seq, 2u);
  EXPECT_EQ(got[2].stream_seq, 2u) << "read again from the refused record";
  EXPECT_TRUE(ingester->WaitIngested(2, 5s));
}

TEST_F(StreamIngesterTest, EventsOfADestroyedCaseKeyComeWithoutTheirSealedBytes) {
  AppendMany(*other_, 1, Spec("c-kept"));
  AppendMany(*other_, 1, Spec("c-withdrawn"));
  ForwardOther(2);
  ASSERT_TRUE(keys_.Destroy(CaseKeyName(Secret(), "c-withdrawn")));
  auto ingester = StartIngester();
  ASSERT_TRUE(ingester);
  auto got = Take(*ingester, 2, [](const IngestedRecord&) { return true; });
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(got[0].event && got[1].event);
  EXPECT_FALSE(got[0].event->body.empty());
  EXPECT_TRUE(got[1].event->body.empty());
  EXPECT_TRUE(got[1].event->wraps.empty());
  EXPECT_FALSE(got[1].event->signature.empty()) << "the signed header stays";
}

TEST_F(StreamIngesterTest, StartsShortlyBeforeTheLastStreamSeqStoredLocally) {
  auto request = journal::testing::MakeRequest(Spec("c-foreign"));
  request.mutations.push_back(journal::FromStream{5000});
  AppendOk(*local_, std::move(request));
  IngesterOptions o;
  o.journal = db_path();
  o.naming = {"dep", "t75", "r2"};
  o.rewind = 1024;
  auto i = StreamIngester::Start(o, *log_, keys_, Secret(), nullptr);
  ASSERT_TRUE(i) << i.error().ToString();
  EXPECT_EQ((*i)->ingested(), 5000u - 1024u);
}

}  // namespace
}  // namespace relais::broker
