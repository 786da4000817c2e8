#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "base/bytes.h"
#include "base/clock.h"

namespace relais::base {

namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_mu;
constexpr size_t kBatchFlushBytes = 64 << 10;
// The lines held by this thread's LogBatch (its capacity is kept from one batch to the next).
struct Batch {
  bool active = false;
  std::string lines;
};
thread_local Batch t_batch;

void Write(const std::string& lines) {
  std::lock_guard lock(g_mu);
  std::fwrite(lines.data(), 1, lines.size(), stderr);
  std::fflush(stderr);
}

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void AppendValue(std::string& line, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(" \"=\t\n") != std::string_view::npos;
  if (!quote) {
    line.append(v);
    return;
  }
  line.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') line.push_back('\\');
    line.push_back(c == '\n' ? ' ' : c);
  }
  line.push_back('"');
}

}  // namespace

LogField::LogField(std::string_view k, double v) : key(k) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  value = buf;
}

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == LevelName(l)) {
      *out = l;
      return true;
    }
  }
  return false;
}

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  // Formatted straight into the batch, or into this thread's reused line buffer.
  thread_local std::string single;
  std::string& out = t_batch.active ? t_batch.lines : single;
  if (!t_batch.active) single.clear();
  AppendIsoUtc(out, SystemClock().NowMs());
  out.push_back(' ');
  out.append(LevelName(level));
  out.push_back(' ');
  out.append(event);
  for (const LogField& f : fields) {
    out.push_back(' ');
    out.append(f.key);
    out.push_back('=');
    AppendValue(out, f.value);
  }
  out.push_back('\n');
  if (!t_batch.active) {
    Write(single);
  } else if (t_batch.lines.size() >= kBatchFlushBytes) {
    FlushLogBatch();
  }
}

LogBatch::LogBatch() {
  if (t_batch.active) return;
  t_batch.active = true;
  owner_ = true;
}

LogBatch::~LogBatch() {
  if (!owner_) return;
  FlushLogBatch();
  t_batch.active = false;
}

void FlushLogBatch() {
  if (t_batch.lines.empty()) return;
  Write(t_batch.lines);
  t_batch.lines.clear();
}

}  // namespace relais::base
