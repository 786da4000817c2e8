// libFuzzer target: the key files of crypto/ (docs/keys.md): an agency identity's .key and .pub
// files (LoadIdentity, LoadPublicIdentity) and the at-rest key file of adapters' local stores
// (LoadAtRestKeyFile), through the real loaders: the input is written to a 0600 file in a
// private temporary directory. Also Z85Decode on the input, which must invert Z85Encode.
// Besides not crashing, checks that errors are the documented codes and that a loaded identity's
// key id matches its signing key.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include "crypto/at_rest.h"
#include "crypto/identity.h"
#include "crypto/secret.h"
#include "crypto/sign.h"
#include "tests/fuzz/fuzz_die.h"

using relais::fuzz::Die;

namespace {

std::filesystem::path& Dir() {
  static std::filesystem::path dir;
  return dir;
}

void WriteFile(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) Die("cannot write the input file");
  if (size > 0 && ::write(fd, data, size) != static_cast<ssize_t>(size)) Die("short write");
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  relais::crypto::Init();
  std::string tmpl = (std::filesystem::temp_directory_path() / "relais-fuzz-key-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp");
  Dir() = tmpl;
  std::atexit([] { std::filesystem::remove_all(Dir()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  const std::filesystem::path path = Dir() / "input";
  WriteFile(path, data, size);
  auto id = crypto::LoadIdentity(path);
  if (id) {
    if (id->pub.key_id != crypto::KeyId(id->pub.sign_public)) Die("key id does not match");
  } else if (id.error().code != "bad_key_file" && id.error().code != "cannot_read_key_file") {
    Die("unexpected LoadIdentity error");
  }
  auto pub = crypto::LoadPublicIdentity(path);
  if (pub) {
    if (pub->key_id != crypto::KeyId(pub->sign_public)) Die("pub key id does not match");
  } else if (pub.error().code != "bad_pub_file" && pub.error().code != "cannot_read_pub_file") {
    Die("unexpected LoadPublicIdentity error");
  }
  auto at_rest = crypto::LoadAtRestKeyFile(path);
  if (at_rest) {
    if (at_rest->secret().Size() != crypto::kAtRestKeySize) Die("at-rest key size");
  } else if (at_rest.error().code != "bad_key_file" &&
             at_rest.error().code != "cannot_read_key_file") {
    Die("unexpected LoadAtRestKeyFile error");
  }
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto z85 = crypto::Z85Decode(text);
  if (z85 && crypto::Z85Encode(*z85) != text) Die("Z85 does not round-trip");
  return 0;
}
