#include "tools/audit_progress.h"

#include <unistd.h>

#include <cstdio>

#include "base/clock.h"

namespace relais::tools {

AuditProgress::AuditProgress(std::string what)
    : what_(std::move(what)),
      enabled_(isatty(STDERR_FILENO) == 1),
      started_us_(base::MonotonicMicros()) {}

AuditProgress::~AuditProgress() {
  if (printed_) std::fprintf(stderr, "\r\033[K");
}

void AuditProgress::Update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  int64_t now = base::MonotonicMicros();
  if (now - last_us_ < 250'000 && done < total) return;
  last_us_ = now;
  double secs = static_cast<double>(now - started_us_) / 1e6;
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  double eta = rate > 0 && total > done ? static_cast<double>(total - done) / rate : 0;
  std::fprintf(stderr, "\r\033[K%s: %llu/%llu rows, %.0f rows/s, ETA %.0f s", what_.c_str(),
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), rate,
               eta);
  std::fflush(stderr);
  printed_ = true;
}

}  // namespace relais::tools
