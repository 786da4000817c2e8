#include "crypto/random.h"

#include <sodium.h>

namespace relais::crypto {

base::Bytes RandomBytes(size_t n) {
  base::Bytes out(n);
  if (n > 0) randombytes_buf(out.data(), n);  // data() may be null when empty (nonnull argument)
  return out;
}

base::Bytes NewEventId(base::TimeMs now) {
  base::Bytes id = RandomBytes(16);
  uint64_t ms = static_cast<uint64_t>(now);
  for (int i = 0; i < 6; ++i) id[i] = static_cast<uint8_t>(ms >> (40 - 8 * i));
  id[6] = static_cast<uint8_t>(0x70 | (id[6] & 0x0f));  // version 7
  id[8] = static_cast<uint8_t>(0x80 | (id[8] & 0x3f));  // variant 10
  return id;
}

std::string FormatUuid(base::ByteView id) {
  if (id.size() != 16) return base::HexEncode(id);
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kDigits[id[i] >> 4]);
    out.push_back(kDigits[id[i] & 0xf]);
  }
  return out;
}

base::Result<base::Bytes> ParseUuid(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c != '-') hex.push_back(c);
  }
  if (text.size() != 36 || hex.size() != 32 || text[8] != '-' || text[13] != '-' ||
      text[18] != '-' || text[23] != '-') {
    return base::InvalidInput("bad_uuid", "expected a UUID as 8-4-4-4-12 hex digits");
  }
  auto bytes = base::HexDecode(hex);
  if (!bytes) return base::InvalidInput("bad_uuid", "a UUID holds only hex digits and dashes");
  return bytes;
}

std::string NewCaseRef() {
  static const char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  base::Bytes r = RandomBytes(17);  // 130 bits read, 128 kept
  std::string out = "c-";
  uint32_t buffer = 0;
  int bits = 0;
  size_t i = 0;
  while (out.size() < 2 + 26) {
    if (bits < 5) {
      buffer = (buffer << 8) | r[i++];
      bits += 8;
    }
    out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
    bits -= 5;
  }
  return out;
}

}  // namespace relais::crypto
