#include "broker/journal/integrity.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "broker/journal/page_checksum.h"

namespace relais::journal::internal {

namespace {

base::Error Corrupt(const std::string& what) { return base::Corruption("journal_corrupt", what); }

uint32_t Be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// An fd closed on scope exit.
class File {
 public:
  explicit File(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {}
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  bool ok() const { return fd_ >= 0; }
  int64_t Size() const {
    struct stat st {};
    return ::fstat(fd_, &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
  }
  // Reads up to n bytes at off; returns the count read (short at the end of file), -1 on error.
  int64_t ReadAt(uint8_t* buf, int64_t n, int64_t off) const {
    int64_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd_, buf + done, static_cast<size_t>(n - done), off + done);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return -1;
      if (r == 0) break;
      done += r;
    }
    return done;
  }

 private:
  int fd_;
};

base::Error IoError(const std::string& path) {
  return base::FailStop("journal_failed", "cannot read " + path + ": " + std::strerror(errno));
}

// SQLite's WAL checksum: pairs of 32-bit words, in the byte order the WAL magic names.
void WalSum(bool big_endian, const uint8_t* p, size_t n, uint32_t* s1, uint32_t* s2) {
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint32_t x0, x1;
    if (big_endian) {
      x0 = Be32(p + i);
      x1 = Be32(p + i + 4);
    } else {
      std::memcpy(&x0, p + i, 4);
      std::memcpy(&x1, p + i + 4, 4);
    }
    *s1 += x0 + *s2;
    *s2 += x1 + *s1;
  }
}

constexpr uint32_t kWalMagic = 0x377f0682;
constexpr int64_t kWalHeader = 32;
constexpr int64_t kFrameHeader = 24;

}  // namespace

base::Result<std::optional<DbHeader>> ReadDbHeader(const std::string& path) {
  File f(path);
  if (!f.ok()) {
    if (errno == ENOENT) return std::optional<DbHeader>();
    return IoError(path);
  }
  DbHeader h;
  h.file_size = f.Size();
  if (h.file_size == 0) return std::optional<DbHeader>();
  uint8_t d[100];
  if (f.ReadAt(d, sizeof d, 0) != static_cast<int64_t>(sizeof d)) {
    return Corrupt("the database file is shorter than its header (" + std::to_string(h.file_size) +
                   " bytes)");
  }
  if (std::memcmp(d, "SQLite format 3", 16) != 0) {
    return Corrupt("the database file does not start with the SQLite header");
  }
  h.page_size = (int64_t{d[16]} << 8) | d[17];
  if (h.page_size == 1) h.page_size = 65536;
  if (!IsPageSize(h.page_size)) return Corrupt("the database header has an invalid page size");
  h.reserved = d[kHeaderReservedByte];
  // The in-header size is valid when the change counter equals "version valid for".
  if (std::memcmp(d + 24, d + 92, 4) == 0) h.page_count = Be32(d + 28);
  h.user_version = Be32(d + 60);
  return std::optional<DbHeader>(h);
}

base::Result<WalState> CheckWal(const std::string& wal_path) {
  WalState state;
  File f(wal_path);
  if (!f.ok()) {
    if (errno == ENOENT) return state;
    return IoError(wal_path);
  }
  const int64_t size = f.Size();
  if (size < kWalHeader) return state;  // no header was ever completed: nothing committed
  uint8_t hdr[kWalHeader];
  if (f.ReadAt(hdr, kWalHeader, 0) != kWalHeader) return IoError(wal_path);
  const uint32_t magic = Be32(hdr);
  const int64_t page_size = Be32(hdr + 8);
  bool valid =
      (magic & 0xfffffffe) == kWalMagic && Be32(hdr + 4) == 3007000 && IsPageSize(page_size);
  const bool big_endian = (magic & 1) != 0;
  uint32_t s1 = 0, s2 = 0;
  if (valid) {
    WalSum(big_endian, hdr, 24, &s1, &s2);
    valid = s1 == Be32(hdr + 24) && s2 == Be32(hdr + 28);
  }
  if (!valid) {
    if (size > kWalHeader) return Corrupt("the WAL header is damaged and frames follow it");
    return state;
  }
  const int64_t frame_size = kFrameHeader + page_size;
  std::vector<uint8_t> frame(static_cast<size_t>(frame_size));
  int64_t n = 0;
  std::optional<int64_t> damaged;  // first frame that breaks the chain
  for (int64_t off = kWalHeader; off + frame_size <= size; off += frame_size, ++n) {
    if (f.ReadAt(frame.data(), frame_size, off) != frame_size) return IoError(wal_path);
    const bool salts = std::memcmp(frame.data() + 8, hdr + 16, 8) == 0;
    const bool commit = Be32(frame.data() + 4) != 0;
    if (damaged) {
      if (salts && commit) {
        return Corrupt("WAL frame " + std::to_string(*damaged + 1) +
                       " is damaged and committed frames follow it");
      }
      continue;
    }
    uint32_t c1 = s1, c2 = s2;
    WalSum(big_endian, frame.data(), 8, &c1, &c2);
    WalSum(big_endian, frame.data() + kFrameHeader, static_cast<size_t>(page_size), &c1, &c2);
    const bool sums = c1 == Be32(frame.data() + 16) && c2 == Be32(frame.data() + 20);
    const bool page_ok = Be32(frame.data()) != 0;
    if (salts && sums && page_ok) {
      s1 = c1;
      s2 = c2;
      if (commit) {
        state.committed_frames = n + 1;
        state.committed_bytes = off + frame_size;
      }
      continue;
    }
    if (!salts && !sums) break;  // a frame of an earlier WAL generation: the log ends here
    if (!salts) {
      return Corrupt("WAL frame " + std::to_string(n + 1) + " has damaged salts");
    }
    if (commit) return Corrupt("WAL commit frame " + std::to_string(n + 1) + " is damaged");
    damaged = n;
  }
  return state;
}

