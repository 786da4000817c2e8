// Z85 as specified by ZeroMQ RFC 32 (https://rfc.zeromq.org/spec/32/): every 4 bytes, read as a
// big-endian 32-bit number, become 5 characters, most significant base-85 digit first.
#include <array>

#include "base/check.h"
#include "crypto/identity.h"

namespace relais::crypto {

namespace {

constexpr char kZ85Alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
static_assert(sizeof kZ85Alphabet == 85 + 1);

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 85; ++i)
    table[static_cast<uint8_t>(kZ85Alphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr std::array<int8_t, 256> kZ85Decode = MakeDecodeTable();

}  // namespace

std::string Z85Encode(base::ByteView key32) {
  RELAIS_CHECK_MSG(key32.size() % 4 == 0, "Z85 encodes multiples of 4 bytes");
  std::string out;
  out.reserve(key32.size() / 4 * 5);
  for (size_t i = 0; i < key32.size(); i += 4) {
    uint32_t value = static_cast<uint32_t>(key32[i]) << 24 |
                     static_cast<uint32_t>(key32[i + 1]) << 16 |
                     static_cast<uint32_t>(key32[i + 2]) << 8 | key32[i + 3];
    char group[5];
    for (int j = 4; j >= 0; --j) {
      group[j] = kZ85Alphabet[value % 85];
      value /= 85;
    }
    out.append(group, 5);
  }
  return out;
}

base::Result<base::Bytes> Z85Decode(std::string_view text) {
  if (text.size() % 5 != 0) {
    return base::InvalidInput("bad_z85", "Z85 text must be a multiple of 5 characters long, got " +
                                             std::to_string(text.size()));
  }
  base::Bytes out;
  out.reserve(text.size() / 5 * 4);
  for (size_t i = 0; i < text.size(); i += 5) {
    uint64_t value = 0;
    for (size_t j = 0; j < 5; ++j) {
      int8_t digit = kZ85Decode[static_cast<uint8_t>(text[i + j])];
      if (digit < 0) {
        return base::InvalidInput(
            "bad_z85", "character " + std::to_string(i + j) + " is not in the Z85 alphabet");
      }
      value = value * 85 + static_cast<uint64_t>(digit);
    }
    if (value > 0xffffffffu) {
      return base::InvalidInput("bad_z85",
                                "the group at character " + std::to_string(i) + " exceeds 32 bits");
    }
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<uint8_t>(value >> shift));
  }
  return out;
}

}  // namespace relais::crypto
