#include "adapters/ase/ase_rows.h"

#include "adapters/importer/fields.h"

namespace relais::ase {

namespace {

using importer::AddYears;
using importer::FieldReader;

importer::RowOutcome Parse(const importer::Record& record, const importer::RowContext& context) {
  importer::RowOutcome out;
  FieldReader in(record, out.problems);
  importer::ImportRow row;
  auto birth = importer::ReadCommonColumns(in, context, /*birth_date_required=*/true, row);
  std::string department = in.Text("department", /*required=*/false, 3);
  auto cjm_end = in.Date("contrat_jeune_majeur_end", /*required=*/false);
  if (!in.ok() || !birth) return out;
  importer::CivilDate b17 = AddYears(*birth, 17), b18 = AddYears(*birth, 18),
                      b21 = AddYears(*birth, 21);
  if (cjm_end && (*cjm_end < b18 || *cjm_end > b21)) {
    in.Problem("contrat_jeune_majeur_end", "must fall between the 18th and the 21st birthday");
    return out;
  }
  if (context.today >= b17 && context.today < b18) {
    out.reminder = importer::LocalReminder{record.line, row.person_id, b17, kInterviewReminder};
  }
  importer::CivilDate due = cjm_end.value_or(b18);
  row.due_at = importer::ToTimeMs(due);
  row.emit_from = row.due_at - context.lead_days * base::kMsPerDay;
  row.body.exit_date = row.due_at;
  row.body.exit_place = department.empty() ? "ASE" : "ASE " + department;
  row.body.situation = cjm_end ? "end of the contrat jeune majeur" : "coming of age (18) in care";
  row.body.details =
      schema::AseDetails{cjm_end ? importer::FormatDate(*cjm_end) : std::string(), department};
  importer::FillNoticeBody(row);
  out.row = std::move(row);
  return out;
}

}  // namespace

const importer::RowSchema& AseRowSchema() {
  static const importer::RowSchema kSchema{"ase",
                                           schema::ReferralKind::kAseExit,
                                           183,
                                           {"person_id", "family_name", "birth_date"},
                                           &Parse};
  return kSchema;
}

}  // namespace relais::ase
