// Rows of an input list: CSV with a header row (libcsv: quoted fields, embedded separators and
// newlines, CRLF) or JSON lines (one flat object per line). Text must already be UTF-8
// (text.h). Values never appear in errors: they are personal data.
#ifndef RELAIS_ADAPTERS_IMPORTER_TABLE_H_
#define RELAIS_ADAPTERS_IMPORTER_TABLE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace relais::importer {

// One input row: the physical line where it starts (1-based, header included) and its fields by
// column name (lower case, trimmed).
struct Record {
  int line = 0;
  std::vector<std::pair<std::string, std::string>> fields;

  // The value of `column` (trimmed), or "" when absent.
  std::string Get(std::string_view column) const;
  bool Has(std::string_view column) const;
};

// A row that cannot be read at all (bad quoting, wrong field count, bad JSON).
struct TableProblem {
  int line = 0;
  std::string reason;
};

struct Table {
  std::vector<std::string> columns;
  std::vector<Record> records;
  std::vector<TableProblem> problems;
};

// CSV: separator ',' or ';' (0: guessed from the header line, the one it holds more of).
// Errors: kInvalidInput "empty_file" (no header row), "bad_header" (an empty or duplicate column).
base::Result<Table> ReadCsv(std::string_view utf8, char separator = 0);

// JSON lines: blank lines are skipped; `columns` is the union of the keys seen.
Table ReadJsonLines(std::string_view utf8);

// ".jsonl"/".ndjson"/".json" files are JSON lines; anything else is CSV.
bool IsJsonLinesPath(std::string_view path);

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_TABLE_H_
