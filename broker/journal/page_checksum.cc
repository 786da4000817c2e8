#include "broker/journal/page_checksum.h"

#include <cstring>

namespace relais::journal::internal {

namespace {

// Odd 64-bit multipliers (so multiplication by them is a bijection modulo 2^64).
constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kP3 = 0x165667B19E3779F9ull;
// "relais-journal-page-v1" folded into 64 bits: the seed, so foreign checksums do not verify.
constexpr uint64_t kSeed = 0x72656C6169737031ull;

uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (__BYTE_ORDER__ == __ORDER_BIG_ENDIAN__) v = __builtin_bswap64(v);
  return v;
}

// Bijective in `acc` for a fixed word and in `word` for a fixed acc.
uint64_t Round(uint64_t acc, uint64_t word) { return Rotl(acc + word * kP2, 31) * kP1; }

}  // namespace

bool IsPageSize(int64_t size) { return size >= 512 && size <= 65536 && (size & (size - 1)) == 0; }

uint64_t PageChecksum(const uint8_t* page, size_t size, uint64_t pgno) {
  const size_t words = (size - kPageChecksumBytes) / 8;
  uint64_t lane[4] = {kSeed + kP1, kSeed ^ kP2, kSeed + pgno * kP3, Rotl(kSeed, 17) ^ pgno};
  size_t i = 0;
  for (; i + 4 <= words; i += 4) {
    const uint8_t* p = page + i * 8;
    lane[0] = Round(lane[0], Load64(p));
    lane[1] = Round(lane[1], Load64(p + 8));
    lane[2] = Round(lane[2], Load64(p + 16));
    lane[3] = Round(lane[3], Load64(p + 24));
  }
  // Each addend is a bijection of its lane, so the sum is a bijection of each lane.
  uint64_t h = Rotl(lane[0], 1) + Rotl(lane[1], 7) + Rotl(lane[2], 12) + Rotl(lane[3], 18);
  for (; i < words; ++i) h = Rotl(h ^ Round(0, Load64(page + i * 8)), 27) * kP1 + kP3;
  h ^= pgno * kP1;
  // Final avalanche (xor-shift and odd multiply are bijections).
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h == 0 ? kSeed : h;
}

void SealPage(uint8_t* page, size_t size, uint64_t pgno) {
  uint64_t c = PageChecksum(page, size, pgno);
  for (int b = 0; b < kPageChecksumBytes; ++b) page[size - kPageChecksumBytes + b] = c >> (8 * b);
}

bool PageVerifies(const uint8_t* page, size_t size, uint64_t pgno) {
  uint64_t stored = 0;
  for (int b = 0; b < kPageChecksumBytes; ++b) {
    stored |= uint64_t{page[size - kPageChecksumBytes + b]} << (8 * b);
  }
  return stored == PageChecksum(page, size, pgno);
}

}  // namespace relais::journal::internal
