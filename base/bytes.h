// Byte strings and their text forms (hex), and ISO 8601 time formatting.
#ifndef RELAIS_BASE_BYTES_H_
#define RELAIS_BASE_BYTES_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/status.h"

namespace relais::base {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;
// Immutable bytes with several owners: a frame handed to several connections without a copy.
using SharedBytes = std::shared_ptr<const Bytes>;

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }
inline std::string ToString(ByteView b) { return std::string(b.begin(), b.end()); }

std::string HexEncode(ByteView bytes);
// Accepts upper or lower case; an odd length or a non-hex digit is kInvalidInput "bad_hex".
Result<Bytes> HexDecode(std::string_view hex);

// Appends big-endian fixed-width integers and length-prefixed strings (u32 length, big-endian).
// These are the building blocks of every hashed or signed byte layout in docs/.
void AppendU32(Bytes& out, uint32_t v);
void AppendU64(Bytes& out, uint64_t v);
void AppendI64(Bytes& out, int64_t v);
void AppendRaw(Bytes& out, ByteView b);
void AppendLengthPrefixed(Bytes& out, ByteView b);

// "2026-11-25T18:07:43.123Z" for a TimeMs.
std::string FormatIsoUtc(TimeMs t);
// The same, appended to `out` (no allocation once `out` has room).
void AppendIsoUtc(std::string& out, TimeMs t);
// Accepts "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.mmm]]" with "Z" or "+hh:mm"/"-hh:mm" offset
// (no offset: UTC). Anything else is kInvalidInput "bad_date" naming what was wrong.
Result<TimeMs> ParseIsoTime(std::string_view text);

}  // namespace relais::base

#endif  // RELAIS_BASE_BYTES_H_
