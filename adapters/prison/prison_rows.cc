#include "adapters/prison/prison_rows.h"

#include "adapters/importer/fields.h"

namespace relais::prison {

namespace {

using importer::FieldReader;

void ReadNeeds(FieldReader& in, schema::Needs& needs) {
  for (const auto& need : in.List("needs")) {
    if (need == "housing" || need == "logement") {
      needs.housing_need = "housing at release";
    } else if (need == "health" || need == "soins") {
      needs.health_continuity = "health care continuity at release";
    } else if (need == "addiction" || need == "addictologie") {
      needs.addiction_care = true;
    } else if (need == "id_papers" || need == "papiers") {
      needs.id_papers_missing = true;
    } else if (need == "income" || need == "ressources") {
      needs.income_and_rights = "income and rights to open at release";
    } else {
      in.Problem("needs", "expected items among housing, health, addiction, id_papers, income");
      return;
    }
  }
}

importer::RowOutcome Parse(const importer::Record& record, const importer::RowContext& context) {
  importer::RowOutcome out;
  FieldReader in(record, out.problems);
  importer::ImportRow row;
  importer::ReadCommonColumns(in, context, /*birth_date_required=*/false, row);
  std::string establishment = in.Text("establishment", /*required=*/true);
  auto release = in.Date("release_date", /*required=*/true);
  std::string type = in.Choice("release_type", {"fin_de_peine", "amenagement"}, true);
  ReadNeeds(in, row.body.needs);
  if (!in.ok() || !release) return out;
  row.due_at = importer::ToTimeMs(*release);
  row.emit_from = row.due_at - context.lead_days * base::kMsPerDay;
  row.body.exit_date = row.due_at;
  row.body.exit_place = establishment;
  row.body.situation = type == "fin_de_peine"
                           ? "release at the end of the sentence (firm date)"
                           : "release under a sentence adjustment (date may move)";
  row.body.details = schema::PrisonDetails{establishment, type == "fin_de_peine"};
  importer::FillNoticeBody(row);
  out.row = std::move(row);
  return out;
}

}  // namespace

const importer::RowSchema& PrisonRowSchema() {
  static const importer::RowSchema kSchema{
      "prison",
      schema::ReferralKind::kPrisonRelease,
      90,
      {"person_id", "family_name", "establishment", "release_date", "release_type"},
      &Parse};
  return kSchema;
}

}  // namespace relais::prison
