#include "adapters/importer/text.h"

#include <algorithm>
#include <cstdint>

namespace relais::importer {

namespace {

// Windows-1252 code points for 0x80-0x9f (0 where the code page leaves the byte undefined).
constexpr uint16_t kCp1252High[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017d, 0,      0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178};

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Length of the valid UTF-8 sequence at s[i], 0 when invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  uint32_t cp = c & (0x7f >> len);
  for (size_t k = 1; k < len; ++k) {
    auto cont = static_cast<unsigned char>(s[i + k]);
    if ((cont & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cont & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

}  // namespace

std::optional<Charset> ParseCharset(std::string_view name) {
  if (name == "auto") return Charset::kAuto;
  if (name == "utf-8" || name == "utf8") return Charset::kUtf8;
  if (name == "latin-1" || name == "latin1" || name == "iso-8859-1" || name == "windows-1252") {
    return Charset::kLatin1;
  }
  return std::nullopt;
}

bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t len = Utf8SequenceLength(text, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string Latin1ToUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    uint32_t cp = c;
    if (c >= 0x80 && c < 0xa0) cp = kCp1252High[c - 0x80] != 0 ? kCp1252High[c - 0x80] : 0xfffd;
    AppendUtf8(out, cp);
  }
  return out;
}

base::Result<std::string> DecodeText(std::string_view bytes, Charset charset) {
  constexpr std::string_view kBom = "\xef\xbb\xbf";
  if (bytes.substr(0, kBom.size()) == kBom) bytes.remove_prefix(kBom.size());
  if (charset == Charset::kLatin1) return Latin1ToUtf8(bytes);
  for (size_t i = 0; i < bytes.size();) {
    size_t len = Utf8SequenceLength(bytes, i);
    if (len != 0) {
      i += len;
      continue;
    }
    if (charset == Charset::kAuto) return Latin1ToUtf8(bytes);
    size_t line = 1 + std::count(bytes.begin(), bytes.begin() + i, '\n');
    return base::InvalidInput(
        "bad_charset", "line " + std::to_string(line) + ": not UTF-8 (try --charset latin-1)");
  }
  return std::string(bytes);
}

}  // namespace relais::importer
