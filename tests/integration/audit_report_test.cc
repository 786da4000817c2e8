// Cross-process tests of `relais audit replay`, `report` and `rebuild` on a journal written by a
// real relaisd driven through known scenarios on a test clock file (time moves by rewriting the
// file, never by sleeping), then read by the real CLI.
//
// Deployment (scenario_fixture.h): a hospital, two associations and the territory's SIAO (and a
// prison and a child-welfare service that take no part here). Hospital discharge and
// maternity exit: accept by dueAt-48h, pick up by dueAt+24h. Five cases, all referred at t0 to
// both associations:
//   A  hospital_discharge, due t0+5d: assoc-a accepts at t0+1h (in time), hospital hands over,
//      assoc-a picks up at due+2h                      -> no escalation, no rupture
//   B  maternity_exit, due t0+5d: nobody answers        -> escalation at T1, rupture at T2
//   C  hospital_discharge, due t0+2d (accept-by = t0): escalated at once; assoc-b accepts at
//      t0+2h (late), never picks up                     -> escalation, rupture at T1
//   D  hospital_discharge, due t0+5d: both decline at t0+1h -> unplaced escalation, rupture at T2
//   E  hospital_discharge, due t0+5d: consent withdrawn at t0 -> purge requests to assoc-a and
//      assoc-b; only assoc-a confirms the purge
// T1 = t0+3d+1ms (after C's pickup-by and B's accept-by), T2 = t0+6d+1ms.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "adapters/sdk/envelope_builder.h"
#include "base/bytes.h"
#include "broker/journal/reader.h"
#include "crypto/random.h"
#include "schema/codec.h"
#include "tests/harness/harness.h"
#include "tests/integration/scenario_fixture.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;
using schema::EventKind;

// The scenario deployment (scenario_fixture.h) with five cases run through it before each test.
class AuditScenarioTest : public ScenarioTest {
 protected:
  void SetUp() override {
    ScenarioTest::SetUp();
    t1_ = t0_ + 3 * kDay + 1;
    t2_ = t0_ + 6 * kDay + 1;
    RunScenarios();
  }

  void Publish(const std::string& emitter, const schema::Envelope& env) {
    auto& client = clients_[emitter];
    if (!client) {
      client = ConnectClient(*deployment_, deployment_->Identity(emitter), broker_->endpoint());
    }
    auto r = client->Publish(env, sdk::DeadlineAfter(10s));
    ASSERT_TRUE(r) << r.error().ToString();
  }

  // Consent, then a referral at referral tier to both associations.
  std::string Refer(schema::ReferralKind kind, base::TimeMs due) {
    std::string case_ref = crypto::NewCaseRef();
    const std::vector<std::string> both = {"assoc-a", "assoc-b"};
    Publish("hospital", ConsentFor(case_ref, "consent-" + case_ref, both));
    Publish("hospital", ReferralOf(kind, "hospital", case_ref, both, due));
    return case_ref;
  }

  // Journal rows of `kind`, polled until there are `want` of them (the broker's timers run
  // asynchronously after a clock change) or 10 s passed.
  size_t AwaitRows(EventKind kind, size_t want) {
    size_t n = 0;
    for (int i = 0; i < 200; ++i) {
      n = 0;
      auto reader = journal::JournalReader::Open({broker_->journal(), ""});
      if (reader) {
        (void)(*reader)->ForEachFrom(
            1,
            [&](const journal::StoredEntry& e) {
              n += e.kind == kind;
              return true;
            },
            journal::ReadScope::kMetadata);
      }
      if (n >= want) return n;
      std::this_thread::sleep_for(50ms);
    }
    return n;
  }

