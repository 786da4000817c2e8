// The audit chain over the stream (broker/stream_audit.h) on real JetStream, R1 and R3, started
// here: two writers on their own connections (two relaisd) write the chain once; the
// `relais audit verify --stream-url` CLI passes it, reports the writer's lag as a gap and a forged
// audit message as a finding (exit codes 0 / 2 / 1); on R3 the writers carry on across a SIGKILL
// of the audit stream's leader. A missing nats-server FAILS these tests.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "broker/jetstream/jetstream_stream_log.h"
#include "broker/stream_audit.h"
#include "broker/stream_audit_verify.h"
#include "tests/conformance/backend.h"

namespace relais::conformance {
namespace {

using namespace std::chrono_literals;

constexpr char kEvents[] = "RELAIS_AUDITTEST";
constexpr char kAudit[] = "RELAIS_AUDITTEST_AUDIT";
constexpr char kAuditSubject[] = "relais-audit.test";

// Servers started per test: `nodes` 1 (R1) or 3 (R3).
class AuditOnJetStream {
 protected:
  explicit AuditOnJetStream(int nodes) : nodes_(nodes) {}
  void StartCluster() {
    auto c = testing::NatsCluster::Start(nodes_, dir_.path());
    ASSERT_TRUE(c) << c.error().ToString();
    cluster_ = std::move(c).value();
  }

  std::unique_ptr<broker::StreamLog> Open(const std::string& stream, const std::string& subject) {
    jetstream::JetStreamOptions o;
    o.urls = cluster_->urls();
    o.stream = stream;
    o.subjects = {subject};
    o.replicas = nodes_;
    o.deadline = 45s;  // a leader election on a loaded 2-core machine
    auto log = jetstream::OpenJetStreamLog(o);
    EXPECT_TRUE(log) << log.error().ToString();
    return log ? std::move(log).value() : nullptr;
  }

  // One relaisd's view: its own connections to both streams and its writer.
  struct Instance {
    std::unique_ptr<broker::StreamLog> events;
    std::unique_ptr<broker::StreamLog> audit;
    std::unique_ptr<broker::StreamAuditWriter> writer;
  };
  Instance StartInstance(const std::string& name) {
    Instance i;
    i.events = Open(kEvents, kSubjects);
    i.audit = Open(kAudit, kAuditSubject);
    broker::AuditWriterOptions o;
    o.subject = kAuditSubject;
    o.instance = name;
    o.poll = 20ms;
    auto w = broker::StreamAuditWriter::Start(o, *i.events, *i.audit, nullptr);
    EXPECT_TRUE(w) << w.error().ToString();
    if (w) i.writer = std::move(w).value();
    return i;
  }

  void AppendEvents(broker::StreamLog& log, int n) {
    std::vector<broker::LogMessage> batch;
    for (int k = 0; k < n; ++k) {
      broker::LogMessage m;
      m.id = "ev-" + std::to_string(next_++);
      m.subject = "relais.test.t75.referral";
      m.headers = {{"Relais-Origin", "relaisd-1"}, {"Relais-Schema", "1"}};
      m.data = base::ToBytes("sealed-" + m.id);
      batch.push_back(std::move(m));
    }
    auto r = log.AppendBatch(batch);
    ASSERT_TRUE(r) << r.error().ToString();
  }

  testing::CommandResult Cli(std::vector<std::string> extra) {
    std::string urls;
    for (const auto& u : cluster_->urls()) urls += (urls.empty() ? "" : ",") + u;
    std::vector<std::string> argv = {testing::RelaisBin(), "audit", "verify", "--stream-url", urls,
                                     "--stream-name",      kEvents};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return testing::RunCommand(argv);
  }

  const int nodes_;
  testing::TempDir dir_;
  std::unique_ptr<testing::NatsCluster> cluster_;
  int next_ = 1;
};

std::string Describe(const broker::StreamAuditReport& r) {
  std::string out =
      "events " + std::to_string(r.event_last) + ", audit " + std::to_string(r.audit_last) + "\n";
  for (const auto& f : r.findings) out += std::to_string(f.seq) + " " + f.finding + "\n";
  for (const auto& g : r.gaps) {
    out += std::to_string(g.from) + "-" + std::to_string(g.to) + " " + g.kind + "\n";
  }
  return out;
}

class StreamAuditJetStream : public AuditOnJetStream, public ::testing::TestWithParam<BackendSpec> {
 protected:
  StreamAuditJetStream() : AuditOnJetStream(GetParam().nodes) {}
  void SetUp() override { StartCluster(); }
};

class StreamAuditR3 : public AuditOnJetStream, public ::testing::Test {
 protected:
  StreamAuditR3() : AuditOnJetStream(3) {}
  void SetUp() override { StartCluster(); }
};

TEST_P(StreamAuditJetStream, TwoWritersWriteTheChainOnceAndTheCliVerifiesIt) {
  auto producer = Open(kEvents, kSubjects);
  ASSERT_NE(producer, nullptr);
  AppendEvents(*producer, 300);
  const auto start = std::chrono::steady_clock::now();
  Instance a = StartInstance("relaisd-1");
  Instance b = StartInstance("relaisd-2");
  ASSERT_NE(a.writer, nullptr);
  ASSERT_NE(b.writer, nullptr);
  for (int round = 0; round < 4; ++round) AppendEvents(*producer, 50);
  ASSERT_TRUE(a.writer->WaitCovered(500, 60s)) << a.writer->covered();
  ASSERT_TRUE(b.writer->WaitCovered(500, 60s)) << b.writer->covered();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  std::cout << "R" << nodes_ << ": 500 events covered by two writers in " << ms << " ms (written "
            << a.writer->written() << " + " << b.writer->written() << ")\n";
  EXPECT_FALSE(a.writer->failed());
  EXPECT_FALSE(b.writer->failed());
  EXPECT_EQ(a.writer->written() + b.writer->written(), 500u);
  a.writer.reset();
  b.writer.reset();
  auto last = a.audit->LastSeq();
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, 500u);
  auto report = broker::VerifyStreamAudit(*a.events, *a.audit);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->Ok(false));
  EXPECT_EQ(report->verified, 500u);

