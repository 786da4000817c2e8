// Internal to crypto/: the line-based key file format of docs/keys.md and the file I/O around it.
// Not part of the module's public interface; identity.cc is its only user.
//
// A key file is a format tag line followed by `name: value` lines; blank lines and lines starting
// with '#' are ignored. Parsing works on views into a guarded buffer so secret values are never
// copied into ordinary heap memory, and errors name lines and fields, never values.
#ifndef RELAIS_CRYPTO_KEY_FILE_H_
#define RELAIS_CRYPTO_KEY_FILE_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/secret.h"

namespace relais::crypto::internal {

// Text assembled in guarded memory (for files that hold secrets).
class SecretText {
 public:
  explicit SecretText(size_t capacity) : buffer_(capacity) {}
  void Append(std::string_view text);
  void AppendHex(base::ByteView bytes);
  base::ByteView View() const { return base::ByteView(buffer_.Data(), size_); }

 private:
  Secret buffer_;
  size_t size_ = 0;
};

struct KeyFileLine {
  size_t number = 0;  // 1-based
  std::string_view name;
  std::string_view value;
};

// The parsed lines of one key file; views into the text given to Parse (which must outlive it).
class KeyFileFields {
 public:
  // `code` is the error code for format errors ("bad_key_file" / "bad_pub_file"); `path` is
  // named in every message.
  static base::Result<KeyFileFields> Parse(std::string_view text, std::string_view tag,
                                           const std::vector<std::string_view>& allowed_names,
                                           std::string code, const std::filesystem::path& path);

  // The line for `name`, which Parse guarantees is present exactly once.
  const KeyFileLine& Get(std::string_view name) const;
  // kInvalidInput `code` naming `line`: "<path> line N ('name'): <what>".
  base::Error LineError(const KeyFileLine& line, std::string_view what) const;

  // Exactly `size` bytes of hex (2*size digits), decoded.
  base::Result<base::Bytes> Hex(std::string_view name, size_t size) const;
  // The same into guarded memory, for secret values.
  base::Result<Secret> SecretHex(std::string_view name, size_t size) const;

 private:
  std::vector<KeyFileLine> lines_;
  std::string code_;
  std::filesystem::path path_;
};

// A whole file read into guarded memory.
struct FileText {
  Secret content;
  size_t size = 0;
  std::string_view Text() const {
    return std::string_view(reinterpret_cast<const char*>(content.Data()), size);
  }
};

// Reads a whole file (at most max_bytes) into guarded memory, checking it is a regular file.
// With refuse_shared_mode, a file whose mode grants any permission to group or others is
// kNotAuthorised "key_file_permissions". `kind` names the file in error codes: "key" gives
// kNotFound "no_key_file", kInvalidInput "cannot_read_key_file" and "bad_key_file".
base::Result<FileText> ReadWholeFile(const std::filesystem::path& path, std::string_view kind,
                                     bool refuse_shared_mode, size_t max_bytes);

// Writes `content` to a temporary file in the same directory (created O_EXCL with mode 0600,
// fchmod'ed to `mode`), fsyncs it and moves it to `path`: rename() with overwrite, link() (which
// fails if `path` exists) without. Then fsyncs the directory. Errors: kInvalidInput
// "key_file_exists" (without overwrite), "cannot_write_key_file" naming the path and the system
// error.
base::Status WriteFileAtomically(const std::filesystem::path& path, base::ByteView content,
                                 unsigned mode, bool overwrite);

}  // namespace relais::crypto::internal

#endif  // RELAIS_CRYPTO_KEY_FILE_H_
