// journal_crash_writer DIR [--seed N]: appends to DIR/journal.db as fast as it can until it is
// killed, and reports every append the journal reported durable.
//
// Output (stdout, one write(2) per line, so a line is never torn by SIGKILL):
//   READY <head seq>                  after the journal opened and verified its tail
//   D <seq> <event id hex> <dup 0|1>  after the journal reported the append durable
// On a failure to open it prints "OPEN_FAILED <code>: <message>" and exits 2; on any other
// journal error, "ERROR <code>" and exits 3. The driver is tests/crash/journal_crash_test.cc.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <semaphore>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "broker/journal/journal.h"
#include "broker/journal/testing/events.h"
#include "crypto/secret.h"
#include "crypto/sign.h"

namespace relais::journal {
namespace {

void WriteLine(const std::string& line) {
  std::string out = line + "\n";
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::write(STDOUT_FILENO, out.data() + done, out.size() - done);
    if (n <= 0) std::_Exit(4);  // the driver went away
    done += static_cast<size_t>(n);
  }
}

crypto::SigningKeyPair BrokerKey() { return crypto::SigningKeyPairFromSeed(base::Bytes(32, 7)); }

// One producer: keeps a few appends in flight (two producers give batches of several rows, and
// a round stays around a hundred rows so 200 rounds build a journal of a few tens of MB); every
// 64th request re-sends an old event id (a duplicate), every 16th completion acknowledges a
// delivery.
void Produce(Journal& journal, uint64_t seed, std::atomic<bool>& failed) {
  constexpr int kWindow = 3;
  std::mt19937_64 rng(seed);
  std::counting_semaphore<kWindow> slots(kWindow);
  std::vector<AppendRequest> sent;
  for (uint64_t i = 0; !failed.load(); ++i) {
    slots.acquire();
    testing::EventSpec spec;
    spec.case_ref = "c-crash-" + std::to_string(rng() % 40);
    spec.body_size = 200 + rng() % 400;
    AppendRequest request =
        (i % 64 == 63 && !sent.empty()) ? sent[rng() % sent.size()] : testing::MakeRequest(spec);
    request.mutations = testing::DeriveFromHeader(request.header);
    if (sent.size() < 256) sent.push_back(request);
    const std::string event_id = base::HexEncode(request.header.event_id);
    journal.Append(std::move(request), [&, event_id, i](base::Result<AppendResult> r) {
      if (!r) {
        WriteLine("ERROR " + r.error().code);
        failed = true;
      } else {
        WriteLine("D " + std::to_string(r->seq) + " " + event_id + " " +
                  (r->duplicate ? "1" : "0"));
        if (i % 16 == 0) journal.Update(AckDelivery{"siao-75", r->seq}, [](base::Status) {});
      }
      slots.release();
    });
  }
  for (int k = 0; k < kWindow; ++k) slots.acquire();
}

int Run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: journal_crash_writer DIR [--seed N]\n");
    return 1;
  }
  uint64_t seed = 1;
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--seed") seed = std::strtoull(argv[i + 1], nullptr, 10);
  }
  crypto::Init();
  base::SystemClock clock;
  crypto::SigningKeyPair key = BrokerKey();
  JournalOptions options;
  options.path = std::filesystem::path(argv[1]) / "journal.db";
  options.checkpoint_every_rows = 50;  // exercise checkpoints and tail verification often
  options.max_wait = std::chrono::microseconds(200);
  auto journal = Journal::Open(options, clock, &key.secret_key);
  if (!journal) {
    WriteLine("OPEN_FAILED " + journal.error().ToString());
    return 2;
  }
  WriteLine("READY " + std::to_string((*journal)->head_seq()));
  std::atomic<bool> failed{false};
  std::vector<std::thread> producers;
  for (uint64_t t = 0; t < 2; ++t) {
    producers.emplace_back([&, t] { Produce(**journal, seed * 31 + t, failed); });
  }
  for (auto& p : producers) p.join();
  return 3;
}

}  // namespace
}  // namespace relais::journal

int main(int argc, char** argv) { return relais::journal::Run(argc, argv); }
