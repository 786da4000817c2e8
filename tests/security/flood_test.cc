// A flood of 1,000 unauthenticated connections (unknown CURVE keys, some with a wrong broker key,
// all retrying their handshake every 100 ms; RELAIS_FLOOD_CONNECTIONS, RELAIS_FLOOD_RECONNECT_MS)
// while a legitimate client publishes (issue 11, security). Asserted: every legitimate publish is
// acked ok, nothing from the intruders is journaled, the broker keeps serving. Measured and printed
// (not asserted: shared cores make timings noisy): the legitimate client's throughput under the
// flood as a ratio of its throughput just before.
//
// A real intruder spends its own machines' CPU on its side of the handshakes. Here it runs on the
// same machine, so when there are at least 2 CPUs the flood's threads get the last CPU and the
// broker and the legitimate client the others, in both phases (RELAIS_FLOOD_PIN=0 turns this off):
// the ratio then measures what refusing the flood costs the broker, not the intruder's own load.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sched.h>

#include <string>
#include <thread>

#include "tests/security/security_fixture.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// Restricts every thread of `pid` (0: this process) to the CPUs of `set`.
void PinProcess(pid_t pid, const cpu_set_t& set) {
  const std::string dir =
      "/proc/" + (pid == 0 ? std::string("self") : std::to_string(pid)) + "/task";
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    EXPECT_EQ(sched_setaffinity(static_cast<pid_t>(std::atoi(e->d_name)), sizeof set, &set), 0);
  }
  closedir(d);
}

class FloodTest : public SecurityTest {
 protected:
  // The measure: a baseline batch, then the same batch under the flood, whose connections come
  // from `flood_source` (an address of this host; empty: the default). Prints the ratio.
  void MeasureFlood(const std::string& flood_source, const std::string& label);
};

void FloodTest::MeasureFlood(const std::string& flood_source, const std::string& label) {
  const int kBatch = EnvInt("RELAIS_FLOOD_BATCH", 4000);
  const int kConnections = EnvInt("RELAIS_FLOOD_CONNECTIONS", 1000);
  const int kReconnectMs = EnvInt("RELAIS_FLOOD_RECONNECT_MS", 100);
  auto batch = [&] {
    std::vector<schema::Envelope> v;
    for (int i = 0; i < kBatch; ++i)
      v.push_back(MakeReferral(*deployment_, hospital_, {"assoc-a"}));
    return v;
  };
  auto warmup_batch = batch();
  auto baseline_batch = batch();
  auto after_batch = batch();
  auto flood_batch = batch();
  // The CPUs this process may use: the last one for the flood, the others for the rest.
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  int flood_cpu = -1;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &allowed)) flood_cpu = c;
  }
  const bool pin = EnvInt("RELAIS_FLOOD_PIN", 1) != 0 && CPU_COUNT(&allowed) >= 2;
  if (pin) {
    cpu_set_t rest = allowed;
    CPU_CLR(flood_cpu, &rest);
    PinProcess(broker_->process()->pid(), rest);
    PinProcess(0, rest);  // before the client's threads start: they inherit it
  }
  auto hospital = Connect(hospital_);
  // Publishes a batch; returns events per second.
  auto publish = [&](const std::vector<schema::Envelope>& envelopes) {
    auto start = std::chrono::steady_clock::now();
    auto results = hospital->PublishMany(envelopes, 64, sdk::DeadlineAfter(120s));
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (auto& r : results) {
      EXPECT_TRUE(r) << r.error().ToString();
      if (r) {
        EXPECT_FALSE(r->duplicate);
      }
    }
    return static_cast<double>(envelopes.size()) / s;
  };
  // Not measured: the first batch also pays for the connection, caches and journal growth.
  (void)publish(warmup_batch);
  double baseline = publish(baseline_batch);

  // ZeroMQ connects from SOURCE with "tcp://SOURCE:0;HOST:PORT".
  const std::string flood_endpoint =
      flood_source.empty() ? broker_->endpoint()
                           : "tcp://" + flood_source + ":0;" + broker_->endpoint().substr(6);
  double flooded = 0;
  {
    UnauthenticatedFlood flood(flood_endpoint, broker_curve_, kConnections, kReconnectMs,
                               pin ? flood_cpu : -1);
    flood.Poke();
    std::this_thread::sleep_for(1s);  // let the handshakes start failing and retrying
    flooded = publish(flood_batch);
    flood.Poke();
    EXPECT_TRUE(broker_->process()->Running());
  }
  // The throughput without the flood is measured before and after it (other jobs on the machine
  // change it over the seconds of the test); the ratio is against their mean.
  std::this_thread::sleep_for(1s);  // the flood's sockets are closed
  baseline = (baseline + publish(after_batch)) / 2;
  const double ratio = flooded / baseline;
  std::printf(
      "flood%s: %d unauthenticated connections retrying every %d ms%s; legitimate throughput "
      "%.0f ev/s without (mean of before and after), %.0f ev/s with the flood: ratio %.2f (issue "
      "target >= 0.90)\n",
      label.c_str(), kConnections, kReconnectMs, pin ? " (flood on its own CPU)" : " (unpinned)",
      baseline, flooded, ratio);
  RecordProperty("throughput_ratio_percent", static_cast<int>(ratio * 100));
  EXPECT_EQ(JournalRows(), static_cast<uint64_t>(4 * kBatch));  // the intruders journaled nothing
  auto log = broker_->process()->Log();
  std::printf("flood: broker log %zu bytes\n", log.size());
}

// Without bans (--ban-connections 0): every handshake of the flood is worked through and refused.
TEST_F(FloodTest, UnauthenticatedFloodIsRefusedAndLegitimatePublishesGoThrough) {
  broker_->Stop();
  broker_ = std::make_unique<BrokerProcess>(*deployment_,
                                            std::vector<std::string>{"--ban-connections", "0"});
  broker_->Start();
  MeasureFlood("", " without bans");
}

// The flood comes from another address inside the partner networks (127.0.0.2): after 100
// connections within 10 s (the default --ban-connections) the kernel drops that address's
// connection requests. Asserted: the address was banned, every legitimate publish is acked ok,
// nothing of the flood is journaled.
TEST_F(FloodTest, AFloodFromOnePartnerAddressIsBannedByTheKernel) {
  MeasureFlood("127.0.0.2", " from one partner address, banned");
  const std::string metrics = HttpGet(broker_->metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("relais_sources_banned_total 1\n"), std::string::npos)
      << "the flooding address was not banned";
}

// The partners' networks are allowed (--allow-from) and the flood comes from elsewhere
// (127.0.0.2, another loopback address): its connections are closed at accept, before any CURVE
// work. Asserted: the broker refused them before ZAP (no ZAP request at all), every legitimate
// publish is acked ok, nothing of the flood is journaled.
TEST_F(FloodTest, AFloodFromOutsideThePartnerNetworksIsClosedBeforeAnyHandshake) {
  broker_->Stop();
  broker_ = std::make_unique<BrokerProcess>(*deployment_,
                                            std::vector<std::string>{"--allow-from", "127.0.0.1"});
  broker_->Start();
  MeasureFlood("127.0.0.2", " from outside the partner networks");
  const std::string metrics = HttpGet(broker_->metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("relais_zap_refused_total 0\n"), std::string::npos)
      << "the flood reached the handshake";
}

}  // namespace
}  // namespace relais::testing
