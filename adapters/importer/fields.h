// Per-row field validation shared by the list adapters. Each check that fails appends a
// RowProblem naming the column and what was expected, never the value found.
#ifndef RELAIS_ADAPTERS_IMPORTER_FIELDS_H_
#define RELAIS_ADAPTERS_IMPORTER_FIELDS_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/importer/row.h"

namespace relais::importer {

class FieldReader {
 public:
  FieldReader(const Record& record, std::vector<RowProblem>& problems)
      : record_(record), problems_(problems) {}

  // Text of at most `max_bytes`, without control characters (line breaks allowed when
  // `multiline`); "" when absent and optional.
  std::string Text(std::string_view column, bool required, size_t max_bytes = 200,
                   bool multiline = false);
  // A date (dates.h formats); std::nullopt when absent (a problem if required) or invalid.
  std::optional<CivilDate> Date(std::string_view column, bool required);
  // oui/yes/true/1 and non/no/false/0; `absent` when empty.
  bool Flag(std::string_view column, bool absent);
  // An integer in [min, max]; `absent` when empty.
  int Count(std::string_view column, int min, int max, int absent);
  // One of `choices` (case-insensitive); "" when absent and optional.
  std::string Choice(std::string_view column, const std::vector<std::string>& choices,
                     bool required);
  // Items separated by '|' or ';' (trimmed, non-empty, lower case).
  std::vector<std::string> List(std::string_view column);

  void Problem(std::string_view column, std::string reason);
  int line() const { return record_.line; }
  bool ok() const { return problems_.empty(); }

 private:
  const Record& record_;
  std::vector<RowProblem>& problems_;
};

// The columns every adapter shares (docs/adapters/): person_id, family_name, given_names,
// birth_date, sex, phone, consent, consent_date, recipients, referrer_name, referrer_role,
// referrer_phone, referrer_email, notes (free text, line breaks allowed). Fills `row` (person,
// referrer, consent, recipients) and returns the birth date when present.
std::optional<CivilDate> ReadCommonColumns(FieldReader& in, const RowContext& context,
                                           bool birth_date_required, ImportRow& row);

// Copies into row.notice_body what the notice tier may carry (exit date and place, referrer,
// the kind's details), after row.body is complete.
void FillNoticeBody(ImportRow& row);

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_FIELDS_H_
