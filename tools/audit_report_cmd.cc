// relais audit report: the Pacte's social metrics from journal metadata only
// (broker/journal/report.h), as a terminal table, CSV or a self-contained HTML page.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "broker/case_engine.h"
#include "broker/journal/reader.h"
#include "broker/journal/report.h"
#include "broker/journal/timeline.h"
#include "tools/audit_cmds.h"
#include "tools/audit_format.h"
#include "tools/audit_html.h"
#include "tools/audit_progress.h"
#include "tools/cli.h"

namespace relais::tools {

namespace {

const char* const kCsvColumns[] = {"dimension",
                                   "value",
                                   "referrals",
                                   "accepted",
                                   "accepted_before_deadline",
                                   "referral_to_acceptance_median_h",
                                   "referral_to_acceptance_p90_h",
                                   "exit_to_pickup_median_h",
                                   "exit_to_pickup_p90_h",
                                   "pickups",
                                   "escalations",
                                   "ruptures",
                                   "unplaced",
                                   "consent_withdrawals",
                                   "purge_requests",
                                   "purge_receipts"};

std::vector<std::string> CsvValues(const journal::ReportRow& r) {
  const auto& acc = r.referral_to_acceptance;
  const auto& pick = r.exit_to_pickup;
  return {r.dimension,
          r.value,
          std::to_string(r.referrals),
          std::to_string(r.accepted),
          std::to_string(r.accepted_in_time),
          Hours(journal::Percentile(acc, 0.5), !acc.empty()),
          Hours(journal::Percentile(acc, 0.9), !acc.empty()),
          Hours(journal::Percentile(pick, 0.5), !pick.empty()),
          Hours(journal::Percentile(pick, 0.9), !pick.empty()),
          std::to_string(pick.size()),
          std::to_string(r.escalations),
          std::to_string(r.ruptures),
          std::to_string(r.unplaced),
          std::to_string(r.consent_withdrawals),
          std::to_string(r.purge_requests),
          std::to_string(r.purge_receipts)};
}

std::string Csv(const journal::Report& report) {
  std::ostringstream out;
  for (size_t i = 0; i < std::size(kCsvColumns); ++i) out << (i ? "," : "") << kCsvColumns[i];
  out << "\n";
  for (const auto& row : report.rows) {
    auto values = CsvValues(row);
    for (size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << CsvField(values[i]);
    out << "\n";
  }
  return out.str();
}

std::string Table(const journal::Report& report) {
  std::ostringstream out;
  char line[512];
  std::snprintf(line, sizeof line,
                "%-14s %-20s %5s %5s %7s %9s %9s %9s %9s %4s %4s %4s %4s %4s %7s\n", "GROUP",
                "VALUE", "REFS", "ACC", "IN-TIME", "ACC-MED-H", "ACC-P90-H", "PICK-MED", "PICK-P90",
                "ESC", "RUPT", "UNPL", "WDRW", "PURG", "PURG-OK");
  out << line;
  for (const auto& r : report.rows) {
    auto v = CsvValues(r);
    std::snprintf(line, sizeof line,
                  "%-14s %-20s %5s %5s %7s %9s %9s %9s %9s %4s %4s %4s %4s %4s %7s\n", v[0].c_str(),
                  v[1].c_str(), v[2].c_str(), v[3].c_str(), v[4].c_str(), v[5].c_str(),
                  v[6].c_str(), v[7].c_str(), v[8].c_str(), v[10].c_str(), v[11].c_str(),
                  v[12].c_str(), v[13].c_str(), v[14].c_str(), v[15].c_str());
    out << line;
  }
  out << "ruptures per month:";
  if (report.ruptures_per_month.empty()) out << " none";
  for (const auto& [month, n] : report.ruptures_per_month) out << " " << month << "=" << n;
  out << "\n" << report.events << " events read\n";
  return out.str();
}

base::Status WriteOut(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::cout << text;
    return base::Ok();
  }
  base::Bytes bytes(text.begin(), text.end());
  return ReplaceFile(path, bytes, 0644);
}

}  // namespace

int AuditReport(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "audit report";
  spec.usage =
      "relais audit report JOURNAL [--from DATE] [--to DATE] [--format table|csv|html]\n"
      "                           [--out FILE] [--deadline KIND=ACCEPT_LEAD_H:PICKUP_GRACE_H]...";
  spec.description =
      "Computes the social metrics of the bus from journal metadata (never a sealed body), for\n"
      "the cases whose referral was received in [--from, --to): per referral kind, per emitter\n"
      "and per receiver, referrals, acceptances, acceptances before the accept-by deadline\n"
      "(dueAt - lead, the broker's policy; give relaisd's --deadline overrides if it had any),\n"
      "time from referral to acceptance and from exit (dueAt) to pickup (median and p90, hours),\n"
      "escalations, ruptures, unplaced cases, consent withdrawals and purges (requested and\n"
      "confirmed). html writes one self-contained page with its charts (no network access).\n"
      "See docs/audit.md for the exact definitions.";
  std::string journal_path, from_text, to_text, out_path, format = "table";
  std::vector<std::string> deadlines;
  spec.options.add_options()("journal", po::value(&journal_path)->required(), "the journal file")(
      "from", po::value(&from_text), "first referral reception date or time (inclusive)")(
      "to", po::value(&to_text), "last referral reception date or time (exclusive)")(
      "format", po::value(&format), "table (default), csv or html")(
      "out", po::value(&out_path), "write to FILE instead of stdout")(
      "deadline", po::value(&deadlines)->composing(),
      "relaisd's deadline policy override, KIND=ACCEPT_LEAD_HOURS:PICKUP_GRACE_HOURS");
  spec.positionals = {"journal"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  if (format != "table" && format != "csv" && format != "html") {
    return UsageError(spec.name, "--format must be table, csv or html");
  }
  broker::CaseEngineOptions engine_options;
  for (const auto& d : deadlines) {
    if (auto st = broker::ParsePolicyOverride(d, engine_options.policies); !st) {
      return Fail(spec.name, st.error());
    }
  }
  broker::CaseEngine policy(engine_options);
  journal::ReportOptions options;
  auto from = ParseDateOption("--from", from_text, false);
  if (!from) return Fail(spec.name, from.error());
  auto to = ParseDateOption("--to", to_text, true);
  if (!to) return Fail(spec.name, to.error());
  options.from = *from;
  options.to = *to;
  options.accept_lead = [&policy](schema::ReferralKind k) { return policy.Policy(k).accept_lead; };

  auto reader = journal::JournalReader::Open({.path = journal_path, .vfs = {}});
  if (!reader) return Fail(spec.name, reader.error());
  journal::ReportBuilder builder(options);
  uint64_t undecodable = 0;
  {
    AuditProgress progress("report");
    auto st = journal::ReadTimeline(
        **reader, journal::TimelineFilter{}, /*with_deliveries=*/false,
        [&](const journal::TimelineEvent& e) { builder.Add(e); },
        [&](uint64_t seq, uint64_t head) { progress.Update(seq, head); }, &undecodable);
    if (!st) return Fail(spec.name, st.error());
  }
  if (undecodable > 0) {
    std::cerr << "relais audit report: " << undecodable
              << " entries with undecodable headers skipped (run audit verify)\n";
  }
  journal::Report report = builder.Finish();
  std::string text = format == "csv"    ? Csv(report)
                     : format == "html" ? HtmlReport(report, journal_path)
                                        : Table(report);
  if (auto st = WriteOut(out_path, text); !st) return Fail(spec.name, st.error());
  return kExitOk;
}

}  // namespace relais::tools
