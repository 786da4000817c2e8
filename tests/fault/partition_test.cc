// Network partitions (issue 11, durability), by stopping processes: a publisher and two
// subscribers run as separate processes (fault_load_client, the fault tests' SDK load), and the
// test freezes one or two of them — and sometimes relaisd itself — with SIGSTOP for a random
// 100 ms - 3 s, then resumes them with SIGCONT, round after round, under continuous load. A
// stopped peer is, for the others, exactly a partitioned one: its TCP connection stays up but
// nothing moves, heartbeats and acks stop, timeouts and redeliveries fire. After healing:
//   - every publish acked `ok` is journaled at its seq; no seq gap, no event id twice, the chain
//     verifies (the crash loop's checker, tests/fault/fault_load.h);
//   - every journaled referral reaches both subscribers (catch-up), none of the load processes
//     saw a refusal, and relaisd is still running.
// A last round cuts both subscribers off for 3 s, so that they heal with a backlog.
// Knobs: RELAIS_PARTITION_ROUNDS (default 12), RELAIS_PARTITION_SEED (default random, printed).
// Network namespaces with veth pairs would need root and iproute2 in the container; a stopped
// process exercises the same timeouts without either.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "tests/fault/fault_load.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::vector<std::string> kRecipients = {"assoc-a", "assoc-b"};

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// One fault_load_client process and the file it writes.
struct LoadProcess {
  std::string name;
  std::filesystem::path out;
  std::unique_ptr<Process> process;
};

LoadProcess StartLoad(const Deployment& deployment, const std::string& endpoint,
                      const std::string& mode, const std::string& agency,
                      const std::vector<std::string>& tail) {
  LoadProcess p;
  p.name = mode == "publish" ? "publisher" : agency;
  p.out = deployment.dir() / (p.name + ".out");
  std::vector<std::string> argv = {FAULT_LOAD_CLIENT_BIN,
                                   mode,
                                   deployment.KeyFile(agency).string(),
                                   deployment.RegistryFile().string(),
                                   deployment.AuthorityPub().string(),
                                   endpoint,
                                   p.out.string()};
  argv.insert(argv.end(), tail.begin(), tail.end());
  auto started = Process::Start(argv, deployment.dir() / (p.name + ".log"));
  if (!started) throw std::runtime_error("cannot start fault_load_client");
  p.process = std::move(started).value();
  return p;
}

void RequestStop(const LoadProcess& p) { std::ofstream(p.out.string() + ".stop") << "stop\n"; }

// The publisher's file: acked ok events, and the `end` line once it finished.
struct PublisherOut {
  PublisherLog log;
  bool ended = false;
  std::string fatal = "-";
};

PublisherOut ReadPublisher(const std::filesystem::path& path) {
  PublisherOut out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string tag;
    words >> tag;
    if (tag == "ok") {
      std::string id;
      uint64_t seq = 0;
      words >> id >> seq;
      out.log.ok[id] = seq;
    } else if (tag == "end") {
      words >> out.log.submitted >> out.log.timeouts >> out.log.resends >> out.fatal;
      out.ended = true;
    }
  }
  return out;
}

// A subscriber's file: the seqs it received, how many lines (redeliveries included), refusals.
struct SubscriberOut {
  std::set<uint64_t> seqs;
  size_t deliveries = 0;
  std::vector<std::string> errors;
};

SubscriberOut ReadSubscriber(const std::filesystem::path& path) {
  SubscriberOut out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("seq ", 0) == 0) {
      out.seqs.insert(std::stoull(line.substr(4)));
      ++out.deliveries;
    } else if (line.rfind("error ", 0) == 0) {
      out.errors.push_back(line.substr(6));
    }
  }
  return out;
}

// What the random partitions did.
struct Partitions {
  std::map<std::string, int> stops;  // process name -> times stopped
  int64_t stopped_ms = 0;
  std::string Summary() const {
    std::string s;
    for (const auto& [name, n] : stops) {
      s += (s.empty() ? "" : ", ") + name + " " + std::to_string(n) + "x";
    }
    return s;
  }
};

