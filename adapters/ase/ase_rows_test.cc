#include "adapters/ase/ase_rows.h"

#include <gtest/gtest.h>

namespace relais::ase {
namespace {

importer::Record Row(const std::string& birth, const std::string& cjm = "") {
  importer::Record r;
  r.line = 3;
  r.fields = {{"person_id", "A-1"}, {"family_name", "Petit"}, {"birth_date", birth},
              {"department", "93"}, {"consent", "oui"},       {"contrat_jeune_majeur_end", cjm}};
  return r;
}

importer::RowContext Today() { return {{2027, 1, 15}, 183}; }

TEST(AseRows, ExitAtEighteenWithSixMonthsLead) {
  auto out = AseRowSchema().parse(Row("2009-06-10"), Today());
  ASSERT_TRUE(out.row.has_value());
  EXPECT_EQ(out.row->due_at, importer::ToTimeMs({2027, 6, 10}));
  EXPECT_EQ(out.row->emit_from, out.row->due_at - 183 * base::kMsPerDay);
  EXPECT_EQ(std::get<schema::AseDetails>(out.row->body.details).department, "93");
}

TEST(AseRows, AContratJeuneMajeurMovesTheExitToItsEnd) {
  auto out = AseRowSchema().parse(Row("2008-06-10", "2028-09-30"), Today());
  ASSERT_TRUE(out.row.has_value());
  EXPECT_EQ(out.row->due_at, importer::ToTimeMs({2028, 9, 30}));
  EXPECT_EQ(std::get<schema::AseDetails>(out.row->body.details).contrat_jeune_majeur_end,
            "2028-09-30");
}

TEST(AseRows, AContractPastTwentyOneOrBeforeEighteenIsQuarantined) {
  for (const char* cjm : {"2029-06-11", "2026-06-09"}) {
    auto out = AseRowSchema().parse(Row("2008-06-10", cjm), Today());
    EXPECT_FALSE(out.row.has_value()) << cjm;
    ASSERT_EQ(out.problems.size(), 1u);
    EXPECT_EQ(out.problems[0].column, "contrat_jeune_majeur_end");
  }
}

TEST(AseRows, AtSeventeenTheInterviewReminderIsListedLocally) {
  auto out = AseRowSchema().parse(Row("2009-06-10"), Today());  // 17 since 2026-06-10
  ASSERT_TRUE(out.reminder.has_value());
  EXPECT_EQ(out.reminder->due, (importer::CivilDate{2026, 6, 10}));
  EXPECT_EQ(out.reminder->person_id, "A-1");
  auto adult = AseRowSchema().parse(Row("2008-06-10", "2028-09-30"), Today());
  EXPECT_FALSE(adult.reminder.has_value());
}

TEST(AseRows, UnderSeventeenWaitsAndWithoutBirthDateIsQuarantined) {
  auto young = AseRowSchema().parse(Row("2011-01-01"), Today());
  ASSERT_TRUE(young.row.has_value());
  EXPECT_GT(young.row->emit_from, importer::ToTimeMs(Today().today));
  EXPECT_FALSE(young.reminder.has_value());
  auto out = AseRowSchema().parse(Row(""), Today());
  ASSERT_FALSE(out.problems.empty());
  EXPECT_EQ(out.problems[0].column, "birth_date");
}

}  // namespace
}  // namespace relais::ase
