#include "adapters/sdk/receipt.h"

#include <algorithm>
#include <charconv>
#include <iomanip>
#include <map>
#include <sstream>

#include "base/bytes.h"

namespace relais::sdk {

namespace {

std::vector<std::string> SplitTabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) return out;
    start = tab + 1;
  }
}

bool ToInt(const std::string& text, int64_t& out) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

std::string When(base::TimeMs t) { return t == 0 ? "-" : base::FormatIsoUtc(t); }

}  // namespace

size_t DisclosureReceipt::unconfirmed_purges() const {
  return std::count_if(purges.begin(), purges.end(),
                       [](const ReceiptPurge& p) { return p.confirmed_at == 0; });
}

base::Result<DisclosureReceipt> ParseReceipt(const std::string& case_ref,
                                             const schema::AdminReply& reply) {
  DisclosureReceipt out;
  out.case_ref = case_ref;
  struct Entry {
    schema::EventKind kind;
    std::string emitter;
    base::TimeMs at;
  };
  std::map<uint64_t, Entry> entries;
  std::map<std::string, ReceiptPurge> purges;
  for (size_t i = 0; i < reply.lines.size(); ++i) {
    auto bad = [&](const std::string& why) {
      return base::InvalidInput("bad_receipt",
                                "receipt line " + std::to_string(i + 1) + ": " + why);
    };
    auto f = SplitTabs(reply.lines[i]);
    int64_t seq = 0, t = 0;
    if (f[0] == "entry" && f.size() == 5) {
      auto kind = schema::ParseEventKind(f[2]);
      if (!ToInt(f[1], seq) || !ToInt(f[4], t) || !kind) return bad("malformed entry");
      entries[static_cast<uint64_t>(seq)] = {*kind, f[3], t};
      if (*kind == schema::EventKind::kConsentWithdrawn) out.withdrawn = true;
      if (*kind == schema::EventKind::kPurgeReceipt) {
        auto& p = purges[f[3]];
        p.agency = f[3];
        if (p.confirmed_at == 0) p.confirmed_at = t;
      }
    } else if (f[0] == "delivery" && f.size() == 6) {
      int64_t acked = 0;
      if (!ToInt(f[1], seq) || !ToInt(f[4], acked)) return bad("malformed delivery");
      auto e = entries.find(static_cast<uint64_t>(seq));
      if (e == entries.end()) return bad("delivery of an entry not listed before it");
      ReceiptDelivery d{static_cast<uint64_t>(seq),
                        e->second.kind,
                        e->second.emitter,
                        f[2],
                        e->second.at,
                        acked,
                        f[3],
                        f[5]};
      if (d.kind == schema::EventKind::kPurgeRequest) {
        auto& p = purges[d.agency];
        p.agency = d.agency;
        if (p.requested_at == 0) p.requested_at = d.sent_at;
      }
      out.deliveries.push_back(std::move(d));
    } else {
      return bad("unknown record");
    }
  }
  for (auto& [agency, p] : purges) {
    if (p.requested_at != 0) out.purges.push_back(p);  // a receipt without a request is ignored
  }
  return out;
}

std::string FormatReceipt(const DisclosureReceipt& r) {
  std::ostringstream out;
  out << "Case " << r.case_ref << ": what was shared, with whom, when (times UTC)\n";
  if (r.deliveries.empty()) out << "  nothing was sent to any agency\n";
  out << std::left;
  if (!r.deliveries.empty()) {
    out << "  " << std::setw(22) << "agency" << std::setw(20) << "event" << std::setw(26) << "sent"
        << std::setw(26) << "acknowledged"
        << "state\n";
  }
  for (const auto& d : r.deliveries) {
    std::string state = d.state == "dead" ? "stopped (" + d.reason + ")" : d.state;
    out << "  " << std::setw(22) << d.agency << std::setw(20)
        << (std::string(schema::EventKindName(d.kind)) + " #" + std::to_string(d.seq))
        << std::setw(26) << When(d.sent_at) << std::setw(26) << When(d.acked_at) << state << "\n";
  }
  if (r.withdrawn || !r.purges.empty()) {
    out << "Consent withdrawn: purge requests (" << r.unconfirmed_purges() << " unconfirmed)\n";
    for (const auto& p : r.purges) {
      out << "  " << std::setw(22) << p.agency << "requested " << When(p.requested_at) << ", "
          << (p.confirmed_at ? "confirmed " + When(p.confirmed_at) : "NOT CONFIRMED YET") << "\n";
    }
  }
  return out.str();
}

}  // namespace relais::sdk
