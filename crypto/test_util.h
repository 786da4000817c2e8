// Helpers shared by the crypto tests (not part of the library).
#ifndef RELAIS_CRYPTO_TEST_UTIL_H_
#define RELAIS_CRYPTO_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/secret.h"

namespace relais::crypto::testing {

// A fresh directory under the test temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::path(::testing::TempDir()) / "relais-crypto-XXXXXX");
    RELAIS_CHECK(mkdtemp(templ.data()) != nullptr);
    path_ = templ;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& Path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteText(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

inline base::Bytes FromHex(std::string_view hex) {
  auto bytes = base::HexDecode(hex);
  RELAIS_CHECK(bytes.has_value());
  return *bytes;
}

// 32 bytes: n, n+1, n+2, ...
inline base::Bytes Seed(uint8_t n) {
  base::Bytes seed(32);
  for (size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<uint8_t>(n + i);
  return seed;
}

// Initialises libsodium once for the whole test binary.
class CryptoEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { Init(); }
};

}  // namespace relais::crypto::testing

#endif  // RELAIS_CRYPTO_TEST_UTIL_H_
