#include "crypto/key_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "base/check.h"

namespace relais::crypto::internal {

namespace {

std::string SystemError(int err) { return std::strerror(err); }

std::string OctalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool IsNameChar(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; }

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Closes a file descriptor on scope exit.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

bool WriteAll(int fd, base::ByteView data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

base::Error WriteError(const std::filesystem::path& path, std::string_view what, int err) {
  return base::InvalidInput(
      "cannot_write_key_file",
      "cannot write " + path.string() + " (" + std::string(what) + "): " + SystemError(err));
}

}  // namespace

void SecretText::Append(std::string_view text) {
  RELAIS_CHECK(size_ + text.size() <= buffer_.Size());
  std::memcpy(buffer_.Data() + size_, text.data(), text.size());
  size_ += text.size();
}

void SecretText::AppendHex(base::ByteView bytes) {
  RELAIS_CHECK(size_ + 2 * bytes.size() + 1 <= buffer_.Size());
  sodium_bin2hex(reinterpret_cast<char*>(buffer_.Data() + size_), buffer_.Size() - size_,
                 bytes.data(), bytes.size());
  size_ += 2 * bytes.size();  // the terminating NUL written by sodium_bin2hex is not kept
}

base::Result<KeyFileFields> KeyFileFields::Parse(std::string_view text, std::string_view tag,
                                                 const std::vector<std::string_view>& allowed,
                                                 std::string code,
                                                 const std::filesystem::path& path) {
  KeyFileFields fields;
  fields.code_ = std::move(code);
  fields.path_ = path;
  auto error = [&](size_t line, const std::string& what) {
    return base::InvalidInput(fields.code_,
                              path.string() + " line " + std::to_string(line) + ": " + what);
  };
  size_t number = 0;
  bool tag_seen = false;
  while (!text.empty()) {
    size_t eol = text.find('\n');
    std::string_view line = TrimRight(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++number;
    if (!tag_seen) {
      if (line != tag) {
        return error(
            number, "expected the format tag '" + std::string(tag) +
                        "' on the first line; this is not a relais " +
                        (tag.find("public") != std::string_view::npos ? "public identity" : "key") +
                        " file or its format version is not supported");
      }
      tag_seen = true;
      continue;
    }
    if (line.empty() || line.front() == '#') continue;
    size_t colon = line.find(": ");
    size_t name_end = 0;
    while (name_end < line.size() && IsNameChar(line[name_end])) ++name_end;
    if (colon == std::string_view::npos || colon == 0 || name_end != colon) {
      return error(number, "expected 'name: value'");
    }
    KeyFileLine parsed{number, line.substr(0, colon), line.substr(colon + 2)};
    bool known = false;
    for (std::string_view name : allowed) known = known || name == parsed.name;
    if (!known) return error(number, "unknown field '" + std::string(parsed.name) + "'");
    for (const KeyFileLine& other : fields.lines_) {
      if (other.name == parsed.name) {
        return error(number, "field '" + std::string(parsed.name) + "' repeats line " +
                                 std::to_string(other.number));
      }
    }
    fields.lines_.push_back(parsed);
  }
  if (!tag_seen) return error(1, "the file is empty");
  for (std::string_view name : allowed) {
    bool present = false;
    for (const KeyFileLine& l : fields.lines_) present = present || l.name == name;
    if (!present) {
      return base::InvalidInput(fields.code_,
                                path.string() + ": missing the '" + std::string(name) + "' line");
    }
  }
  return fields;
}

const KeyFileLine& KeyFileFields::Get(std::string_view name) const {
  for (const KeyFileLine& l : lines_) {
    if (l.name == name) return l;
  }
  RELAIS_CHECK_MSG(false, "KeyFileFields::Get of a field Parse did not require");
  return lines_.front();
}

base::Error KeyFileFields::LineError(const KeyFileLine& line, std::string_view what) const {
  return base::InvalidInput(code_, path_.string() + " line " + std::to_string(line.number) + " ('" +
                                       std::string(line.name) + "'): " + std::string(what));
}

base::Result<base::Bytes> KeyFileFields::Hex(std::string_view name, size_t size) const {
  const KeyFileLine& line = Get(name);
  if (line.value.size() != 2 * size) {
    return LineError(line, "expected " + std::to_string(2 * size) + " hex digits, found " +
                               std::to_string(line.value.size()) + " characters");
  }
  auto bytes = base::HexDecode(line.value);
  if (!bytes) return LineError(line, "not a hex string");
  return bytes;
}

base::Result<Secret> KeyFileFields::SecretHex(std::string_view name, size_t size) const {
  const KeyFileLine& line = Get(name);
  if (line.value.size() != 2 * size) {
    return LineError(line, "expected " + std::to_string(2 * size) + " hex digits, found " +
                               std::to_string(line.value.size()) + " characters");
  }
  Secret out(size);
  size_t decoded = 0;
  const char* end = nullptr;
  if (sodium_hex2bin(out.Data(), out.Size(), line.value.data(), line.value.size(), nullptr,
                     &decoded, &end) != 0 ||
      decoded != size || end != line.value.data() + line.value.size()) {
    return LineError(line, "not a hex string");
  }
  return out;
}

base::Result<FileText> ReadWholeFile(const std::filesystem::path& path, std::string_view kind,
                                     bool refuse_shared_mode, size_t max_bytes) {
  const std::string k(kind);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) {
      return base::NotFound("no_" + k + "_file", "no " + k + " file at " + path.string());
    }
    return base::InvalidInput("cannot_read_" + k + "_file",
                              "cannot open " + path.string() + ": " + SystemError(err));
  }
  FdCloser closer(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return base::InvalidInput("cannot_read_" + k + "_file",
                              "cannot stat " + path.string() + ": " + SystemError(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return base::InvalidInput("bad_" + k + "_file", path.string() + " is not a regular file");
  }
  // Checked on the open descriptor, so the file cannot be swapped between check and read.
  if (refuse_shared_mode && (st.st_mode & 077) != 0) {
    return base::NotAuthorised(
        "key_file_permissions",
        path.string() + " has mode " + OctalMode(st.st_mode) +
            ", which lets group or other users access the secret keys; refusing to use it. Run "
            "`chmod 600 " +
            path.string() + "` (and consider the keys exposed if others could read them)");
  }
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return base::InvalidInput("bad_" + k + "_file", path.string() + " is larger than " +
                                                        std::to_string(max_bytes) + " bytes");
  }
  // One spare byte so a file that grew since fstat is detected as too large, not truncated.
  FileText out{Secret(static_cast<size_t>(st.st_size) + 1), 0};
  for (;;) {
    if (out.size == out.content.Size()) {
      return base::InvalidInput("bad_" + k + "_file", path.string() + " changed while read");
    }
    ssize_t n = ::read(fd, out.content.Data() + out.size, out.content.Size() - out.size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return base::InvalidInput("cannot_read_" + k + "_file",
                                "cannot read " + path.string() + ": " + SystemError(errno));
    }
    if (n == 0) break;
    out.size += static_cast<size_t>(n);
  }
  return out;
}

base::Status WriteFileAtomically(const std::filesystem::path& path, base::ByteView content,
                                 unsigned mode, bool overwrite) {
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  uint8_t suffix_bytes[8];
  randombytes_buf(suffix_bytes, sizeof suffix_bytes);
  std::filesystem::path tmp =
      dir / ("." + path.filename().string() + ".tmp-" + base::HexEncode(suffix_bytes));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return WriteError(tmp, "create", errno);
  FdCloser closer(fd);
  auto fail = [&](std::string_view what) {
    int err = errno;
    ::unlink(tmp.c_str());
    return WriteError(path, what, err);
  };
  // fchmod: the mode given to open() is filtered by the umask; the result must not depend on it.
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) return fail("fchmod");
  if (!WriteAll(fd, content)) return fail("write");
  if (::fsync(fd) != 0) return fail("fsync");
  if (::close(closer.Release()) != 0) return fail("close");
  if (overwrite) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  } else {
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      if (err == EEXIST) {
        return base::InvalidInput("key_file_exists",
                                  path.string() + " already exists; refusing to overwrite it");
      }
      return WriteError(path, "link", err);
    }
    ::unlink(tmp.c_str());
  }
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return base::Ok();
}

}  // namespace relais::crypto::internal