// `rounds` random partitions: one or two of the load processes (0-2) or relaisd (3) stopped for
// 100 ms-3 s, then resumed, then 100-500 ms of healing. The first round always freezes relaisd
// for 2.5 s, longer than the clients' ack timeout (2 s), so that publishes in flight are re-sent
// and deliveries redelivered.
Partitions RunPartitions(int rounds, std::mt19937& rng, pid_t broker,
                         const std::vector<LoadProcess>& load) {
  Partitions p;
  std::uniform_int_distribution<int> duration(100, 3000);
  std::uniform_int_distribution<int> target(0, 3);
  std::uniform_int_distribution<int> heal(100, 500);
  for (int round = 0; round < rounds; ++round) {
    std::set<int> targets = {round == 0 ? 3 : target(rng)};
    if (round > 0 && rng() % 2 == 0) targets.insert(target(rng));
    const int ms = round == 0 ? 2500 : duration(rng);
    std::vector<pid_t> pids;
    for (int t : targets) {
      pids.push_back(t == 3 ? broker : load[t].process->pid());
      ++p.stops[t == 3 ? "relaisd" : load[t].name];
    }
    for (pid_t pid : pids) kill(pid, SIGSTOP);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    for (pid_t pid : pids) kill(pid, SIGCONT);
    p.stopped_ms += ms;
    std::this_thread::sleep_for(std::chrono::milliseconds(heal(rng)));
  }
  return p;
}

// Stops the subscriber processes (load[1..]); checks they exit cleanly without a refusal and
// returns the deliveries they received (redeliveries included).
size_t StopSubscribers(const std::vector<LoadProcess>& load) {
  size_t deliveries = 0;
  for (size_t i = 1; i < load.size(); ++i) {
    RequestStop(load[i]);
    auto exit = load[i].process->Wait(30s);
    EXPECT_TRUE(exit.has_value()) << load[i].name << " did not stop";
    EXPECT_EQ(exit.value_or(-1), 0) << load[i].process->Log();
    SubscriberOut received = ReadSubscriber(load[i].out);
    EXPECT_TRUE(received.errors.empty()) << load[i].name << ": " << received.errors.front();
    deliveries += received.deliveries;
  }
  return deliveries;
}

