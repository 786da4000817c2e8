// Shared pieces of the auditor's commands (audit replay, report, rebuild): date options, CSV and
// HTML escaping, durations. Outputs carry metadata only (seqs, kinds, agency ids, case refs,
// times), never body content or key material.
#ifndef RELAIS_TOOLS_AUDIT_FORMAT_H_
#define RELAIS_TOOLS_AUDIT_FORMAT_H_

#include <limits>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/html.h"
#include "base/status.h"

namespace relais::tools {

using base::HtmlEscape;

// --from / --to: "YYYY-MM-DD" (midnight UTC) or an ISO time; empty means unbounded (the lowest or
// highest time). kInvalidInput "bad_date" naming the option.
base::Result<base::TimeMs> ParseDateOption(std::string_view option, const std::string& text,
                                           bool is_upper_bound);

// One CSV field (RFC 4180: quoted when it holds a comma, quote, CR or LF).
std::string CsvField(std::string_view text);
// A duration in hours with one decimal ("36.0"); "-" when there are no values.
std::string Hours(base::TimeMs ms, bool any);
// An ISO UTC time, "-" for 0.
std::string TimeOrDash(base::TimeMs t);

}  // namespace relais::tools

#endif  // RELAIS_TOOLS_AUDIT_FORMAT_H_
