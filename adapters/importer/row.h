// What a list adapter (prison, ase, treve) makes of one input row, and the interface each adapter
// implements: a RowSchema turning a Record into an ImportRow or into RowProblems.
#ifndef RELAIS_ADAPTERS_IMPORTER_ROW_H_
#define RELAIS_ADAPTERS_IMPORTER_ROW_H_

#include <optional>
#include <string>
#include <vector>

#include "adapters/importer/dates.h"
#include "adapters/importer/table.h"
#include "schema/envelope.h"
#include "schema/events.h"

namespace relais::importer {

// Why a row was set aside: its line, the column at fault ("" for the whole row) and what was
// wrong with it. Never the value: it is personal data.
struct RowProblem {
  int line = 0;
  std::string column;
  std::string reason;
  std::string file;  // set by the run when several files make the list
};

// The person's consent as the row records it.
struct RowConsent {
  schema::ConsentMethod method = schema::ConsentMethod::kWritten;
  base::TimeMs collected_at = 0;
};

// A valid row, ready to be compared with the mapping store.
struct ImportRow {
  int line = 0;
  std::string file;                     // the file name, for the quarantine file
  std::string person_id;                // the institution's id; only a keyed hash of it is stored
  base::TimeMs due_at = 0;              // the exit date (dueAt)
  base::TimeMs emit_from = 0;           // a new case is not referred before this time
  std::vector<std::string> recipients;  // from the row; empty: the run's --recipients
  std::optional<RowConsent> consent;    // nullopt: no consent recorded
  schema::Purpose purpose = schema::Purpose::kHousing;
  schema::ReferralBody body;         // referral tier: identity, situation, needs
  schema::ReferralBody notice_body;  // notice tier: exit date, place, referrer only
};

// A reminder for the institution's own staff, listed locally (never published).
struct LocalReminder {
  int line = 0;
  std::string person_id;
  CivilDate due;
  std::string what;
};

struct RowContext {
  CivilDate today;
  int lead_days = 0;
};

struct RowOutcome {
  std::optional<ImportRow> row;      // set when the row is valid
  std::vector<RowProblem> problems;  // set when it is not (every problem found)
  std::optional<LocalReminder> reminder;
};

// One adapter's row format.
struct RowSchema {
  const char* name = "";  // "prison", "ase", "treve"
  schema::ReferralKind referral_kind = schema::ReferralKind::kNone;
  int default_lead_days = 0;
  std::vector<std::string> required_columns;
  RowOutcome (*parse)(const Record& record, const RowContext& context) = nullptr;
};

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_ROW_H_
