// fault_load_client: the fault tests' load as a separate process, so that a test can stop and
// resume it (SIGSTOP/SIGCONT) like a partitioned adapter. Test-only.
//
//   fault_load_client publish   KEY REGISTRY AUTHORITY_PUB ENDPOINT OUT RECIPIENT...
//   fault_load_client subscribe KEY REGISTRY AUTHORITY_PUB ENDPOINT OUT AGENCY
//
// publish: RunPublisher; appends "ok <hex event id> <seq>" per ok ack to OUT, and at the end
// "end <submitted> <timeouts> <resends> <fatal codes, comma separated or ->".
// subscribe: RunSubscriber; appends "seq <seq>" per delivery (redeliveries too), "error <text>"
// per refusal. Both stop when the file OUT.stop exists (the publisher first drains its publishes
// in flight) and flush every line.
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "crypto/secret.h"
#include "tests/fault/fault_load.h"

using namespace relais;
using namespace relais::testing;

int main(int argc, char** argv) {
  if (argc < 8) {
    std::fprintf(stderr,
                 "usage: fault_load_client publish|subscribe KEY REGISTRY AUTHORITY_PUB "
                 "ENDPOINT OUT RECIPIENT...|AGENCY\n");
    return 2;
  }
  crypto::Init();
  const std::string mode = argv[1];
  const AgencyFiles files{argv[2], argv[3], argv[4], argv[5]};
  const std::string out_path = argv[6];
  std::vector<std::string> rest(argv + 7, argv + argc);
  FILE* out = std::fopen(out_path.c_str(), "a");
  if (out == nullptr) return 1;
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    while (!stop.load() && !std::filesystem::exists(out_path + ".stop")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    stop = true;
  });
  if (mode == "publish") {
    PublisherOptions options;
    options.recipients = rest;
    options.drain = std::chrono::seconds(60);
    options.on_ok = [out](const std::string& hex_id, uint64_t seq) {
      std::fprintf(out, "ok %s %llu\n", hex_id.c_str(), static_cast<unsigned long long>(seq));
      std::fflush(out);
    };
    PublisherLog log;
    RunPublisher(files, options, stop, log);
    std::string fatal;
    for (const auto& code : log.fatal) fatal += (fatal.empty() ? "" : ",") + code;
    std::fprintf(out, "end %llu %llu %llu %s\n", static_cast<unsigned long long>(log.submitted),
                 static_cast<unsigned long long>(log.timeouts),
                 static_cast<unsigned long long>(log.resends), fatal.empty() ? "-" : fatal.c_str());
  } else if (mode == "subscribe") {
    std::mutex mu;
    std::vector<std::string> errors;
    RunSubscriber(
        files, rest.front(), stop, mu,
        [out](uint64_t seq) {
          std::fprintf(out, "seq %llu\n", static_cast<unsigned long long>(seq));
          std::fflush(out);
        },
        errors);
    for (const auto& e : errors) std::fprintf(out, "error %s\n", e.c_str());
  } else {
    return 2;
  }
  std::fclose(out);
  stop = true;
  watcher.join();
  return 0;
}
