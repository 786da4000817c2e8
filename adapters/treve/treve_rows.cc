#include "adapters/treve/treve_rows.h"

#include "adapters/importer/fields.h"

namespace relais::treve {

namespace {

using importer::FieldReader;

std::string StageName(const std::string& stage) {
  if (stage == "commandement" || stage == "commandement_de_quitter") return "commandement";
  if (stage == "cfp_requested" || stage == "concours_demande") return "cfp_requested";
  return "cfp_granted";
}

importer::RowOutcome Parse(const importer::Record& record, const importer::RowContext& context) {
  importer::RowOutcome out;
  FieldReader in(record, out.problems);
  importer::ImportRow row;
  importer::ReadCommonColumns(in, context, /*birth_date_required=*/false, row);
  std::string address = in.Text("address", /*required=*/false);
  std::string stage = in.Choice("stage",
                                {"commandement", "commandement_de_quitter", "cfp_requested",
                                 "concours_demande", "cfp_granted", "concours_accorde"},
                                /*required=*/true);
  auto eviction = in.Date("eviction_date", /*required=*/false);
  int adults = in.Count("adults", 1, 20, 1);
  int children = in.Count("children", 0, 20, 0);
  if (!in.ok()) return out;
  importer::CivilDate spring = SpringFor(context.today);
  importer::CivilDate due = eviction && *eviction > spring ? *eviction : spring;
  row.due_at = importer::ToTimeMs(due);
  row.emit_from = importer::ToTimeMs({spring.year, 1, 1});
  row.body.exit_date = row.due_at;
  row.body.exit_place = address;
  row.body.situation = "eviction procedure at the end of the winter moratorium";
  row.body.needs.housing_need = "rehousing or shelter for the household";
  row.body.needs.children = static_cast<uint8_t>(children);
  row.body.details = schema::TreveDetails{StageName(stage), static_cast<uint8_t>(adults),
                                          static_cast<uint8_t>(children)};
  importer::FillNoticeBody(row);
  row.notice_body.exit_place.clear();  // the address identifies the household
  out.row = std::move(row);
  return out;
}

}  // namespace

importer::CivilDate SpringFor(const importer::CivilDate& today) {
  return {today.month >= 11 ? today.year + 1 : today.year, 4, 1};
}

const importer::RowSchema& TreveRowSchema() {
  static const importer::RowSchema kSchema{
      "treve", schema::ReferralKind::kTreveEnd, 0, {"person_id", "family_name", "stage"}, &Parse};
  return kSchema;
}

}  // namespace relais::treve
