// libFuzzer target: the list importers' input side (adapters/importer): charset decoding, the
// CSV reader (libcsv) and the JSON lines reader, then every row through the prison, ase and treve
// row formats. Checks: decoded text is valid UTF-8; rows come in line order (a lone CR
// ends a row, so two rows may share a physical line); every
// record has exactly the header's columns (CSV); no row is both valid and quarantined.
#include <cstdlib>
#include <string_view>

#include "adapters/ase/ase_rows.h"
#include "adapters/importer/table.h"
#include "adapters/importer/text.h"
#include "adapters/prison/prison_rows.h"
#include "adapters/treve/treve_rows.h"

namespace {

using namespace relais;

void CheckRows(const importer::Table& table, bool csv) {
  int last = 0;
  for (const auto& record : table.records) {
    if (record.line < 1 || record.line < last) std::abort();
    last = record.line;
    if (csv && record.fields.size() != table.columns.size()) std::abort();
    importer::RowContext context{{2027, 1, 15}, 90};
    for (const importer::RowSchema* schema :
         {&prison::PrisonRowSchema(), &ase::AseRowSchema(), &treve::TreveRowSchema()}) {
      importer::RowOutcome out = schema->parse(record, context);
      if (out.row.has_value() == !out.problems.empty()) std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto text = importer::DecodeText(bytes, importer::Charset::kAuto);
  if (!text || !importer::IsValidUtf8(*text)) std::abort();
  auto csv = importer::ReadCsv(*text);
  if (csv) CheckRows(*csv, /*csv=*/true);
  CheckRows(importer::ReadJsonLines(*text), /*csv=*/false);
  return 0;
}
