#include "tools/audit_html.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>
#include <vector>

#include "base/bytes.h"
#include "tools/audit_format.h"

namespace relais::tools {

namespace {

struct Bar {
  std::string label;
  uint64_t value;
};

// A vertical bar chart as inline SVG, with the value above each bar and the label below.
std::string BarChart(const std::string& title, const std::vector<Bar>& bars) {
  uint64_t max = 1;
  for (const Bar& b : bars) max = std::max(max, b.value);
  const int bar_w = 70, gap = 14, height = 180, top = 30, bottom = 40;
  const int width = std::max<int>(300, static_cast<int>(bars.size()) * (bar_w + gap) + gap);
  std::ostringstream svg;
  svg << "<figure><figcaption>" << HtmlEscape(title) << "</figcaption>\n"
      << "<svg role=\"img\" width=\"" << width << "\" height=\"" << (height + top + bottom)
      << "\" aria-label=\"" << HtmlEscape(title) << "\">\n";
  svg << "<line x1=\"0\" y1=\"" << (top + height) << "\" x2=\"" << width << "\" y2=\""
      << (top + height) << "\" stroke=\"#555\"/>\n";
  int x = gap;
  for (const Bar& b : bars) {
    int h = static_cast<int>(static_cast<double>(b.value) / static_cast<double>(max) * height);
    svg << "<rect class=\"bar\" x=\"" << x << "\" y=\"" << (top + height - h) << "\" width=\""
        << bar_w << "\" height=\"" << h << "\" fill=\"#3b6ea5\"><title>" << HtmlEscape(b.label)
        << ": " << b.value << "</title></rect>\n";
    svg << "<text x=\"" << (x + bar_w / 2) << "\" y=\"" << (top + height - h - 6)
        << "\" text-anchor=\"middle\" font-size=\"13\">" << b.value << "</text>\n";
    svg << "<text x=\"" << (x + bar_w / 2) << "\" y=\"" << (top + height + 18)
        << "\" text-anchor=\"middle\" font-size=\"11\">" << HtmlEscape(b.label) << "</text>\n";
    x += bar_w + gap;
  }
  svg << "</svg></figure>\n";
  return svg.str();
}

std::vector<Bar> PickupHistogram(const journal::Report& report) {
  std::vector<Bar> bars;
  for (const auto& b : kPickupBuckets) bars.push_back({b.label, 0});
  if (report.rows.empty()) return bars;
  for (base::TimeMs ms : report.rows.front().exit_to_pickup) {
    double hours = static_cast<double>(ms) / 3'600'000.0;
    for (size_t i = 0; i < std::size(kPickupBuckets); ++i) {
      if (hours < kPickupBuckets[i].upper_hours) {
        ++bars[i].value;
        break;
      }
    }
  }
  return bars;
}

std::string Cell(const std::string& s) { return "<td>" + HtmlEscape(s) + "</td>"; }

std::string Range(const journal::Report& r) {
  auto bound = [](base::TimeMs t) {
    if (t == std::numeric_limits<base::TimeMs>::min() ||
        t == std::numeric_limits<base::TimeMs>::max()) {
      return std::string("unbounded");
    }
    return base::FormatIsoUtc(t);
  };
  return bound(r.from) + " to " + bound(r.to);
}

void MetricsTable(const journal::Report& report, std::ostringstream& out) {
  out << "<table>\n<thead><tr><th>group</th><th>value</th><th>referrals</th><th>accepted</th>"
         "<th>accepted before deadline</th><th>referral→acceptance median (h)</th>"
         "<th>p90 (h)</th><th>exit→pickup median (h)</th><th>p90 (h)</th><th>pickups</th>"
         "<th>escalations</th><th>ruptures</th><th>unplaced</th><th>consent withdrawals</th>"
         "<th>purges requested</th><th>purges confirmed</th></tr></thead>\n<tbody>\n";
  for (const auto& r : report.rows) {
    const auto& acc = r.referral_to_acceptance;
    const auto& pick = r.exit_to_pickup;
    out << "<tr>" << Cell(r.dimension) << Cell(r.value) << Cell(std::to_string(r.referrals))
        << Cell(std::to_string(r.accepted)) << Cell(std::to_string(r.accepted_in_time))
        << Cell(Hours(journal::Percentile(acc, 0.5), !acc.empty()))
        << Cell(Hours(journal::Percentile(acc, 0.9), !acc.empty()))
        << Cell(Hours(journal::Percentile(pick, 0.5), !pick.empty()))
        << Cell(Hours(journal::Percentile(pick, 0.9), !pick.empty()))
        << Cell(std::to_string(pick.size())) << Cell(std::to_string(r.escalations))
        << Cell(std::to_string(r.ruptures)) << Cell(std::to_string(r.unplaced))
        << Cell(std::to_string(r.consent_withdrawals)) << Cell(std::to_string(r.purge_requests))
        << Cell(std::to_string(r.purge_receipts)) << "</tr>\n";
  }
  out << "</tbody></table>\n";
}

}  // namespace

std::string HtmlReport(const journal::Report& report, const std::string& journal_name) {
  std::ostringstream out;
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<title>relais audit report</title>\n<style>\n"
         "body{font-family:sans-serif;margin:2em;color:#222}"
         "table{border-collapse:collapse;font-size:13px}"
         "th,td{border:1px solid #bbb;padding:3px 6px;text-align:right}"
         "th{background:#eee}td:nth-child(-n+2){text-align:left}"
         "figure{display:inline-block;margin:1em 2em 1em 0}"
         "figcaption{font-weight:bold;margin-bottom:4px}\n"
         "</style></head><body>\n";
  out << "<h1>relais audit report</h1>\n<p>Journal: " << HtmlEscape(journal_name)
      << "<br>Cases referred from " << HtmlEscape(Range(report)) << "<br>" << report.events
      << " events read, metadata only (no sealed body was opened).</p>\n";
  MetricsTable(report, out);
  out << "<h2>Charts</h2>\n";
  out << BarChart("Time from exit to pickup (all cases)", PickupHistogram(report));
  std::vector<Bar> months;
  for (const auto& [month, n] : report.ruptures_per_month) months.push_back({month, n});
  if (months.empty()) months.push_back({"(none)", 0});
  out << BarChart("Ruptures per month", months);
  out << "<p>Definitions: docs/audit.md. Times are the broker's reception times (UTC).</p>\n"
         "</body></html>\n";
  return out.str();
}

}  // namespace relais::tools
