#include "adapters/importer/table.h"

#include <csv.h>

#include <algorithm>
#include <set>

#include "adapters/sdk/json_lines.h"

namespace relais::importer {

namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r' || s[b] == '\n')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r' || s[e - 1] == '\n')) {
    --e;
  }
  return std::string(s.substr(b, e - b));
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return s;
}

// Collects libcsv's callbacks into rows, each tagged with its first physical line.
struct CsvSink {
  std::vector<std::string> fields;
  std::vector<std::pair<int, std::vector<std::string>>> rows;
  int row_start = 0;
  int line = 0;  // the physical line being fed

  static void OnField(void* s, size_t len, void* data) {
    auto* sink = static_cast<CsvSink*>(data);
    // A row can start in the middle of a line (after a lone CR, which ends a row).
    if (sink->row_start == 0) sink->row_start = sink->line;
    sink->fields.emplace_back(static_cast<const char*>(s), len);
  }
  static void OnRowEnd(int /*c*/, void* data) {
    auto* sink = static_cast<CsvSink*>(data);
    sink->rows.emplace_back(sink->row_start, std::move(sink->fields));
    sink->fields.clear();
    sink->row_start = 0;
  }
};

char GuessSeparator(std::string_view text) {
  std::string_view first = text.substr(0, text.find('\n'));
  return std::count(first.begin(), first.end(), ';') > std::count(first.begin(), first.end(), ',')
             ? ';'
             : ',';
}

// Feeds `text` line by line so each row knows where it starts; a quoting error puts the row in
// `problems` and parsing resumes at the next line.
void ParseCsvRows(std::string_view text, char sep, CsvSink& sink,
                  std::vector<TableProblem>& problems) {
  csv_parser parser;
  auto init = [&] {
    csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL);
    csv_set_delim(&parser, static_cast<unsigned char>(sep));
  };
  init();
  int line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view chunk = text.substr(pos, end - pos);
    pos = end;
    ++line;
    sink.line = line;
    if (sink.row_start == 0 && sink.fields.empty() && !Trim(chunk).empty()) sink.row_start = line;
    if (csv_parse(&parser, chunk.data(), chunk.size(), CsvSink::OnField, CsvSink::OnRowEnd,
                  &sink) != chunk.size()) {
      problems.push_back({sink.row_start != 0 ? sink.row_start : line, "malformed CSV quoting"});
      csv_free(&parser);
      sink.fields.clear();
      sink.row_start = 0;
      init();
    }
  }
  if (csv_fini(&parser, CsvSink::OnField, CsvSink::OnRowEnd, &sink) != 0) {
    problems.push_back({sink.row_start != 0 ? sink.row_start : line,
                        "malformed CSV quoting (unterminated quoted field)"});
  }
  csv_free(&parser);
}

}  // namespace

std::string Record::Get(std::string_view column) const {
  for (const auto& [name, value] : fields) {
    if (name == column) return Trim(value);
  }
  return "";
}

bool Record::Has(std::string_view column) const {
  return std::any_of(fields.begin(), fields.end(),
                     [&](const auto& f) { return f.first == column; });
}

base::Result<Table> ReadCsv(std::string_view utf8, char separator) {
  char sep = separator != 0 ? separator : GuessSeparator(utf8);
  CsvSink sink;
  Table table;
  ParseCsvRows(utf8, sep, sink, table.problems);
  if (sink.rows.empty()) return base::InvalidInput("empty_file", "no header row");
  std::set<std::string> seen;
  for (const auto& name : sink.rows.front().second) {
    std::string column = Lower(Trim(name));
    if (column.empty()) return base::InvalidInput("bad_header", "an empty column name");
    if (!seen.insert(column).second) {
      return base::InvalidInput("bad_header", "duplicate column '" + column + "'");
    }
    table.columns.push_back(column);
  }
  for (size_t i = 1; i < sink.rows.size(); ++i) {
    auto& [line, fields] = sink.rows[i];
    if (fields.size() != table.columns.size()) {
      table.problems.push_back({line, "expected " + std::to_string(table.columns.size()) +
                                          " fields, got " + std::to_string(fields.size())});
      continue;
    }
    Record record;
    record.line = line;
    for (size_t c = 0; c < fields.size(); ++c) {
      record.fields.emplace_back(table.columns[c], std::move(fields[c]));
    }
    table.records.push_back(std::move(record));
  }
  std::sort(table.problems.begin(), table.problems.end(),
            [](const TableProblem& a, const TableProblem& b) { return a.line < b.line; });
  return table;
}

Table ReadJsonLines(std::string_view utf8) {
  Table table;
  std::set<std::string> seen;
  int line = 0;
  size_t pos = 0;
  while (pos < utf8.size()) {
    size_t nl = utf8.find('\n', pos);
    size_t end = nl == std::string_view::npos ? utf8.size() : nl;
    std::string text = Trim(utf8.substr(pos, end - pos));
    pos = end + 1;
    ++line;
    if (text.empty()) continue;
    auto fields = sdk::ParseFlatJsonObject(text);
    if (!fields) {
      table.problems.push_back({line, fields.error().message});
      continue;
    }
    Record record;
    record.line = line;
    for (auto& [key, value] : *fields) {
      std::string column = Lower(Trim(key));
      if (seen.insert(column).second) table.columns.push_back(column);
      record.fields.emplace_back(std::move(column), std::move(value));
    }
    table.records.push_back(std::move(record));
  }
  return table;
}

bool IsJsonLinesPath(std::string_view path) {
  for (std::string_view ext : {".jsonl", ".ndjson", ".json"}) {
    if (path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext) return true;
  }
  return false;
}

}  // namespace relais::importer
