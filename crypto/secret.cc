#include "crypto/secret.h"

#include <sodium.h>

#include <cstring>
#include <utility>

#include "base/check.h"

namespace relais::crypto {

void Init() { RELAIS_CHECK_MSG(sodium_init() >= 0, "libsodium failed to initialise"); }

Secret::Secret(size_t size) : size_(size) {
  if (size == 0) return;
  data_ = static_cast<uint8_t*>(sodium_malloc(size));
  RELAIS_CHECK_MSG(data_ != nullptr, "sodium_malloc failed");
  sodium_memzero(data_, size);
}

Secret::~Secret() {
  if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before releasing
}

Secret::Secret(Secret&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

Secret& Secret::operator=(Secret&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

Secret Secret::Copy(base::ByteView bytes) {
  Secret s(bytes.size());
  if (!bytes.empty()) std::memcpy(s.data_, bytes.data(), bytes.size());
  return s;
}

}  // namespace relais::crypto
