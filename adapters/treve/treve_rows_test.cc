#include "adapters/treve/treve_rows.h"

#include <gtest/gtest.h>

namespace relais::treve {
namespace {

importer::Record Row(const std::string& stage, const std::string& eviction = "") {
  importer::Record r;
  r.line = 4;
  r.fields = {
      {"person_id", "H-1"}, {"family_name", "Moreau"}, {"stage", stage},           {"adults", "2"},
      {"children", "3"},    {"address", "12 rue X"},   {"eviction_date", eviction}};
  return r;
}

TEST(TreveRows, TheComingSpringIsFirstAprilAndEmissionStartsInJanuary) {
  EXPECT_EQ(SpringFor({2026, 11, 25}), (importer::CivilDate{2027, 4, 1}));
  EXPECT_EQ(SpringFor({2027, 1, 15}), (importer::CivilDate{2027, 4, 1}));
  EXPECT_EQ(SpringFor({2027, 5, 2}), (importer::CivilDate{2027, 4, 1}));
  auto out = TreveRowSchema().parse(Row("cfp_granted"), {{2026, 11, 25}, 0});
  ASSERT_TRUE(out.row.has_value());
  EXPECT_EQ(out.row->due_at, importer::ToTimeMs({2027, 4, 1}));
  EXPECT_EQ(out.row->emit_from, importer::ToTimeMs({2027, 1, 1}));
}

TEST(TreveRows, ALaterEvictionDateWins) {
  auto out = TreveRowSchema().parse(Row("concours_accorde", "2027-05-20"), {{2027, 1, 15}, 0});
  ASSERT_TRUE(out.row.has_value());
  EXPECT_EQ(out.row->due_at, importer::ToTimeMs({2027, 5, 20}));
  auto d = std::get<schema::TreveDetails>(out.row->body.details);
  EXPECT_EQ(d.procedure_stage, "cfp_granted");
  EXPECT_EQ(d.household_adults, 2);
  EXPECT_EQ(d.household_children, 3);
  EXPECT_TRUE(out.row->notice_body.exit_place.empty()) << "the address identifies the household";
}

TEST(TreveRows, BadStageAndCountsAreQuarantined) {
  auto r = Row("expelled");
  r.fields.emplace_back("x", "y");
  for (auto& f : r.fields) {
    if (f.first == "adults") f.second = "0";
    if (f.first == "children") f.second = "lots";
  }
  auto out = TreveRowSchema().parse(r, {{2027, 1, 15}, 0});
  EXPECT_FALSE(out.row.has_value());
  std::set<std::string> columns;
  for (const auto& p : out.problems) columns.insert(p.column);
  EXPECT_EQ(columns, (std::set<std::string>{"stage", "adults", "children"}));
}

}  // namespace
}  // namespace relais::treve
