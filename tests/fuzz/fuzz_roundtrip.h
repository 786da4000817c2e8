// Shared body of the schema fuzz targets (libFuzzer).
//
// For any input, the decoder must return a value or a kInvalidInput "malformed" error, never crash
// (ASan/UBSan watch the memory). When it returns a value, the codec must be an exact inverse on it:
// re-encoding and re-decoding gives an equal value, and encoding is deterministic. The re-decode
// lifts the byte and traversal limits because a compact hostile encoding (lists of empty structs)
// legitimately re-encodes larger than it arrived; the count and text limits stay.
#ifndef RELAIS_TESTS_FUZZ_FUZZ_ROUNDTRIP_H_
#define RELAIS_TESTS_FUZZ_FUZZ_ROUNDTRIP_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <utility>

#include "base/bytes.h"
#include "base/status.h"
#include "schema/codec.h"
#include "tests/fuzz/fuzz_die.h"

namespace relais::fuzz {

// Returns the decoded value (or nullopt) so a target can exercise more of the API with it.
template <typename T, typename Decode, typename Encode>
std::optional<T> CheckRoundTrip(const uint8_t* data, size_t size, Decode decode, Encode encode) {
  base::ByteView input(data, size);
  schema::DecodeLimits limits;
  base::Result<T> first = decode(input, limits);
  if (!first) {
    const base::Error& e = first.error();
    if (e.kind != base::ErrorKind::kInvalidInput || e.code != "malformed" || e.message.empty()) {
      Die("decode failed with something other than invalid_input/malformed");
    }
    return std::nullopt;
  }
  base::Bytes encoded = encode(*first);
  schema::DecodeLimits relaxed = limits;
  relaxed.max_bytes = std::numeric_limits<uint64_t>::max();
  relaxed.traversal_limit_words = std::numeric_limits<uint64_t>::max();
  base::Result<T> second = decode(encoded, relaxed);
  if (!second) Die("re-encoded value does not decode");
  if (!(*second == *first)) Die("round trip changed the value");
  if (encode(*second) != encoded) Die("encoding is not deterministic");
  return std::move(*first);
}

}  // namespace relais::fuzz

#endif  // RELAIS_TESTS_FUZZ_FUZZ_ROUNDTRIP_H_
