// Crash test of the journal: runs journal_crash_writer, kills it with SIGKILL at a random moment,
// reopens, and checks that every append it reported durable is there, that no row is
// half-written (each row verifies against its header and digests, SQLite's quick_check passes)
// and that the chain verifies. Repeats RELAIS_CRASH_ROUNDS times (default 200) on one journal.
// RELAIS_CRASH_SEED replays a run (the seed is printed).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include "base/bytes.h"
#include "base/clock.h"
#include "broker/journal/journal.h"
#include "broker/journal/reader.h"
#include "broker/journal/testing/events.h"
#include "crypto/secret.h"
#include "crypto/sign.h"

extern char** environ;

namespace relais::journal {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoi(v) : fallback;
}

struct WriterRun {
  std::string output;  // everything the writer printed
  int status = 0;      // waitpid status
};

// Spawns the writer, waits for READY (unless `early`: then the kill may land while it opens,
// recovers the WAL and verifies the tail), lets it run `run_ms`, kills it, and collects its
// whole output.
WriterRun RunAndKill(const std::filesystem::path& dir, uint64_t seed, int run_ms, bool early) {
  int pipe_fds[2];
  EXPECT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  std::string dir_arg = dir.string(), seed_arg = std::to_string(seed);
  char* argv[] = {const_cast<char*>(RELAIS_CRASH_WRITER), dir_arg.data(),
                  const_cast<char*>("--seed"), seed_arg.data(), nullptr};
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, RELAIS_CRASH_WRITER, &actions, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);

  WriterRun run;
  enum class Read { kData, kTimeout, kEof };
  auto read_some = [&](int timeout_ms) {
    pollfd p{pipe_fds[0], POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return Read::kTimeout;
    char buf[65536];
    ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n <= 0) return Read::kEof;
    run.output.append(buf, static_cast<size_t>(n));
    return Read::kData;
  };
  // Wait for READY (opening verifies the tail: give it time), then let it append.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!early && run.output.find('\n') == std::string::npos &&
         std::chrono::steady_clock::now() < deadline && read_some(100) != Read::kEof) {
  }
  const auto kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= kill_at) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(kill_at - now);
    if (read_some(static_cast<int>(left.count())) == Read::kEof) break;
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &run.status, 0);
  while (read_some(1000) == Read::kData) {
  }
  ::close(pipe_fds[0]);
  return run;
}

class JournalCrashTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { crypto::Init(); }

  // Checks the journal after a crash (fatal failures stop the test).
  void CheckAfterCrash(uint64_t verified_to) {
    // Open as the broker would: the tail since the last checkpoint must verify.
    crypto::SigningKeyPair key = crypto::SigningKeyPairFromSeed(base::Bytes(32, 7));
    JournalOptions options;
    options.path = dir_.path() / "journal.db";
    auto journal = Journal::Open(options, clock_, &key.secret_key);
    ASSERT_TRUE(journal.has_value()) << journal.error().ToString();
    ASSERT_TRUE((*journal)->Close().has_value());

    auto reader = JournalReader::Open(ReaderOptions{options.path, ""});
    ASSERT_TRUE(reader.has_value()) << reader.error().ToString();
    ASSERT_TRUE((*reader)->IntegrityCheck().has_value());
    auto chain = (*reader)->VerifyChain(verified_to, 0);
    ASSERT_TRUE(chain.has_value()) << chain.error().ToString();
    ASSERT_FALSE(chain->fault.has_value()) << chain->ToStatus().error().ToString();
    for (auto it = durable_.lower_bound(verified_to + 1); it != durable_.end(); ++it) {
      auto entry = (*reader)->Get(it->first, ReadScope::kMetadata);
      ASSERT_TRUE(entry.has_value());
      ASSERT_TRUE(entry->has_value()) << "durable seq " << it->first << " is missing";
      ASSERT_EQ(base::HexEncode((*entry)->event_id), it->second) << "at seq " << it->first;
    }
    head_ = chain->verified.seq;
  }

  // Parses D lines into durable_; returns how many.
  int Record(const std::string& output) {
    std::istringstream lines(output);
    std::string kind, event_id;
    uint64_t seq = 0;
    int dup = 0, count = 0;
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      fields >> kind;
      if (kind == "OPEN_FAILED" || kind == "ERROR") ADD_FAILURE() << "writer: " << line;
      if (kind != "D") continue;
      fields >> seq >> event_id >> dup;
      auto [it, inserted] = durable_.emplace(seq, event_id);
      if (!inserted) {
        EXPECT_EQ(it->second, event_id) << "seq " << seq << " reported with two event ids";
      }
      ++count;
    }
    return count;
  }

  testing::TempDir dir_;
  base::SystemClock clock_;
  std::map<uint64_t, std::string> durable_;  // seq -> event id hex, as reported
  uint64_t head_ = 0;
};

TEST_F(JournalCrashTest, EveryReportedAppendSurvivesSigkillAndTheChainVerifies) {
  const int rounds = EnvInt("RELAIS_CRASH_ROUNDS", 200);
  const uint64_t seed = static_cast<uint64_t>(
      EnvInt("RELAIS_CRASH_SEED", static_cast<int>(base::MonotonicMicros() % 1'000'000)));
  std::printf("journal crash test: %d rounds, RELAIS_CRASH_SEED=%llu\n", rounds,
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  int reported = 0;
  for (int round = 0; round < rounds; ++round) {
    const bool early = rng() % 10 == 0;
    const int run_ms = early ? static_cast<int>(rng() % 6) : 1 + static_cast<int>(rng() % 40);
    WriterRun run = RunAndKill(dir_.path(), rng(), run_ms, early);
    ASSERT_TRUE(WIFSIGNALED(run.status) && WTERMSIG(run.status) == SIGKILL)
        << "round " << round << ": the writer exited by itself: " << run.output.substr(0, 200);
    if (!early) {
      ASSERT_EQ(run.output.rfind("READY ", 0), 0u) << "round " << round;
    }
    reported += Record(run.output);
    ASSERT_NO_FATAL_FAILURE(CheckAfterCrash(head_)) << "round " << round;
  }
  // A last full pass over everything.
  auto reader = JournalReader::Open(ReaderOptions{dir_.path() / "journal.db", ""});
  ASSERT_TRUE(reader.has_value());
  auto chain = (*reader)->VerifyChain();
  ASSERT_FALSE(chain->fault.has_value()) << chain->ToStatus().error().ToString();
  for (const auto& [seq, event_id] : durable_) {
    auto found = (*reader)->FindEvent(*base::HexDecode(event_id));
    ASSERT_TRUE(found.has_value() && found->has_value()) << "event of seq " << seq;
    EXPECT_EQ((*found)->seq, seq);
  }
  std::printf("journal crash test: %d durable reports, %zu distinct seqs, head %llu\n", reported,
              durable_.size(), static_cast<unsigned long long>(chain->verified.seq));
  EXPECT_GT(durable_.size(), size_t{0});
}

}  // namespace
}  // namespace relais::journal
