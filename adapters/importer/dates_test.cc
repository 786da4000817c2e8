#include "adapters/importer/dates.h"

#include <gtest/gtest.h>

namespace relais::importer {
namespace {

TEST(Dates, ParsesIsoAndFrenchForms) {
  EXPECT_EQ(ParseDate("2027-03-31"), (CivilDate{2027, 3, 31}));
  EXPECT_EQ(ParseDate("31/03/2027"), (CivilDate{2027, 3, 31}));
  EXPECT_EQ(ParseDate("29/02/2028"), (CivilDate{2028, 2, 29}));
}

TEST(Dates, RefusesImpossibleOrMalformedDates) {
  for (const char* bad : {"2027-02-29", "31/04/2027", "2027-13-01", "2027-3-1", "03/31/2027x", "",
                          "2027/03/31", "1899-12-31", "aa/bb/cccc", "2027-00-10"}) {
    EXPECT_FALSE(ParseDate(bad).has_value()) << bad;
  }
}

TEST(Dates, RoundTripsThroughDaysAndTimes) {
  EXPECT_EQ(DaysFromCivil({1970, 1, 1}), 0);
  CivilDate d{2027, 4, 1};
  EXPECT_EQ(CivilFromDays(DaysFromCivil(d)), d);
  EXPECT_EQ(FromTimeMs(ToTimeMs(d) + 23 * base::kMsPerHour), d);
  EXPECT_EQ(FormatDate(d), "2027-04-01");
}

TEST(Dates, AddYearsAndMonthsClampToTheMonthEnd) {
  EXPECT_EQ(AddYears({2008, 2, 29}, 18), (CivilDate{2026, 2, 28}));
  EXPECT_EQ(AddYears({2009, 6, 15}, 18), (CivilDate{2027, 6, 15}));
  EXPECT_EQ(AddMonths({2027, 8, 31}, 6), (CivilDate{2028, 2, 29}));
  EXPECT_EQ(AddMonths({2027, 11, 30}, -12), (CivilDate{2026, 11, 30}));
}

}  // namespace
}  // namespace relais::importer
