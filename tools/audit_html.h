// The HTML form of `relais audit report`: one self-contained page (inline CSS and SVG, no script,
// no external resource) that opens in a browser without network access.
#ifndef RELAIS_TOOLS_AUDIT_HTML_H_
#define RELAIS_TOOLS_AUDIT_HTML_H_

#include <string>

#include "broker/journal/report.h"

namespace relais::tools {

// Time-to-pickup histogram buckets (hours from the exit date), shared with the tests' reading of
// the page: label and upper bound (exclusive; the last is open).
struct PickupBucket {
  const char* label;
  double upper_hours;
};
inline constexpr PickupBucket kPickupBuckets[] = {
    {"before exit", 0}, {"0-12 h", 12},    {"12-24 h", 24},        {"24-48 h", 48},
    {"48-72 h", 72},    {"3-7 days", 168}, {"over 7 days", 1e300},
};

std::string HtmlReport(const journal::Report& report, const std::string& journal_name);

}  // namespace relais::tools

#endif  // RELAIS_TOOLS_AUDIT_HTML_H_
