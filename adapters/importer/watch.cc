#include "adapters/importer/watch.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <iostream>

namespace relais::importer {

namespace {

std::atomic<bool> g_stop{false};  // set by the signal handler only

void OnSignal(int) { g_stop.store(true); }

bool Ready(const std::filesystem::directory_entry& e) {
  std::string name = e.path().filename().string();
  auto ends = [&](std::string_view s) {
    return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
  };
  return e.is_regular_file() && !name.empty() && name[0] != '.' && !ends(".part") && !ends(".tmp");
}

}  // namespace

int WatchFolder(const std::filesystem::path& dir, const ImportOptions& options,
                const std::function<int(ImportOptions&)>& run_once, sdk::Client& client) {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::error_code ec;
  std::filesystem::create_directories(dir / "done", ec);
  std::filesystem::create_directories(dir / "failed", ec);
  std::cout << "watching " << dir.string() << std::endl;
  while (!g_stop.load()) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
      if (Ready(e)) files.push_back(e.path());
    }
    if (ec) {
      std::cerr << "relais-import: cannot read " << dir.string() << "\n";
      return 1;
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      if (g_stop.load()) break;
      ImportOptions o = options;
      o.files = {file};
      std::cout << "file " << file.filename().string() << std::endl;
      int code = run_once(o);
      auto target = dir / (code == 0 ? "done" : "failed") / file.filename();
      std::filesystem::rename(file, target, ec);
    }
    (void)client.PollAcks(std::chrono::milliseconds(500));  // heartbeats while idle
  }
  std::cout << "stopped" << std::endl;
  return 0;
}

}  // namespace relais::importer
