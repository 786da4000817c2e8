#include "adapters/prison/prison_rows.h"

#include <gtest/gtest.h>

namespace relais::prison {
namespace {

using importer::Record;

Record Row(std::vector<std::pair<std::string, std::string>> extra) {
  Record r;
  r.line = 7;
  r.fields = {{"person_id", "E-1"},
              {"family_name", "Durand"},
              {"establishment", "CP Fresnes"},
              {"release_date", "15/03/2027"},
              {"release_type", "fin_de_peine"},
              {"consent", "oui"}};
  for (auto& [k, v] : extra) {
    bool replaced = false;
    for (auto& f : r.fields) {
      if (f.first == k) f.second = v, replaced = true;
    }
    if (!replaced) r.fields.emplace_back(k, v);
  }
  return r;
}

importer::RowContext Today() { return {{2027, 1, 15}, 90}; }

TEST(PrisonRows, AValidRowBecomesAPrisonReleaseWithNeedsAndLeadTime) {
  auto out = PrisonRowSchema().parse(Row({{"needs", "housing|addiction|id_papers"}}), Today());
  ASSERT_TRUE(out.row.has_value());
  EXPECT_TRUE(out.problems.empty());
  const auto& row = *out.row;
  EXPECT_EQ(row.due_at, importer::ToTimeMs({2027, 3, 15}));
  EXPECT_EQ(row.emit_from, row.due_at - 90 * base::kMsPerDay);
  EXPECT_TRUE(row.consent.has_value());
  EXPECT_TRUE(row.body.needs.addiction_care);
  EXPECT_TRUE(row.body.needs.id_papers_missing);
  EXPECT_FALSE(row.body.needs.housing_need.empty());
  auto details = std::get<schema::PrisonDetails>(row.body.details);
  EXPECT_TRUE(details.date_firm);
  EXPECT_EQ(details.establishment, "CP Fresnes");
  EXPECT_TRUE(row.notice_body.person.family_name.empty());
  EXPECT_EQ(PrisonRowSchema().referral_kind, schema::ReferralKind::kPrisonRelease);
}

TEST(PrisonRows, AnAdjustedSentenceIsNotFirm) {
  auto out = PrisonRowSchema().parse(Row({{"release_type", "amenagement"}}), Today());
  ASSERT_TRUE(out.row.has_value());
  EXPECT_FALSE(std::get<schema::PrisonDetails>(out.row->body.details).date_firm);
}

TEST(PrisonRows, EveryBadColumnIsReportedByNameWithoutItsValue) {
  auto out = PrisonRowSchema().parse(Row({{"person_id", ""},
                                          {"release_date", "2027-02-30"},
                                          {"release_type", "maybe"},
                                          {"needs", "housing|spaceship"},
                                          {"consent", "perhaps"},
                                          {"birth_date", "01/01/2090"}}),
                                     Today());
  EXPECT_FALSE(out.row.has_value());
  std::set<std::string> columns;
  for (const auto& p : out.problems) {
    columns.insert(p.column);
    EXPECT_EQ(p.line, 7);
    EXPECT_EQ(p.reason.find("spaceship"), std::string::npos);
    EXPECT_EQ(p.reason.find("2027-02-30"), std::string::npos);
  }
  EXPECT_EQ(columns, (std::set<std::string>{"person_id", "release_date", "release_type", "needs",
                                            "consent", "birth_date"}));
}

}  // namespace
}  // namespace relais::prison
