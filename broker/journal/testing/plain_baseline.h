// Benchmark support: the "plain SQLite insert loop" the journal is compared with. Same database
// settings (WAL, synchronous=FULL, secure_delete=ON, same cache), same rows, same batch size,
// one thread, BEGIN / N x INSERT / COMMIT with a prepared statement, SQLite's default automatic
// checkpoint. No hash chain, no queue, no derived tables, no case numbering.
#ifndef RELAIS_BROKER_JOURNAL_TESTING_PLAIN_BASELINE_H_
#define RELAIS_BROKER_JOURNAL_TESTING_PLAIN_BASELINE_H_

#include <cstdint>
#include <filesystem>
#include <vector>

#include "base/status.h"
#include "broker/journal/entry.h"

namespace relais::journal::testing {

enum class PlainTable {
  kJournalSchema,  // the journal's own `entries` table with its three indexes
  kBlobOnly,       // (id INTEGER PRIMARY KEY, data BLOB) with the same bytes per row
};

struct PlainInsertResult {
  int64_t total_us = 0;
  std::vector<int64_t> commit_us;  // one per batch
};

// Inserts every row of `rows` into a new database at `path`.
base::Result<PlainInsertResult> RunPlainInsertLoop(const std::filesystem::path& path,
                                                   const std::vector<AppendRequest>& rows,
                                                   size_t batch, PlainTable table);

}  // namespace relais::journal::testing

#endif  // RELAIS_BROKER_JOURNAL_TESTING_PLAIN_BASELINE_H_
