// relais_bench_e2e --restart-journal N: grows the killed broker's journal to N entries directly
// through the journal library (the broker's checkpoint key, the same derived rows the broker
// writes for a discharge referral), so that a restart on a 1,000,000-event journal can be timed
// without publishing a million events through the broker first. The headers are real encoded
// referral headers from "hospital" to the receivers; signatures, wraps and bodies are random
// bytes of the real sizes (relaisd does not verify stored signatures when it starts).
#include <cstdio>
#include <future>
#include <thread>

#include "base/clock.h"
#include "broker/journal/journal.h"
#include "broker/journal/testing/events.h"
#include "crypto/random.h"
#include "tests/bench/e2e_systems.h"

namespace relais::bench {

size_t FillJournal(const std::filesystem::path& path, const crypto::AgencyIdentity& broker,
                   const std::string& emitter, const std::vector<std::string>& recipients,
                   size_t body_bytes, size_t total) {
  base::SystemClock clock;
  journal::JournalOptions options;
  options.path = path;
  options.check_appends = false;  // the generator builds consistent requests
  auto opened = journal::Journal::Open(options, clock, &broker.sign_secret);
  if (!opened) {
    std::fprintf(stderr, "cannot open the journal: %s\n", opened.error().ToString().c_str());
    return 0;
  }
  journal::Journal& j = **opened;
  const uint64_t head = j.head_seq();
  if (head >= total) return 0;
  const size_t n = total - head;
  std::printf("relais: appending %zu generated events to the journal (journal API)...\n", n);
  std::fflush(stdout);
  const int64_t start = base::MonotonicMicros();
  std::atomic<size_t> failed{0};
  auto produce = [&](size_t from, size_t to) {
    std::vector<std::future<base::Result<journal::AppendResult>>> flight;
    auto settle = [&] {
      for (auto& f : flight) {
        if (!f.get()) ++failed;
      }
      flight.clear();
    };
    for (size_t i = from; i < to; ++i) {
      journal::testing::EventSpec spec;
      spec.case_ref = crypto::NewCaseRef();
      spec.emitter = emitter;
      spec.recipients = recipients;
      spec.emitted_at = clock.NowMs();
      spec.due_at = spec.emitted_at + 5 * base::kMsPerDay;
      spec.body_size = body_bytes;
      journal::AppendRequest r = journal::testing::MakeRequest(spec);
      r.mutations.push_back(journal::SetCaseState{"referred", spec.due_at});
      for (const auto& agency : recipients) {
        r.mutations.push_back(journal::EnqueueDelivery{agency, 0});
      }
      flight.push_back(j.AppendAsync(std::move(r)));
      if (flight.size() >= 2000) settle();
    }
    settle();
  };
  auto other = std::async(std::launch::async, produce, n / 2, n);
  produce(0, n / 2);
  other.get();
  (void)j.Close();
  std::printf("relais: %zu events appended in %.1f s (%zu failed)\n", n,
              static_cast<double>(base::MonotonicMicros() - start) / 1e6, failed.load());
  return n - failed.load();
}

}  // namespace relais::bench
