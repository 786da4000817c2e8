// Structured logs: one line per event, `time level event key=value ...`, to stderr.
//
// Callers pass only metadata (seq, event ids, agency ids, codes, counts, durations). Never pass
// names, birth dates, body plaintext, free text from a body or key material: log lines are read by
// operators who are not entitled to case data. Thread-safe.
#ifndef RELAIS_BASE_LOG_H_
#define RELAIS_BASE_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace relais::base {

enum class LogLevel { kDebug = 0, kInfo, kWarn, kError };

void SetLogLevel(LogLevel level);
LogLevel GetLogLevel();
// "debug", "info", "warn", "error"; false on an unknown name.
bool ParseLogLevel(std::string_view name, LogLevel* out);

// One field of a log line. Values with spaces, quotes or '=' are quoted.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, std::string&& v) : key(k), value(std::move(v)) {}
  LogField(std::string_view k, int64_t v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, uint64_t v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, int v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, unsigned v) : key(k), value(std::to_string(v)) {}
  LogField(std::string_view k, double v);
  LogField(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
  std::string_view key;
  std::string value;
};

void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields = {});

// While a LogBatch lives, the lines this thread logs are kept and written together when it ends
// (or when they pass 64 KiB): one write for a loop that logs per event, instead of one per line.
// Other threads' lines are not held back. Not nestable: an inner batch leaves the outer in charge.
class LogBatch {
 public:
  LogBatch();
  ~LogBatch();
  LogBatch(const LogBatch&) = delete;
  LogBatch& operator=(const LogBatch&) = delete;

 private:
  bool owner_ = false;
};
// Writes the lines held by this thread's LogBatch now (e.g. before the process aborts).
void FlushLogBatch();

inline void LogInfo(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, event, fields);
}
inline void LogWarn(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kWarn, event, fields);
}
inline void LogError(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, event, fields);
}
inline void LogDebug(std::string_view event, std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kDebug, event, fields);
}

}  // namespace relais::base

#endif  // RELAIS_BASE_LOG_H_
