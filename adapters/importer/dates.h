// Calendar dates of input lists: "2026-03-31" (ISO 8601) or "31/03/2026" (French usage).
// A date stands for 00:00 UTC of that day when turned into a time (dueAt, docs/adapters/).
#ifndef RELAIS_ADAPTERS_IMPORTER_DATES_H_
#define RELAIS_ADAPTERS_IMPORTER_DATES_H_

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"

namespace relais::importer {

struct CivilDate {
  int year = 0;
  int month = 0;  // 1-12
  int day = 0;    // 1-31
  auto operator<=>(const CivilDate&) const = default;
};

// std::nullopt for anything else than YYYY-MM-DD or DD/MM/YYYY naming a real day in 1900-2199.
std::optional<CivilDate> ParseDate(std::string_view text);
std::string FormatDate(const CivilDate& date);  // ISO 8601

int64_t DaysFromCivil(const CivilDate& date);  // days since 1970-01-01
CivilDate CivilFromDays(int64_t days);
base::TimeMs ToTimeMs(const CivilDate& date);  // 00:00 UTC
CivilDate FromTimeMs(base::TimeMs t);          // the UTC day of t

// The same day `years` later; 29 February becomes 28 February in a common year.
CivilDate AddYears(const CivilDate& date, int years);
CivilDate AddMonths(const CivilDate& date, int months);  // day clamped to the month's end

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_DATES_H_
