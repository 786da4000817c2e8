#include "base/clock.h"

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "base/bytes.h"

namespace relais::base {

TimeMs SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

FileClock::FileClock(std::string path, TimeMs start) : path_(std::move(path)), now_(start) {}

TimeMs FileClock::NowMs() const {
  struct stat st;
  if (stat(path_.c_str(), &st) == 0) {
    int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (mtime != mtime_ns_.load()) {
      std::ifstream in(path_);
      std::string text;
      std::getline(in, text);
      while (!text.empty() && (text.back() == ' ' || text.back() == '\r')) text.pop_back();
      bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
      if (digits) {
        now_.store(std::stoll(text));
        mtime_ns_.store(mtime);
      } else if (auto t = ParseIsoTime(text)) {
        now_.store(*t);
        mtime_ns_.store(mtime);
      }
    }
  }
  return now_.load();
}

int64_t MonotonicMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace relais::base
