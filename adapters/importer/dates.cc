#include "adapters/importer/dates.h"

#include <cstdio>

namespace relais::importer {

namespace {

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Parses exactly `n` digits at text[pos].
std::optional<int> Digits(std::string_view text, size_t pos, size_t n) {
  if (pos + n > text.size()) return std::nullopt;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

}  // namespace

std::optional<CivilDate> ParseDate(std::string_view text) {
  if (text.size() != 10) return std::nullopt;
  std::optional<int> y, m, d;
  if (text[4] == '-' && text[7] == '-') {
    y = Digits(text, 0, 4), m = Digits(text, 5, 2), d = Digits(text, 8, 2);
  } else if (text[2] == '/' && text[5] == '/') {
    d = Digits(text, 0, 2), m = Digits(text, 3, 2), y = Digits(text, 6, 4);
  }
  if (!y || !m || !d || *y < 1900 || *y > 2199 || *m < 1 || *m > 12 || *d < 1 ||
      *d > DaysInMonth(*y, *m)) {
    return std::nullopt;
  }
  return CivilDate{*y, *m, *d};
}

std::string FormatDate(const CivilDate& date) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02d", date.year, date.month, date.day);
  return buf;
}

// Howard Hinnant's days_from_civil / civil_from_days.
int64_t DaysFromCivil(const CivilDate& date) {
  int64_t y = date.year - (date.month <= 2 ? 1 : 0);
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t mp = (date.month + 9) % 12;
  int64_t doy = (153 * mp + 2) / 5 + date.day - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilDate CivilFromDays(int64_t z) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  int y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
  return {y, m, d};
}

base::TimeMs ToTimeMs(const CivilDate& date) { return DaysFromCivil(date) * base::kMsPerDay; }

CivilDate FromTimeMs(base::TimeMs t) {
  int64_t days = t >= 0 ? t / base::kMsPerDay : (t - base::kMsPerDay + 1) / base::kMsPerDay;
  return CivilFromDays(days);
}

CivilDate AddYears(const CivilDate& date, int years) {
  CivilDate out{date.year + years, date.month, date.day};
  if (out.day > DaysInMonth(out.year, out.month)) out.day = DaysInMonth(out.year, out.month);
  return out;
}

CivilDate AddMonths(const CivilDate& date, int months) {
  int index = date.year * 12 + (date.month - 1) + months;
  CivilDate out{index / 12, index % 12 + 1, date.day};
  if (out.day > DaysInMonth(out.year, out.month)) out.day = DaysInMonth(out.year, out.month);
  return out;
}

}  // namespace relais::importer
