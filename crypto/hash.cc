#include "crypto/hash.h"

#include <sodium.h>

#include "base/check.h"

namespace relais::crypto {

static_assert(sizeof(crypto_generichash_state) <= 384, "Blake2bHasher state buffer too small");

Digest Blake2b(base::ByteView data) {
  Digest out;
  crypto_generichash(out.data(), out.size(), data.data(), data.size(), nullptr, 0);
  return out;
}

Digest Blake2b(std::initializer_list<base::ByteView> parts) {
  Blake2bHasher h;
  for (auto p : parts) h.Update(p);
  return h.Final();
}

Blake2bHasher::Blake2bHasher() {
  crypto_generichash_init(reinterpret_cast<crypto_generichash_state*>(state_), nullptr, 0,
                          kDigestSize);
}

void Blake2bHasher::Update(base::ByteView data) {
  crypto_generichash_update(reinterpret_cast<crypto_generichash_state*>(state_), data.data(),
                            data.size());
}

Digest Blake2bHasher::Final() {
  Digest out;
  crypto_generichash_final(reinterpret_cast<crypto_generichash_state*>(state_), out.data(),
                           out.size());
  return out;
}

}  // namespace relais::crypto
