#include "adapters/inbox/case_view.h"

#include <gtest/gtest.h>

#include "adapters/inbox/test_events.h"
#include "crypto/secret.h"

namespace relais::inbox {
namespace {

using schema::EventKind;
using testing::kT0;
using testing::MakeEvent;
using testing::MakeReferral;

constexpr base::TimeMs kHour = base::kMsPerHour;

class CaseViewTest : public ::testing::Test {
 protected:
  void SetUp() override { crypto::Init(); }
};

TEST_F(CaseViewTest, ReferralAloneIsToAnswerWithTheBrokersDefaultDeadlines) {
  auto cases = BuildCases({MakeReferral("c-one", 1, kT0 + 100 * kHour)});
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].state, CaseState::kToAnswer);
  EXPECT_EQ(cases[0].accept_by, kT0 + 52 * kHour);
  EXPECT_EQ(cases[0].pickup_by, kT0 + 124 * kHour);
  EXPECT_TRUE(CanAnswer(cases[0]));
  EXPECT_FALSE(CanPickUp(cases[0]));
}

TEST_F(CaseViewTest, SortedByExitDate) {
  auto cases = BuildCases(
      {MakeReferral("c-late", 1, kT0 + 90 * kHour), MakeReferral("c-early", 2, kT0 + 10 * kHour)});
  ASSERT_EQ(cases.size(), 2u);
  EXPECT_EQ(cases[0].case_ref, "c-early");
  EXPECT_EQ(cases[1].case_ref, "c-late");
}

TEST_F(CaseViewTest, OurAnswersAndOthersMoveTheState) {
  auto referral = MakeReferral("c-one", 1, kT0 + 100 * kHour);
  auto accepted = MakeEvent(EventKind::kAccepted, "c-one", 2, kT0 + 1, Direction::kOut);
  auto cases = BuildCases({referral, accepted});
  EXPECT_EQ(cases[0].state, CaseState::kAccepted);
  EXPECT_EQ(cases[0].answer_seq, 2u);
  EXPECT_TRUE(CanPickUp(cases[0]));
  EXPECT_FALSE(CanAnswer(cases[0]));

  auto taken = BuildCases({referral, MakeEvent(EventKind::kOfferTaken, "c-one", 3, kT0 + 1)});
  EXPECT_EQ(taken[0].state, CaseState::kTakenByOther);
  EXPECT_FALSE(CanAnswer(taken[0]));

  auto cancelled = BuildCases({referral, MakeEvent(EventKind::kCancelled, "c-one", 3, kT0 + 1)});
  EXPECT_EQ(cancelled[0].state, CaseState::kCancelled);

  auto picked = BuildCases(
      {referral, accepted, MakeEvent(EventKind::kPickedUp, "c-one", 4, kT0 + 2, Direction::kOut)});
  EXPECT_EQ(picked[0].state, CaseState::kPickedUp);
}

TEST_F(CaseViewTest, DeadlineChangedMovesTheDates) {
  auto referral = MakeReferral("c-one", 1, kT0 + 100 * kHour);
  auto changed = MakeEvent(EventKind::kDeadlineChanged, "c-one", 2, kT0 + 1);
  changed.header.due_at = kT0 + 200 * kHour;
  auto cases = BuildCases({referral, changed});
  EXPECT_EQ(cases[0].due_at, kT0 + 200 * kHour);
  EXPECT_EQ(cases[0].accept_by, kT0 + 152 * kHour);
}

TEST_F(CaseViewTest, EscalationsWithoutReferralAreCoordinatorAlerts) {
  auto esc = MakeEvent(EventKind::kEscalation, "c-far", 5, kT0);
  esc.body = schema::BrokerNoticeBody{"not_accepted", kT0 + 3, kT0 + 9, ""};
  auto rupture = MakeEvent(EventKind::kRupture, "c-far", 6, kT0 + 10);
  rupture.body = schema::BrokerNoticeBody{"pickup_missed", kT0 + 3, kT0 + 9, ""};
  auto cases = BuildCases({esc, rupture});
  ASSERT_EQ(cases.size(), 1u);
  EXPECT_EQ(cases[0].state, CaseState::kAlertOnly);
  EXPECT_EQ(cases[0].escalations, 1u);
  EXPECT_EQ(cases[0].ruptures, 1u);
  EXPECT_EQ(cases[0].accept_by, kT0 + 3);
  EXPECT_EQ(cases[0].pickup_by, kT0 + 9);
  EXPECT_EQ(cases[0].last_stage, "pickup_missed");
  EXPECT_FALSE(CanAnswer(cases[0]));
}

TEST_F(CaseViewTest, CountdownText) {
  EXPECT_EQ(CountdownText(kT0 + 50 * kHour, kT0), "2 j 2 h");
  EXPECT_EQ(CountdownText(kT0 + 5 * kHour + 12 * 60000, kT0), "5 h 12 min");
  EXPECT_EQ(CountdownText(kT0 - 3 * kHour, kT0), "dépassée de 3 h 0 min");
  EXPECT_EQ(CountdownText(0, kT0), "—");
}

TEST_F(CaseViewTest, PolicyPerReferralKindMatchesTheBroker) {
  EXPECT_EQ(DefaultAcceptBy(schema::ReferralKind::kPrisonRelease, 100 * base::kMsPerDay),
            70 * base::kMsPerDay);
  EXPECT_EQ(DefaultPickupBy(schema::ReferralKind::kAseExit, 100 * base::kMsPerDay),
            107 * base::kMsPerDay);
  EXPECT_EQ(DefaultAcceptBy(schema::ReferralKind::kTreveEnd, 0), 0);
}

}  // namespace
}  // namespace relais::inbox
