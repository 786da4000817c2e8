// BLAKE2b-256 digests (libsodium crypto_generichash, 32-byte output, no key).
#ifndef RELAIS_CRYPTO_HASH_H_
#define RELAIS_CRYPTO_HASH_H_

#include <array>
#include <cstdint>
#include <initializer_list>

#include "base/bytes.h"

namespace relais::crypto {

constexpr size_t kDigestSize = 32;
using Digest = std::array<uint8_t, kDigestSize>;

Digest Blake2b(base::ByteView data);
// Hash of the concatenation of `parts`.
Digest Blake2b(std::initializer_list<base::ByteView> parts);

// Incremental form for long inputs.
class Blake2bHasher {
 public:
  Blake2bHasher();
  void Update(base::ByteView data);
  Digest Final();

 private:
  alignas(64) uint8_t state_[384];
};

inline base::ByteView View(const Digest& d) { return base::ByteView(d.data(), d.size()); }
inline base::Bytes ToBytes(const Digest& d) { return base::Bytes(d.begin(), d.end()); }

}  // namespace relais::crypto

#endif  // RELAIS_CRYPTO_HASH_H_