  void RunScenarios() {
    const base::TimeMs due = t0_ + 5 * kDay;
    a_ = Refer(schema::ReferralKind::kHospitalDischarge, due);
    b_ = Refer(schema::ReferralKind::kMaternityExit, due);
    c_ = Refer(schema::ReferralKind::kHospitalDischarge, t0_ + 2 * kDay);
    d_ = Refer(schema::ReferralKind::kHospitalDischarge, due);
    e_ = Refer(schema::ReferralKind::kHospitalDischarge, due);
    ASSERT_EQ(AwaitRows(EventKind::kEscalation, 1), 1u);  // C, at once
    schema::Header w = Base(EventKind::kConsentWithdrawn, e_, {});
    w.consent_ref = "consent-" + e_;
    Publish("hospital", Build(w, "hospital"));
    ASSERT_EQ(AwaitRows(EventKind::kPurgeRequest, 1), 1u);
    Publish("assoc-a", Build(Base(EventKind::kPurgeReceipt, e_, {"hospital"}), "assoc-a"));

    SetClock(t0_ + kHour);
    Publish("assoc-a", Build(Base(EventKind::kAccepted, a_, {"hospital"}), "assoc-a"));
    for (const char* agency : {"assoc-a", "assoc-b"}) {
      schema::Header decline = Base(EventKind::kDeclined, d_, {"hospital"});
      decline.decline_reason = schema::DeclineReason::kNoCapacity;
      Publish(agency, Build(decline, agency));
    }
    ASSERT_EQ(AwaitRows(EventKind::kEscalation, 2), 2u);  // D, unplaced
    SetClock(t0_ + 2 * kHour);
    Publish("assoc-b", Build(Base(EventKind::kAccepted, c_, {"hospital"}), "assoc-b"));

    SetClock(t1_);
    ASSERT_EQ(AwaitRows(EventKind::kEscalation, 3), 3u);  // B
    ASSERT_EQ(AwaitRows(EventKind::kRupture, 1), 1u);     // C

    SetClock(due + 2 * kHour);
    Publish("hospital", Build(Base(EventKind::kHandedOver, a_, {"assoc-a"}), "hospital"));
    Publish("assoc-a", Build(Base(EventKind::kPickedUp, a_, {"hospital"}), "assoc-a"));

    SetClock(t2_);
    ASSERT_EQ(AwaitRows(EventKind::kRupture, 3), 3u);  // B and D
  }

  CommandResult Audit(const std::string& sub, std::vector<std::string> extra) {
    std::vector<std::string> argv = {RelaisBin(), "audit", sub, broker_->journal().string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  std::vector<std::string> RegistryArgs() const {
    return {"--registry", deployment_->RegistryFile().string(), "--authority-pub",
            deployment_->AuthorityPub().string()};
  }

  std::map<std::string, std::unique_ptr<sdk::Client>> clients_;
  base::TimeMs t1_ = 0, t2_ = 0;
  std::string a_, b_, c_, d_, e_;
};

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, sep)) out.push_back(item);
  return out;
}

// CSV lines (header first) as column -> value maps, skipping lines that are not CSV rows.
std::vector<std::map<std::string, std::string>> ParseCsv(const std::string& text) {
  auto lines = Split(text, '\n');
  std::vector<std::map<std::string, std::string>> rows;
  if (lines.empty()) return rows;
  auto columns = Split(lines[0], ',');
  for (size_t i = 1; i < lines.size(); ++i) {
    auto values = Split(lines[i], ',');
    if (values.size() != columns.size() && !(values.size() + 1 == columns.size())) continue;
    std::map<std::string, std::string> row;
    for (size_t c = 0; c < columns.size(); ++c)
      row[columns[c]] = c < values.size() ? values[c] : "";
    rows.push_back(std::move(row));
  }
  return rows;
}

const std::map<std::string, std::string>* Find(
    const std::vector<std::map<std::string, std::string>>& rows, const std::string& dimension,
    const std::string& value) {
  for (const auto& r : rows) {
    if (r.at("dimension") == dimension && r.at("value") == value) return &r;
  }
  return nullptr;
}

// The expected metrics of one report row, in CSV column order after dimension and value.
void ExpectRow(const std::vector<std::map<std::string, std::string>>& rows,
               const std::string& dimension, const std::string& value,
               const std::map<std::string, std::string>& expected) {
  const auto* row = Find(rows, dimension, value);
  ASSERT_NE(row, nullptr) << dimension << " " << value;
  for (const auto& [column, want] : expected) {
    EXPECT_EQ(row->at(column), want) << dimension << " " << value << " column " << column;
  }
}