  auto cli = Cli({});
  EXPECT_EQ(cli.exit_code, 0) << cli.output;
  EXPECT_NE(cli.output.find("verified 500 of 500 events of RELAIS_AUDITTEST against "
                            "RELAIS_AUDITTEST_AUDIT (audit last seq 500): OK"),
            std::string::npos)
      << cli.output;
}

TEST_P(StreamAuditJetStream, CliReportsLagAndAForgedAuditMessage) {
  Instance a = StartInstance("relaisd-1");
  ASSERT_NE(a.writer, nullptr);
  AppendEvents(*a.events, 40);
  ASSERT_TRUE(a.writer->WaitCovered(40, 60s));
  a.writer.reset();
  AppendEvents(*a.events, 10);  // not covered: no writer runs

  auto lag = Cli({});
  EXPECT_EQ(lag.exit_code, 0) << lag.output;
  EXPECT_NE(lag.output.find("seqs 41-50: not_covered"), std::string::npos) << lag.output;
  EXPECT_NE(lag.output.find("10 not yet covered: OK"), std::string::npos) << lag.output;
  auto strict = Cli({"--require-complete"});
  EXPECT_EQ(strict.exit_code, 2) << strict.output;

  // A forged audit message for seq 41, chained correctly from the stored seq 40.
  auto stored = a.audit->Read(40, 1);
  ASSERT_TRUE(stored && stored->size() == 1);
  broker::AuditRecord prev = *broker::DecodeAuditRecord((*stored)[0].msg.data);
  broker::AuditRecord forged;
  forged.event_seq = 41;
  forged.event_id = "ev-41";
  forged.event_hash[0] = 0x42;
  forged.chain_hash = broker::AuditChainHash(prev.chain_hash, forged.event_hash);
  ASSERT_TRUE(a.audit->Append(broker::AuditMessage(forged, kAuditSubject), 40));
  auto bad = Cli({});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_NE(bad.output.find("seq 41: event_hash_mismatch"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("seqs 42-50: not_covered"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find(": 1 problem"), std::string::npos) << bad.output;

  // A writer started now refuses to extend the forged chain.
  Instance b = StartInstance("relaisd-2");
  for (int i = 0; i < 2000 && !b.writer->failed(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(b.writer->failed());
  EXPECT_EQ(b.writer->failure()->code, "audit_fork");

  auto missing = Cli({"--audit-stream-name", "NO_SUCH_STREAM"});
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_NE(missing.output.find("stream_not_found"), std::string::npos) << missing.output;
}

TEST_F(StreamAuditR3, WritersCarryOnAcrossAnAuditLeaderKill) {
  Instance a = StartInstance("relaisd-1");
  Instance b = StartInstance("relaisd-2");
  ASSERT_NE(a.writer, nullptr);
  ASSERT_NE(b.writer, nullptr);
  AppendEvents(*a.events, 100);
  ASSERT_TRUE(a.writer->WaitCovered(100, 60s));
  auto killed = cluster_->KillStreamLeader(kAudit);
  ASSERT_TRUE(killed) << killed.error().ToString();
  AppendEvents(*a.events, 100);
  ASSERT_TRUE(a.writer->WaitCovered(200, 90s)) << a.writer->covered();
  ASSERT_TRUE(b.writer->WaitCovered(200, 90s)) << b.writer->covered();
  EXPECT_FALSE(a.writer->failed());
  EXPECT_FALSE(b.writer->failed());
  // A message whose ack was lost comes back as a duplicate: written by nobody's count.
  EXPECT_LE(a.writer->written() + b.writer->written(), 200u);
  a.writer.reset();
  b.writer.reset();
  auto report = broker::VerifyStreamAudit(*a.events, *a.audit);
  ASSERT_TRUE(report) << report.error().ToString();
  EXPECT_TRUE(report->Ok(false)) << Describe(*report);
  EXPECT_EQ(report->verified, 200u);
  // The killed node back: its first answers may be stale (nats-server 2.9.10 answered stream
  // info and message reads from before the kill for about a second), never a verified fork.
  ASSERT_TRUE(cluster_->Restart(*killed));
  bool ok = false;
  for (int i = 0; i < 100 && !ok; ++i) {
    auto again = broker::VerifyStreamAudit(*a.events, *a.audit);
    ASSERT_TRUE(again) << again.error().ToString();
    EXPECT_TRUE(again->findings.empty()) << Describe(*again);
    ok = again->Ok(false);
    if (!ok) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(ok);
}

INSTANTIATE_TEST_SUITE_P(Engines, StreamAuditJetStream,
                         ::testing::Values(BackendSpec{"jetstream_r1", 1},
                                           BackendSpec{"jetstream_r3", 3}),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace relais::conformance
