#include "adapters/importer/import_plan.h"

#include <gtest/gtest.h>

#include "crypto/secret.h"

namespace relais::importer {
namespace {

using schema::EventKind;

constexpr base::TimeMs kDay = base::kMsPerDay;

class ImportPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    dir_ = std::filesystem::temp_directory_path() /
           ("importer-plan-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    store_ = std::move(MappingStore::Open(dir_ / "m.db")).value();
    schema::Agency spip;
    spip.id = "spip";
    spip.kind = schema::AgencyKind::kPrisonService;
    schema::Agency assoc;
    assoc.id = "assoc-a";
    assoc.may_receive = true;
    schema::Agency revoked = assoc;
    revoked.id = "assoc-gone";
    revoked.revoked = true;
    registry_.agencies = {spip, assoc, revoked};
    schema_.name = "prison";
    schema_.referral_kind = schema::ReferralKind::kPrisonRelease;
    in_.schema = &schema_;
    in_.registry = &registry_;
    in_.emitter = "spip";
    in_.default_recipients = {"assoc-a"};
    in_.today = 100 * kDay;
    in_.defaults = {schema::ReferralKind::kPrisonRelease, "import-prison"};
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ImportRow Row(const std::string& id, base::TimeMs due, bool consent = true) {
    ImportRow r;
    r.line = 2;
    r.person_id = id;
    r.due_at = due;
    r.emit_from = due - 90 * kDay;
    if (consent) r.consent = RowConsent{schema::ConsentMethod::kWritten, in_.today};
    r.body.person.family_name = "Name-" + id;
    r.body.exit_date = due;
    r.notice_body.exit_date = due;
    return r;
  }
  std::set<base::Bytes> Seen(const std::vector<ImportRow>& rows) {
    std::set<base::Bytes> s;
    for (const auto& r : rows) s.insert(store_->PersonKey(r.person_id));
    return s;
  }
  // Stores the plan's entries as if every event had been acknowledged.
  std::map<base::Bytes, MappingEntry> Acknowledge(const Plan& plan,
                                                  std::map<base::Bytes, MappingEntry> known) {
    for (const auto& c : plan.cases) {
      MappingEntry e = c.entry;
      e.due_at = e.pending_due;
      e.digest = e.pending_digest;
      if (e.pending_kind == static_cast<int>(EventKind::kReferral)) e.referred = true;
      if (e.pending_kind == static_cast<int>(EventKind::kCancelled)) {
        e.status = CaseStatus::kCancelled;
      }
      e.pending_kind = 0;
      known[e.person_key] = e;
    }
    return known;
  }

  std::filesystem::path dir_;
  std::unique_ptr<MappingStore> store_;
  schema::Registry registry_;
  RowSchema schema_;
  PlanInput in_;
};

TEST_F(ImportPlanTest, ANewPersonWithConsentGetsConsentThenReferral) {
  std::vector<ImportRow> rows = {Row("1", 130 * kDay)};
  Plan plan = MakePlan(in_, rows, Seen(rows), {}, *store_);
  ASSERT_EQ(plan.cases.size(), 1u);
  const PlannedCase& c = plan.cases[0];
  ASSERT_TRUE(c.consent.has_value());
  EXPECT_EQ(c.consent->header.kind, EventKind::kConsentGranted);
  EXPECT_EQ(c.consent->header.consent->recipient_agencies, std::vector<std::string>{"assoc-a"});
  EXPECT_EQ(c.event.header.kind, EventKind::kReferral);
  EXPECT_EQ(c.event.header.tier, schema::Tier::kReferral);
  EXPECT_EQ(c.event.header.due_at, 130 * kDay);
  EXPECT_EQ(c.event.header.consent_ref, c.consent->header.consent->consent_id);
  EXPECT_EQ(c.event.header.event_id,
            store_->EventId(c.entry.case_ref, static_cast<int>(EventKind::kReferral), 1));
  EXPECT_EQ(std::get<schema::ReferralBody>(c.event.body).person.family_name, "Name-1");
}

TEST_F(ImportPlanTest, WithoutConsentUsesTheNoticeTierOnlyWhereTheRegistryAllowsIt) {
  std::vector<ImportRow> rows = {Row("1", 130 * kDay, /*consent=*/false)};
  Plan refused = MakePlan(in_, rows, Seen(rows), {}, *store_);
  EXPECT_TRUE(refused.cases.empty());
  ASSERT_EQ(refused.problems.size(), 1u);
  EXPECT_EQ(refused.problems[0].column, "consent");

  registry_.agencies[0].notice_without_consent = {schema::ReferralKind::kPrisonRelease};
  Plan allowed = MakePlan(in_, rows, Seen(rows), {}, *store_);
  ASSERT_EQ(allowed.cases.size(), 1u);
  const PlannedCase& c = allowed.cases[0];
  EXPECT_FALSE(c.consent.has_value());
  EXPECT_EQ(c.event.header.tier, schema::Tier::kNotice);
  EXPECT_EQ(c.event.header.legal_basis, schema::LegalBasis::kNoticeAllowed);
  EXPECT_TRUE(std::get<schema::ReferralBody>(c.event.body).person.family_name.empty());
}

TEST_F(ImportPlanTest, QuarantinesUnknownOrRevokedRecipients) {
  ImportRow r = Row("1", 130 * kDay);
  r.recipients = {"assoc-gone"};
  ImportRow r2 = Row("2", 130 * kDay);
  r2.recipients = {"nobody"};
  std::vector<ImportRow> rows = {r, r2};
  Plan plan = MakePlan(in_, rows, Seen(rows), {}, *store_);
  EXPECT_TRUE(plan.cases.empty());
  ASSERT_EQ(plan.problems.size(), 2u);
  EXPECT_EQ(plan.problems[0].column, "recipients");
  EXPECT_NE(plan.problems[1].reason.find("nobody"), std::string::npos);
}

TEST_F(ImportPlanTest, WaitsUntilTheLeadTimeAndRefusesPastExits) {
  std::vector<ImportRow> rows = {Row("far", 300 * kDay), Row("past", 50 * kDay)};
  Plan plan = MakePlan(in_, rows, Seen(rows), {}, *store_);
  EXPECT_TRUE(plan.cases.empty());
  EXPECT_EQ(plan.not_yet_due, 1u);
  ASSERT_EQ(plan.problems.size(), 1u);
  EXPECT_NE(plan.problems[0].reason.find("passed"), std::string::npos);
}

TEST_F(ImportPlanTest, SecondDayEmitsOnlyChangesAndListsVanishedCasesUntilConfirmed) {
  std::vector<ImportRow> day1 = {Row("same", 130 * kDay), Row("moves", 140 * kDay),
                                 Row("gone", 150 * kDay)};
  auto known = Acknowledge(MakePlan(in_, day1, Seen(day1), {}, *store_), {});
  ASSERT_EQ(known.size(), 3u);

  Plan again = MakePlan(in_, day1, Seen(day1), known, *store_);
  EXPECT_TRUE(again.cases.empty());
  EXPECT_EQ(again.unchanged, 3u);

  std::vector<ImportRow> day2 = {Row("same", 130 * kDay), Row("moves", 145 * kDay),
                                 Row("new", 160 * kDay)};
  Plan plan = MakePlan(in_, day2, Seen(day2), known, *store_);
  ASSERT_EQ(plan.cases.size(), 2u);
  EXPECT_EQ(plan.cases[0].event.header.kind, EventKind::kDeadlineChanged);
  EXPECT_EQ(plan.cases[0].event.header.due_at, 145 * kDay);
  EXPECT_EQ(plan.cases[0].entry.version, 2);
  EXPECT_EQ(plan.cases[1].event.header.kind, EventKind::kReferral);
  EXPECT_EQ(plan.unchanged, 1u);
  ASSERT_EQ(plan.unconfirmed_cancellations.size(), 1u);

  in_.confirm_cancellations = true;
  Plan confirmed = MakePlan(in_, day2, Seen(day2), known, *store_);
  ASSERT_EQ(confirmed.cases.size(), 3u);
  EXPECT_EQ(confirmed.cases[2].event.header.kind, EventKind::kCancelled);
  EXPECT_EQ(confirmed.cases[2].event.header.case_ref, plan.unconfirmed_cancellations[0]);
}

TEST_F(ImportPlanTest, AQuarantinedRowHasNotVanishedAndAPastExitIsNotCancelled) {
  std::vector<ImportRow> day1 = {Row("bad-tomorrow", 130 * kDay), Row("released", 105 * kDay)};
  auto known = Acknowledge(MakePlan(in_, day1, Seen(day1), {}, *store_), {});
  in_.confirm_cancellations = true;
  in_.today = 110 * kDay;
  std::set<base::Bytes> seen = {store_->PersonKey("bad-tomorrow")};  // present, but invalid
  Plan plan = MakePlan(in_, {}, seen, known, *store_);
  EXPECT_TRUE(plan.cases.empty());
  EXPECT_TRUE(plan.unconfirmed_cancellations.empty());
}

TEST_F(ImportPlanTest, AChangeOutsideTheDateIsCountedButPublishesNothing) {
  std::vector<ImportRow> day1 = {Row("1", 130 * kDay)};
  auto known = Acknowledge(MakePlan(in_, day1, Seen(day1), {}, *store_), {});
  day1[0].body.needs.addiction_care = true;
  Plan plan = MakePlan(in_, day1, Seen(day1), known, *store_);
  EXPECT_TRUE(plan.cases.empty());
  EXPECT_EQ(plan.modified_without_event, 1u);
  ASSERT_EQ(plan.silent_updates.size(), 1u);
}

TEST_F(ImportPlanTest, AnUnacknowledgedReferralIsRepublishedWithTheSameIds) {
  std::vector<ImportRow> rows = {Row("1", 130 * kDay)};
  Plan first = MakePlan(in_, rows, Seen(rows), {}, *store_);
  ASSERT_EQ(first.cases.size(), 1u);
  std::map<base::Bytes, MappingEntry> known = {
      {first.cases[0].entry.person_key, first.cases[0].entry}};  // pending, never acked
  Plan second = MakePlan(in_, rows, Seen(rows), known, *store_);
  ASSERT_EQ(second.cases.size(), 1u);
  EXPECT_EQ(second.cases[0].event.header.event_id, first.cases[0].event.header.event_id);
  EXPECT_EQ(second.cases[0].consent->header.event_id, first.cases[0].consent->header.event_id);
}

}  // namespace
}  // namespace relais::importer
