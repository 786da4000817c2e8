#include "tools/audit_format.h"

#include <cstdio>

#include "base/bytes.h"

namespace relais::tools {

base::Result<base::TimeMs> ParseDateOption(std::string_view option, const std::string& text,
                                           bool is_upper_bound) {
  if (text.empty()) {
    return is_upper_bound ? std::numeric_limits<base::TimeMs>::max()
                          : std::numeric_limits<base::TimeMs>::min();
  }
  auto t = base::ParseIsoTime(text);
  if (!t) {
    return base::InvalidInput("bad_date", std::string(option) + ": " + t.error().message);
  }
  return *t;
}

std::string CsvField(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string Hours(base::TimeMs ms, bool any) {
  if (!any) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(ms) / 3'600'000.0);
  return buf;
}

std::string TimeOrDash(base::TimeMs t) { return t == 0 ? "-" : base::FormatIsoUtc(t); }

}  // namespace relais::tools