TEST(Partition, StoppedAdaptersAndBrokerLoseNothingAckedAndCatchUpAfterHealing) {
  const int rounds = EnvInt("RELAIS_PARTITION_ROUNDS", 12);
  const auto seed = static_cast<uint32_t>(
      EnvInt("RELAIS_PARTITION_SEED", static_cast<int>(std::random_device{}())));
  std::printf("partition: %d rounds, RELAIS_PARTITION_SEED=%u\n", rounds, seed);
  std::mt19937 rng(seed);
  crypto::Init();
  TempDir dir;
  Deployment deployment(dir.path());
  AddHospitalAndAssociations(deployment, kRecipients);
  deployment.Sign();
  BrokerProcess broker(deployment, {"--ack-timeout-ms", "2000"});
  broker.Start();

  std::vector<LoadProcess> load;
  load.push_back(StartLoad(deployment, broker.endpoint(), "publish", "hospital", kRecipients));
  for (const auto& agency : kRecipients) {
    load.push_back(StartLoad(deployment, broker.endpoint(), "subscribe", agency, {agency}));
  }
  auto warm_end = Clock::now() + 30s;
  while (ReadPublisher(load[0].out).log.ok.size() < 100 && Clock::now() < warm_end) {
    std::this_thread::sleep_for(20ms);
  }
  const size_t acked_before = ReadPublisher(load[0].out).log.ok.size();
  ASSERT_GE(acked_before, 100u) << load[0].process->Log();

  const auto rounds_start = Clock::now();
  Partitions partitions = RunPartitions(rounds, rng, broker.process()->pid(), load);
  // The last round cuts both subscribers off for 3 s while the publisher goes on, so that they
  // have a backlog to catch up with once healed (measured while they are still stopped).
  std::map<std::string, std::set<uint64_t>> seen;
  auto missing_from = [&](const std::set<uint64_t>& referral_seqs) {
    for (size_t i = 1; i < load.size(); ++i) seen[load[i].name] = ReadSubscriber(load[i].out).seqs;
    return MissingDeliveries(referral_seqs, seen, kRecipients);
  };
  for (size_t i = 1; i < load.size(); ++i) kill(load[i].process->pid(), SIGSTOP);
  std::this_thread::sleep_for(3s);
  size_t backlog = 0;
  {
    auto at_heal = journal::JournalReader::Open({broker.journal(), ""});
    ASSERT_TRUE(at_heal) << at_heal.error().ToString();
    backlog = missing_from(ScanJournal(**at_heal).referral_seqs);
  }
  for (size_t i = 1; i < load.size(); ++i) kill(load[i].process->pid(), SIGCONT);
  partitions.stopped_ms += 3000;
  const auto healed_at = Clock::now();
  const double rounds_s = std::chrono::duration<double>(healed_at - rounds_start).count();
  const size_t acked_after_rounds = ReadPublisher(load[0].out).log.ok.size();

  // Healed: the publisher drains and stops, then the subscribers must catch up.
  RequestStop(load[0]);
  auto publisher_exit = load[0].process->Wait(90s);
  ASSERT_TRUE(publisher_exit.has_value()) << "the publisher did not finish";
  EXPECT_EQ(*publisher_exit, 0) << load[0].process->Log();
  PublisherOut published = ReadPublisher(load[0].out);
  EXPECT_TRUE(published.ended);
  EXPECT_EQ(published.fatal, "-") << "fatal acks";

  auto reader = journal::JournalReader::Open({broker.journal(), ""});
  ASSERT_TRUE(reader) << reader.error().ToString();
  JournalScan scan = ScanJournal(**reader);
  auto missing = [&] { return missing_from(scan.referral_seqs); };
  auto catch_up_end = Clock::now() + 60s;
  while (missing() > 0 && Clock::now() < catch_up_end) std::this_thread::sleep_for(50ms);
  const double catch_up_s = std::chrono::duration<double>(Clock::now() - healed_at).count();
  EXPECT_EQ(missing(), 0u) << "journaled referrals that never reached a recipient";
  const size_t deliveries = StopSubscribers(load);
  EXPECT_TRUE(broker.process()->Running()) << "relaisd died: " << broker.process()->Log();
  EXPECT_GT(acked_after_rounds, acked_before) << "no publish went through during the rounds";
  EXPECT_GT(published.log.resends, 0u) << "no publish was ever re-sent: nothing was partitioned";
  EXPECT_GT(backlog, 0u) << "the subscribers had nothing to catch up with";
  ExpectAckedAreJournaled(**reader, published.log);
  ExpectJournalSound(**reader, scan);

  std::printf(
      "partition: %d rounds in %.1f s (%.1f s stopped in all; %s); %zu publishes acked ok "
      "(%zu before the rounds, %zu during them), %llu re-sent by the SDK; %llu journal rows; %zu "
      "deliveries for %zu referrals x %zu recipients (redeliveries included); a backlog of %zu "
      "deliveries at healing, caught up %.1f s later (publisher drain included)\n",
      rounds, rounds_s, static_cast<double>(partitions.stopped_ms) / 1000.0,
      partitions.Summary().c_str(), published.log.ok.size(), acked_before,
      acked_after_rounds - acked_before, static_cast<unsigned long long>(published.log.resends),
      static_cast<unsigned long long>(scan.rows), deliveries, scan.referral_seqs.size(),
      kRecipients.size(), backlog, catch_up_s);
  RecordProperty("acked_ok", static_cast<int>(published.log.ok.size()));
}

}  // namespace
}  // namespace relais::testing
