#include "tests/bench/e2e_limits.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cstdio>

#include "base/clock.h"
#include "broker/journal/testing/events.h"
#include "broker/journal/testing/plain_baseline.h"
#include "crypto/random.h"
#include "crypto/sign.h"

namespace relais::bench {
namespace {

constexpr int64_t kMinRunUs = 2'000'000;

// Verifications of 256 different signed 114-byte messages (the size of the envelope's signing
// message: domain ‖ three 32-byte digests), on the calling thread, for at least kMinRunUs.
double VerifyRate() {
  const crypto::SigningKeyPair keys = crypto::GenerateSigningKeyPair();
  std::vector<base::Bytes> messages, signatures;
  for (size_t i = 0; i < 256; ++i) {
    messages.push_back(crypto::RandomBytes(32 * 3 + 18));
    signatures.push_back(crypto::Sign(keys.secret_key, messages.back()));
  }
  size_t n = 0, ok = 0;
  const int64_t start = base::MonotonicMicros();
  int64_t elapsed = 0;
  while (elapsed < kMinRunUs) {
    for (size_t i = 0; i < 256; ++i, ++n) {
      ok += crypto::Verify(keys.public_key, messages[i], signatures[i]).has_value();
    }
    elapsed = base::MonotonicMicros() - start;
  }
  if (ok != n) std::fprintf(stderr, "warning: %zu verifications failed\n", n - ok);
  return static_cast<double>(n) * 1e6 / static_cast<double>(elapsed);
}

double FdatasyncRate(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "fdatasync.probe";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 0;
  char page[4096] = {};
  size_t n = 0;
  const int64_t start = base::MonotonicMicros();
  int64_t elapsed = 0;
  while (elapsed < kMinRunUs) {
    if (write(fd, page, sizeof page) != static_cast<ssize_t>(sizeof page) || fdatasync(fd) != 0) {
      break;
    }
    ++n;
    elapsed = base::MonotonicMicros() - start;
  }
  close(fd);
  std::filesystem::remove(path);
  return elapsed > 0 ? static_cast<double>(n) * 1e6 / static_cast<double>(elapsed) : 0;
}

double PlainRate(const std::filesystem::path& path, const std::vector<journal::AppendRequest>& rows,
                 size_t batch, journal::testing::PlainTable table) {
  auto r = journal::testing::RunPlainInsertLoop(path, rows, batch, table);
  std::error_code ignored;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(path.string() + suffix, ignored);
  }
  if (!r) {
    std::fprintf(stderr, "plain insert loop: %s\n", r.error().ToString().c_str());
    return 0;
  }
  return static_cast<double>(rows.size()) * 1e6 / static_cast<double>(r->total_us);
}

std::string FilesystemName(const std::filesystem::path& dir) {
  struct statfs fs;
  if (statfs(dir.c_str(), &fs) != 0) return "unknown";
  switch (static_cast<unsigned long>(fs.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs (fsync costs nothing: figures meaningless)";
    case 0x794c7630:
      return "overlayfs";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(fs.f_type));
      return hex;
    }
  }
}

}  // namespace

MachineLimits MeasureLimits(const std::filesystem::path& dir, size_t sqlite_rows,
                            size_t sqlite_batch, size_t row_bytes) {
  MachineLimits m;
  m.filesystem = FilesystemName(dir);
  m.ed25519_verify_per_s_1core = VerifyRate();
  m.fdatasync_per_s = FdatasyncRate(dir);
  journal::testing::EventSpec probe;
  probe.body_size = 0;
  const size_t overhead = journal::testing::StoredBytes(journal::testing::MakeRequest(probe));
  std::vector<journal::AppendRequest> rows;
  rows.reserve(sqlite_rows);
  for (size_t i = 0; i < sqlite_rows; ++i) {
    journal::testing::EventSpec spec;
    spec.case_ref = crypto::NewCaseRef();
    spec.body_size = row_bytes > overhead ? row_bytes - overhead : 0;
    spec.emitted_at += static_cast<int64_t>(i);
    rows.push_back(journal::testing::MakeRequest(spec));
  }
  m.sqlite_batch = sqlite_batch;
  m.sqlite_row_bytes = journal::testing::StoredBytes(rows.front());
  m.sqlite_inserts_per_s =
      PlainRate(dir / "plain-blob.db", rows, sqlite_batch, journal::testing::PlainTable::kBlobOnly);
  m.sqlite_journal_schema_per_s = PlainRate(dir / "plain-journal.db", rows, sqlite_batch,
                                            journal::testing::PlainTable::kJournalSchema);
  return m;
}

}  // namespace relais::bench