TEST_F(AuditScenarioTest, ReportCsvCountsEveryScenarioExactly) {
  CommandResult r = Audit("report", {"--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = ParseCsv(r.output);
  ExpectRow(rows, "all", "*",
            {{"referrals", "5"},
             {"accepted", "2"},
             {"accepted_before_deadline", "1"},
             {"referral_to_acceptance_median_h", "1.0"},
             {"referral_to_acceptance_p90_h", "2.0"},
             {"exit_to_pickup_median_h", "2.0"},
             {"exit_to_pickup_p90_h", "2.0"},
             {"pickups", "1"},
             {"escalations", "3"},
             {"ruptures", "3"},
             {"unplaced", "1"},
             {"consent_withdrawals", "1"},
             {"purge_requests", "2"},
             {"purge_receipts", "1"}});
  ExpectRow(rows, "referral_kind", "hospital_discharge",
            {{"referrals", "4"},
             {"accepted", "2"},
             {"accepted_before_deadline", "1"},
             {"escalations", "2"},
             {"ruptures", "2"},
             {"unplaced", "1"},
             {"consent_withdrawals", "1"}});
  ExpectRow(rows, "referral_kind", "maternity_exit",
            {{"referrals", "1"},
             {"accepted", "0"},
             {"referral_to_acceptance_median_h", "-"},
             {"escalations", "1"},
             {"ruptures", "1"},
             {"unplaced", "0"}});
  ExpectRow(rows, "emitter", "hospital", {{"referrals", "5"}, {"ruptures", "3"}});
  ExpectRow(rows, "receiver", "assoc-a",
            {{"referrals", "5"},
             {"accepted", "1"},
             {"accepted_before_deadline", "1"},
             {"referral_to_acceptance_median_h", "1.0"},
             {"pickups", "1"},
             {"purge_requests", "1"},
             {"purge_receipts", "1"}});
  ExpectRow(rows, "receiver", "assoc-b",
            {{"referrals", "5"},
             {"accepted", "1"},
             {"accepted_before_deadline", "0"},
             {"referral_to_acceptance_median_h", "2.0"},
             {"pickups", "0"},
             {"purge_requests", "1"},
             {"purge_receipts", "0"}});
  EXPECT_EQ(Find(rows, "receiver", "siao"), nullptr) << r.output;
}

TEST_F(AuditScenarioTest, ReportWindowSelectsCasesByReferralTime) {
  CommandResult before = Audit("report", {"--format", "csv", "--to", base::FormatIsoUtc(t0_)});
  ASSERT_EQ(before.exit_code, 0) << before.output;
  ExpectRow(ParseCsv(before.output), "all", "*", {{"referrals", "0"}, {"ruptures", "0"}});
  CommandResult from = Audit("report", {"--format", "csv", "--from", base::FormatIsoUtc(t0_)});
  ASSERT_EQ(from.exit_code, 0) << from.output;
  ExpectRow(ParseCsv(from.output), "all", "*", {{"referrals", "5"}, {"ruptures", "3"}});
  CommandResult bad = Audit("report", {"--from", "2026-13-01"});
  EXPECT_EQ(bad.exit_code, 1) << bad.output;
  EXPECT_NE(bad.output.find("bad_date"), std::string::npos) << bad.output;
}

TEST_F(AuditScenarioTest, ReportTableAndSelfContainedHtml) {
  CommandResult table = Audit("report", {});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  std::map<std::string, uint64_t> months;
  for (base::TimeMs t : {t1_, t2_, t2_}) ++months[base::FormatIsoUtc(t).substr(0, 7)];
  for (const auto& [month, n] : months) {
    EXPECT_NE(table.output.find(month + "=" + std::to_string(n)), std::string::npos)
        << table.output;
  }
  const auto html_path = dir_.path() / "report.html";
  CommandResult html = Audit("report", {"--format", "html", "--out", html_path.string()});
  ASSERT_EQ(html.exit_code, 0) << html.output;
  std::ifstream in(html_path);
  std::string page((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_NE(page.find("Ruptures per month"), std::string::npos);
  EXPECT_NE(page.find("Time from exit to pickup"), std::string::npos);
  // One pickup, 2 h after the exit: the 0-12 h bar holds it.
  EXPECT_NE(page.find("<title>0-12 h: 1</title>"), std::string::npos) << page;
  for (const auto& [month, n] : months) {
    EXPECT_NE(page.find("<title>" + month + ": " + std::to_string(n) + "</title>"),
              std::string::npos);
  }
  // Self-contained: nothing is fetched (no script, stylesheet, image or other URL).
  for (const char* forbidden :
       {"<script", "<link", "<img", "src=", "href=", "http://www.", "https:"}) {
    EXPECT_EQ(page.find(forbidden), std::string::npos) << forbidden;
  }
}

TEST_F(AuditScenarioTest, ReplayOfOneCaseShowsItsWholeHistoryFromMetadata) {
  CommandResult r = Audit("replay", {"--case", e_, "--format", "csv"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto rows = ParseCsv(r.output);
  std::vector<std::string> kinds;
  for (const auto& row : rows) kinds.push_back(row.at("kind"));
  EXPECT_EQ(kinds, (std::vector<std::string>{"consent_granted", "referral", "consent_withdrawn",
                                             "purge_request", "purge_receipt"}))
      << r.output;
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[1].at("emitter"), "hospital");
  EXPECT_EQ(rows[1].at("recipients"), "assoc-a;assoc-b");
  EXPECT_EQ(rows[1].at("consent"), "");
  EXPECT_EQ(rows[0].at("consent"), "consent-" + e_);
  EXPECT_EQ(rows[2].at("consent"), "consent-" + e_);
  EXPECT_EQ(rows[1].at("erased"), "yes");  // crypto-shredded after the withdrawal
  EXPECT_EQ(rows[3].at("emitter"), "broker-test");
  EXPECT_EQ(rows[3].at("recipients"), "assoc-a;assoc-b");
  EXPECT_EQ(rows[3].at("in_reply_to_seq"), rows[2].at("seq"));
  EXPECT_EQ(rows[4].at("emitter"), "assoc-a");
}

TEST_F(AuditScenarioTest, ReplayFiltersByAgencyAndTimeInEveryFormat) {
  // The SIAO only ever receives escalations and ruptures.
  CommandResult siao = Audit("replay", {"--agency", "siao", "--format", "csv"});
  ASSERT_EQ(siao.exit_code, 0) << siao.output;
  std::map<std::string, int> kinds;
  for (const auto& row : ParseCsv(siao.output)) ++kinds[row.at("kind")];
  EXPECT_EQ(kinds, (std::map<std::string, int>{{"escalation", 3}, {"rupture", 3}})) << siao.output;
  // From T2 on: the two ruptures of B and D, nothing else.
  CommandResult late = Audit("replay", {"--from", base::FormatIsoUtc(t2_), "--format", "json"});
  ASSERT_EQ(late.exit_code, 0) << late.output;
  auto lines = Split(late.output, '\n');
  ASSERT_EQ(lines.size(), 2u) << late.output;
  for (const auto& line : lines) {
    EXPECT_NE(line.find("\"kind\":\"rupture\""), std::string::npos) << line;
  }
  EXPECT_NE(late.output.find(b_), std::string::npos);
  EXPECT_NE(late.output.find(d_), std::string::npos);
  CommandResult table = Audit("replay", {"--case", a_});
  ASSERT_EQ(table.exit_code, 0) << table.output;
  // The table form of one case: its acceptance, the offer taken from the other, the pickup.
  EXPECT_NE(table.output.find("picked_up"), std::string::npos) << table.output;
  EXPECT_NE(table.output.find("offer_taken"), std::string::npos) << table.output;
}

TEST_F(AuditScenarioTest, RebuildMatchesTheLiveTablesWhileTheBrokerRuns) {
  CommandResult r = Audit("rebuild", RegistryArgs());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("identical to the live tables"), std::string::npos) << r.output;
}

TEST_F(AuditScenarioTest, RebuildListsADerivedTableTamperedWith) {
  broker_->Stop();
  CommandResult tamper = TamperJournal(
      broker_->journal(), "UPDATE cases SET state = 'picked_up' WHERE case_ref = '" + b_ +
                              "'; DELETE FROM consents WHERE case_ref = '" + a_ + "';");
  ASSERT_EQ(tamper.exit_code, 0) << tamper.output;
  CommandResult r = Audit("rebuild", RegistryArgs());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("cases " + b_ + ":"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("consents consent-" + a_ + ":"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("2 differences"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace relais::testing
