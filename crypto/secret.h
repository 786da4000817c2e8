// Secret key material in libsodium guarded memory (sodium_malloc): move-only, wiped on
// destruction, never printed. The only way to read it is Data(), for passing to libsodium.
#ifndef RELAIS_CRYPTO_SECRET_H_
#define RELAIS_CRYPTO_SECRET_H_

#include <cstddef>
#include <cstdint>

#include "base/bytes.h"

namespace relais::crypto {

// Must be called once before any other crypto function (main() or a test's setup). Idempotent.
void Init();

class Secret {
 public:
  Secret() = default;
  explicit Secret(size_t size);  // zero-filled guarded allocation
  ~Secret();
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;

  static Secret Copy(base::ByteView bytes);

  uint8_t* Data() { return data_; }
  const uint8_t* Data() const { return data_; }
  size_t Size() const { return size_; }
  bool Empty() const { return size_ == 0; }
  base::ByteView View() const { return base::ByteView(data_, size_); }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace relais::crypto

#endif  // RELAIS_CRYPTO_SECRET_H_
