#include "base/bytes.h"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace relais::base {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `width` digits at text[pos].
bool ReadDigits(std::string_view text, size_t pos, size_t width, int& out) {
  if (pos + width > text.size()) return false;
  int v = 0;
  for (size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

Error BadDate(std::string_view why) {
  return InvalidInput("bad_date", "expected an ISO 8601 date or date-time: " + std::string(why));
}

}  // namespace

std::string HexEncode(ByteView bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

Result<Bytes> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidInput("bad_hex", "hex text has an odd number of digits");
  Bytes out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]);
    int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidInput("bad_hex", "not a hex digit at position " + std::to_string(i));
    }
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

void AppendU32(Bytes& out, uint32_t v) {
  const uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                        static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  out.insert(out.end(), b, b + 4);
}

void AppendU64(Bytes& out, uint64_t v) {
  AppendU32(out, static_cast<uint32_t>(v >> 32));
  AppendU32(out, static_cast<uint32_t>(v));
}

void AppendI64(Bytes& out, int64_t v) { AppendU64(out, static_cast<uint64_t>(v)); }

void AppendRaw(Bytes& out, ByteView b) { out.insert(out.end(), b.begin(), b.end()); }

void AppendLengthPrefixed(Bytes& out, ByteView b) {
  AppendU32(out, static_cast<uint32_t>(b.size()));
  AppendRaw(out, b);
}

std::string FormatIsoUtc(TimeMs t) {
  std::string out;
  AppendIsoUtc(out, t);
  return out;
}

void AppendIsoUtc(std::string& out, TimeMs t) {
  int64_t secs = t >= 0 ? t / 1000 : (t - 999) / 1000;
  int ms = static_cast<int>(t - secs * 1000);
  time_t tt = static_cast<time_t>(secs);
  struct tm tm_utc;
  gmtime_r(&tt, &tm_utc);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm_utc.tm_year + 1900,
                tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec,
                ms);
  out.append(buf);
}

Result<TimeMs> ParseIsoTime(std::string_view text) {
  int y, mo, d, h = 0, mi = 0, s = 0, ms = 0;
  if (!ReadDigits(text, 0, 4, y) || text.size() < 10 || text[4] != '-' ||
      !ReadDigits(text, 5, 2, mo) || text[7] != '-' || !ReadDigits(text, 8, 2, d)) {
    return BadDate("the date part must be YYYY-MM-DD");
  }
  if (mo < 1 || mo > 12) return BadDate("month out of range");
  if (d < 1 || d > DaysInMonth(y, mo)) return BadDate("day out of range for that month");
  size_t pos = 10;
  int64_t offset_min = 0;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != ' ') return BadDate("expected 'T' after the date");
    if (!ReadDigits(text, pos + 1, 2, h) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !ReadDigits(text, pos + 4, 2, mi)) {
      return BadDate("the time part must be HH:MM");
    }
    pos += 6;
    if (pos < text.size() && text[pos] == ':') {
      if (!ReadDigits(text, pos + 1, 2, s)) return BadDate("seconds must be two digits");
      pos += 3;
      if (pos < text.size() && text[pos] == '.') {
        size_t start = ++pos;
        int frac = 0, digits = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (digits < 3) frac = frac * 10 + (text[pos] - '0'), ++digits;
          ++pos;
        }
        if (pos == start) return BadDate("empty fraction of a second");
        while (digits < 3) frac *= 10, ++digits;
        ms = frac;
      }
    }
    if (h > 23 || mi > 59 || s > 60) return BadDate("time of day out of range");
    if (pos < text.size()) {
      char sign = text[pos];
      if (sign == 'Z' && pos + 1 == text.size()) {
        pos += 1;
      } else if ((sign == '+' || sign == '-') && pos + 6 == text.size() && text[pos + 3] == ':') {
        int oh, om;
        if (!ReadDigits(text, pos + 1, 2, oh) || !ReadDigits(text, pos + 4, 2, om) || oh > 23 ||
            om > 59) {
          return BadDate("bad UTC offset");
        }
        offset_min = (sign == '+' ? 1 : -1) * (oh * 60 + om);
        pos += 6;
      } else {
        return BadDate("unexpected text after the time");
      }
    }
  }
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offset_min * 60;
  return secs * 1000 + ms;
}

}  // namespace relais::base
