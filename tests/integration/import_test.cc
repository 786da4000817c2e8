// The list importers end to end (issue: emitter adapters): real relaisd, the real relais-import
// binary reading the files in adapters/<kind>/testdata/, and subscribing associations checking
// what arrives. Suites: PrisonImport (label prison), AseImport (ase), TreveImport (treve).
#include "tests/integration/import_fixture.h"

namespace relais::testing {
namespace {

class PrisonImport : public ImportScenario {
 protected:
  void SetUp() override { Deploy("spip-75", "prison_service"); }
  std::string Day1() { return Source("adapters/prison/testdata/day1.csv"); }
  std::string Day2() { return Source("adapters/prison/testdata/day2.csv"); }
};

TEST_F(PrisonImport, FirstListPublishesValidRowsAndQuarantinesEveryBadOne) {
  auto r = Import("prison", {Day1()}, "2027-01-15");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto s = Summary(r.output);
  EXPECT_EQ(s["accepted"], 4) << r.output;
  EXPECT_EQ(s["not_yet_due"], 1) << r.output;
  EXPECT_EQ(s["quarantined"], 9) << r.output;
  EXPECT_EQ(s["rows"], 14) << r.output;

  std::set<std::pair<int, std::string>> expected = {{8, "release_date"},
                                                    {9, "release_date"},
                                                    {10, "release_type"},
                                                    {11, "consent"},
                                                    {12, "recipients"},
                                                    {13, "person_id"},
                                                    {14, ""},
                                                    {15, ""},
                                                    {16, "birth_date"},
                                                    {16, "needs"}};  // two problems, one row
  EXPECT_EQ(Quarantine(), expected);
  std::string quarantine = ReadText(dir_.path() / "mapping.db.quarantine.csv");
  for (const char* name : {"Fabre", "Garnier", "Henry", "Lopez", "Morel", "Perrin", "spaceship"}) {
    EXPECT_EQ(quarantine.find(name), std::string::npos) << name;
    EXPECT_EQ(r.output.find(name), std::string::npos) << name;
  }

  auto got = OfKind(Receive("assoc-a", 4), EventKind::kReferral);
  ASSERT_EQ(got.size(), 4u);
  std::map<std::string, Received> by_name;
  for (const auto& g : got) {
    EXPECT_EQ(g.header.referral_kind, schema::ReferralKind::kPrisonRelease);
    EXPECT_EQ(g.header.tier, schema::Tier::kReferral);
    const auto& body = std::get<schema::ReferralBody>(g.body);
    by_name[body.person.family_name] = g;
  }
  ASSERT_EQ(by_name.count("Durand"), 1u);
  EXPECT_EQ(by_name["Durand"].header.due_at, Day("2027-03-15"));
  const auto& durand = std::get<schema::ReferralBody>(by_name["Durand"].body);
  EXPECT_EQ(durand.person.birth_date, "1980-04-12");
  EXPECT_TRUE(std::get<schema::PrisonDetails>(durand.details).date_firm);
  ASSERT_EQ(by_name.count("Martin; dite Léa"), 1u) << "quoted separator, UTF-8 accents";
  const auto& martin = std::get<schema::ReferralBody>(by_name["Martin; dite Léa"].body);
  EXPECT_FALSE(std::get<schema::PrisonDetails>(martin.details).date_firm);
  EXPECT_TRUE(martin.needs.addiction_care);
  EXPECT_EQ(by_name["Martin; dite Léa"].header.recipients,
            (std::vector<std::string>{"assoc-a", "assoc-b"}));
  ASSERT_EQ(by_name.count("Bernard"), 1u);
  EXPECT_EQ(std::get<schema::ReferralBody>(by_name["Bernard"].body).free_text,
            "suivi:\ntraitement en cours; voir CMP");
  // assoc-b was named by one row only.
  EXPECT_EQ(OfKind(Receive("assoc-b", 1), EventKind::kReferral).size(), 1u);
}

TEST_F(PrisonImport, ReimportingTheSameListPublishesNothing) {
  ASSERT_EQ(Import("prison", {Day1()}, "2027-01-15").exit_code, 0);
  ASSERT_EQ(OfKind(Receive("assoc-a", 4), EventKind::kReferral).size(), 4u);
  auto r = Import("prison", {Day1()}, "2027-01-15");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto s = Summary(r.output);
  EXPECT_EQ(s["accepted"], 0);
  EXPECT_EQ(s["deadline_changed"], 0);
  EXPECT_EQ(s["unchanged"], 4);
  EXPECT_EQ(Receive("assoc-a", 1, 1500ms).size(), 0u);
}

TEST_F(PrisonImport, NextDayListMovesDatesAndCancelsVanishedRowsOnlyWhenConfirmed) {
  ASSERT_EQ(Import("prison", {Day1()}, "2027-01-15").exit_code, 0);
  auto first = OfKind(Receive("assoc-a", 4), EventKind::kReferral);
  ASSERT_EQ(first.size(), 4u);
  std::map<std::string, std::string> case_of;
  for (const auto& g : first) {
    case_of[std::get<schema::ReferralBody>(g.body).person.family_name] = g.header.case_ref;
  }

  auto r = Import("prison", {Day2()}, "2027-01-16");  // Latin-1, ',' and ISO dates
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto s = Summary(r.output);
  EXPECT_EQ(s["accepted"], 1) << r.output;
  EXPECT_EQ(s["deadline_changed"], 1) << r.output;
  EXPECT_EQ(s["unchanged"], 2) << r.output;
  EXPECT_EQ(s["cancelled"], 0) << r.output;
  EXPECT_EQ(s["cancellations_unconfirmed"], 1) << r.output;
  EXPECT_NE(r.output.find("cancellation_unconfirmed case=" + case_of["Petit"]), std::string::npos)
      << r.output;
  auto got = Receive("assoc-a", 2);
  ASSERT_EQ(OfKind(got, EventKind::kReferral).size(), 1u);
  auto referral = OfKind(got, EventKind::kReferral)[0];
  EXPECT_EQ(std::get<schema::ReferralBody>(referral.body).person.family_name, "Bénard");
  EXPECT_EQ(std::get<schema::ReferralBody>(referral.body).person.given_names, "Zoé");
  auto moved = OfKind(got, EventKind::kDeadlineChanged);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].header.case_ref, case_of["Martin; dite Léa"]);
  EXPECT_EQ(moved[0].header.due_at, Day("2027-04-20"));
  EXPECT_TRUE(OfKind(got, EventKind::kCancelled).empty());