base::Status CheckDbFile(const DbHeader& h, const std::string& path, bool wal_committed,
                         bool checksums) {
  if (checksums && h.user_version >= 3 && h.reserved != kPageChecksumBytes) {
    return Corrupt("format " + std::to_string(h.user_version) + " but " +
                   std::to_string(h.reserved) + " reserved bytes per page");
  }
  if (h.file_size % h.page_size != 0) {
    return Corrupt("the database file size " + std::to_string(h.file_size) +
                   " is not a whole number of pages");
  }
  if (!wal_committed && h.page_count != 0 && h.page_count * h.page_size != h.file_size) {
    return Corrupt("the database header counts " + std::to_string(h.page_count) +
                   " pages, the file holds " + std::to_string(h.file_size / h.page_size));
  }
  if (h.reserved == kPageChecksumBytes) {
    File f(path);
    if (!f.ok()) return IoError(path);
    std::vector<uint8_t> page(static_cast<size_t>(h.page_size));
    if (f.ReadAt(page.data(), h.page_size, 0) != h.page_size ||
        !PageVerifies(page.data(), page.size(), 1)) {
      return Corrupt("page 1 fails its checksum");
    }
  }
  return base::Ok();
}

constexpr int64_t kPendingByteOffset = int64_t{1} << 30;  // SQLite's PENDING_BYTE (0x40000000)

base::Result<ScrubStats> ScrubPages(const std::string& path, const std::atomic<bool>* stop,
                                    int retries) {
  const int64_t start_us = base::MonotonicMicros();
  RELAIS_ASSIGN_OR_RETURN(std::optional<DbHeader> header, ReadDbHeader(path));
  ScrubStats stats;
  if (!header) return stats;
  if (header->reserved != kPageChecksumBytes) {
    return Corrupt("the database has no page checksums (" + std::to_string(header->reserved) +
                   " reserved bytes per page)");
  }
  File f(path);
  if (!f.ok()) return IoError(path);
  const int64_t page_size = header->page_size;
  constexpr int64_t kChunk = 1 << 20;
  const int64_t per_chunk = std::max<int64_t>(1, kChunk / page_size);
  std::vector<uint8_t> buf(static_cast<size_t>(per_chunk * page_size));
  for (int64_t off = 0;; off += per_chunk * page_size) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) break;
    const int64_t got = f.ReadAt(buf.data(), per_chunk * page_size, off);
    if (got < 0) return IoError(path);
    const int64_t pages = got / page_size;
    for (int64_t i = 0; i < pages; ++i) {
      uint8_t* page = buf.data() + i * page_size;
      const int64_t pgno = off / page_size + i + 1;
      // SQLite never writes the page holding the lock bytes at offset 1 GiB (its "pending byte"
      // page): a journal past 1 GiB has one page without a checksum there.
      if (pgno == kPendingByteOffset / page_size + 1) continue;
      bool ok = PageVerifies(page, static_cast<size_t>(page_size), static_cast<uint64_t>(pgno));
      for (int r = 0; !ok && r < retries; ++r) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ok = f.ReadAt(page, page_size, (pgno - 1) * page_size) == page_size &&
             PageVerifies(page, static_cast<size_t>(page_size), static_cast<uint64_t>(pgno));
      }
      if (!ok) return Corrupt("page " + std::to_string(pgno) + " fails its checksum");
    }
    stats.pages += pages;
    stats.bytes += pages * page_size;
    if (got < per_chunk * page_size) {
      if (got % page_size != 0) {
        return Corrupt("the database file ends inside page " +
                       std::to_string(off / page_size + pages + 1));
      }
      break;
    }
  }
  stats.micros = base::MonotonicMicros() - start_us;
  return stats;
}

}  // namespace relais::journal::internal
