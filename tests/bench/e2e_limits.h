// The machine limits relais_bench_e2e compares relais with, measured in the same run: Ed25519
// verifications per second on one core (through crypto/), SQLite batched durable inserts per
// second (the journal's plain-SQLite baseline, broker/journal/testing/plain_baseline.h) and
// fdatasync per second on the journal's filesystem.
#ifndef RELAIS_TESTS_BENCH_E2E_LIMITS_H_
#define RELAIS_TESTS_BENCH_E2E_LIMITS_H_

#include <cstddef>
#include <filesystem>
#include <string>

namespace relais::bench {

struct MachineLimits {
  double ed25519_verify_per_s_1core = 0;
  double sqlite_inserts_per_s = 0;         // blob table, BEGIN/N INSERT/COMMIT, synchronous=FULL
  double sqlite_journal_schema_per_s = 0;  // the same with the journal's table and indexes
  size_t sqlite_batch = 0;
  size_t sqlite_row_bytes = 0;
  double fdatasync_per_s = 0;  // 4 KiB appended then fdatasync, in a loop
  std::string filesystem;      // of the measured directory
};

MachineLimits MeasureLimits(const std::filesystem::path& dir, size_t sqlite_rows,
                            size_t sqlite_batch, size_t row_bytes);

}  // namespace relais::bench

#endif  // RELAIS_TESTS_BENCH_E2E_LIMITS_H_