  r = Import("prison", {Day2()}, "2027-01-16", {"--confirm-cancellations"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  s = Summary(r.output);
  EXPECT_EQ(s["cancelled"], 1) << r.output;
  EXPECT_EQ(s["accepted"] + s["deadline_changed"], 0) << r.output;
  auto cancelled = OfKind(Receive("assoc-a", 1), EventKind::kCancelled);
  ASSERT_EQ(cancelled.size(), 1u);
  EXPECT_EQ(cancelled[0].header.case_ref, case_of["Petit"]);

  r = Import("prison", {Day2()}, "2027-01-16", {"--confirm-cancellations"});
  s = Summary(r.output);
  EXPECT_EQ(s["cancelled"] + s["accepted"] + s["deadline_changed"], 0) << r.output;
  EXPECT_EQ(s["cancellations_unconfirmed"], 0) << r.output;
}

TEST_F(PrisonImport, TheMappingFileHoldsNoIdentity) {
  ASSERT_EQ(Import("prison", {Day1()}, "2027-01-15").exit_code, 0);
  for (const char* suffix : {"", "-wal"}) {
    std::ifstream in(dir_.path().string() + "/mapping.db" + suffix, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const char* needle : {"E-1001", "Durand", "Fresnes"}) {
      EXPECT_EQ(bytes.find(needle), std::string::npos) << needle << suffix;
    }
  }
}

TEST_F(PrisonImport, WatchedFolderImportsDroppedFiles) {
  auto watch = dir_.path() / "inbox";
  std::filesystem::create_directories(watch);
  std::vector<std::string> argv =
      JoinArgs({{RELAIS_IMPORT_BIN, "prison"},
                AgencyFlags(*deployment_, emitter_, broker_->endpoint()),
                {"--store", (dir_.path() / "mapping.db").string(), "--recipients", "assoc-a",
                 "--today", "2027-01-15", "--watch", watch.string()}});
  auto p = Process::Start(argv, dir_.path() / "watch.log");
  ASSERT_TRUE(p);
  ASSERT_TRUE((*p)->WaitForLog("watching", 10s)) << (*p)->Log();
  std::filesystem::copy_file(Day1(), watch / "list.csv.part");
  std::filesystem::rename(watch / "list.csv.part", watch / "list.csv");
  ASSERT_TRUE((*p)->WaitForLog("summary", 30s)) << (*p)->Log();
  EXPECT_EQ(Summary((*p)->Log())["accepted"], 4) << (*p)->Log();
  EXPECT_EQ(OfKind(Receive("assoc-a", 4), EventKind::kReferral).size(), 4u);
  EXPECT_TRUE(std::filesystem::exists(watch / "done" / "list.csv"));
  (*p)->Signal(SIGTERM);
  EXPECT_EQ((*p)->Wait(10s), 0);
}

class AseImport : public ImportScenario {
 protected:
  // The department's registry entry allows the notice tier without consent for ase_exit.
  void SetUp() override {
    Deploy("ase-93", "child_welfare", {"--notice-without-consent", "ase_exit"});
  }
};

TEST_F(AseImport, ReferralsAtEighteenOrContractEndAndRemindersAtSeventeen) {
  auto r = Import("ase", {Source("adapters/ase/testdata/day1.csv")}, "2027-01-15");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto s = Summary(r.output);
  EXPECT_EQ(s["accepted"], 2) << r.output;
  EXPECT_EQ(s["not_yet_due"], 2) << r.output;
  EXPECT_EQ(s["quarantined"], 2) << r.output;
  EXPECT_EQ(s["reminders"], 3) << r.output;
  EXPECT_EQ(Quarantine(), (std::set<std::pair<int, std::string>>{{6, "contrat_jeune_majeur_end"},
                                                                 {7, "birth_date"}}));
  std::string reminders = ReadText(dir_.path() / "mapping.db.reminders.csv");
  for (const char* id : {"A-1,2026-05-20", "A-3,2027-01-01", "A-4,2026-10-01"}) {
    EXPECT_NE(reminders.find(id), std::string::npos) << reminders;
  }

  auto got = OfKind(Receive("assoc-a", 2), EventKind::kReferral);
  ASSERT_EQ(got.size(), 2u);
  std::string a1_case;
  for (const auto& g : got) {
    EXPECT_EQ(g.header.referral_kind, schema::ReferralKind::kAseExit);
    const auto& body = std::get<schema::ReferralBody>(g.body);
    if (g.header.tier == schema::Tier::kReferral) {
      EXPECT_EQ(body.person.family_name, "Petit");
      EXPECT_EQ(g.header.due_at, Day("2027-05-20"));  // the 18th birthday
      a1_case = g.header.case_ref;
    } else {
      EXPECT_EQ(g.header.legal_basis, schema::LegalBasis::kNoticeAllowed);
      EXPECT_TRUE(body.person.family_name.empty()) << "notice tier carries no identity";
      EXPECT_EQ(g.header.due_at, Day("2027-06-30"));  // the contrat jeune majeur's end
      EXPECT_EQ(std::get<schema::AseDetails>(body.details).contrat_jeune_majeur_end, "2027-06-30");
    }
  }
  ASSERT_FALSE(a1_case.empty());

  r = Import("ase", {Source("adapters/ase/testdata/day2.csv")}, "2027-01-16");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  s = Summary(r.output);
  EXPECT_EQ(s["deadline_changed"], 1) << r.output;
  EXPECT_EQ(s["accepted"], 0) << r.output;
  auto moved = OfKind(Receive("assoc-a", 1), EventKind::kDeadlineChanged);
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(moved[0].header.case_ref, a1_case);
  EXPECT_EQ(moved[0].header.due_at, Day("2028-12-31"));
}

class TreveImport : public ImportScenario {
 protected:
  void SetUp() override { Deploy("ccapex-75", "eviction_prevention"); }
  std::string File() { return Source("adapters/treve/testdata/households.jsonl"); }
};

TEST_F(TreveImport, NothingBeforeJanuaryThenFirstAprilOrTheLaterEvictionDate) {
  auto r = Import("treve", {File()}, "2026-11-25");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto s = Summary(r.output);
  EXPECT_EQ(s["accepted"], 0) << r.output;
  EXPECT_EQ(s["not_yet_due"], 3) << r.output;
  EXPECT_EQ(Receive("assoc-a", 1, 1000ms).size(), 0u);

  r = Import("treve", {File()}, "2027-01-15");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  s = Summary(r.output);
  EXPECT_EQ(s["accepted"], 2) << r.output;
  EXPECT_EQ(s["quarantined"], 5) << r.output;
  EXPECT_EQ(Quarantine(), (std::set<std::pair<int, std::string>>{
                              {4, "stage"}, {5, ""}, {6, "consent"}, {7, "adults"}, {8, ""}}));
  auto got = OfKind(Receive("assoc-a", 2), EventKind::kReferral);
  ASSERT_EQ(got.size(), 2u);
  std::map<std::string, base::TimeMs> due;
  for (const auto& g : got) {
    EXPECT_EQ(g.header.referral_kind, schema::ReferralKind::kTreveEnd);
    const auto& body = std::get<schema::ReferralBody>(g.body);
    due[body.person.family_name] = g.header.due_at;
    if (body.person.family_name == "Moreau") {
      auto d = std::get<schema::TreveDetails>(body.details);
      EXPECT_EQ(d.procedure_stage, "cfp_granted");
      EXPECT_EQ(d.household_adults, 2);
      EXPECT_EQ(d.household_children, 1);
      EXPECT_EQ(body.exit_place, "12 rue de Test, 75020 Paris");
    }
  }
  EXPECT_EQ(due["Moreau"], Day("2027-04-01"));
  EXPECT_EQ(due["Lambert"], Day("2027-05-20"));
}

}  // namespace
}  // namespace relais::testing
