#include "broker/journal/report.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "base/bytes.h"

namespace relais::journal {

namespace {

using schema::EventKind;

bool Contains(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

base::TimeMs Percentile(std::vector<base::TimeMs> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

ReportBuilder::ReportBuilder(ReportOptions options) : options_(std::move(options)) {}

void ReportBuilder::Add(const TimelineEvent& event) {
  ++events_;
  const schema::Header& h = event.header;
  if (h.kind == EventKind::kReferral) {
    if (cases_.count(h.case_ref) || event.received_at < options_.from ||
        event.received_at >= options_.to) {
      return;
    }
    CaseFacts c;
    c.kind = h.referral_kind;
    c.emitter = h.emitter;
    c.candidates = h.recipients;
    c.referred_at = event.received_at;
    c.due_at = h.due_at;
    cases_.emplace(h.case_ref, std::move(c));
    return;
  }
  auto it = cases_.find(h.case_ref);
  if (it == cases_.end()) return;
  CaseFacts& c = it->second;
  switch (h.kind) {
    case EventKind::kDeadlineChanged:
      c.due_at = h.due_at;
      break;
    case EventKind::kAccepted:
      if (!c.acceptor.empty()) break;  // the journal holds only the winner; be safe anyway
      c.acceptor = h.emitter;
      c.accepted_at = event.received_at;
      c.accepted_in_time =
          event.received_at <= c.due_at - (options_.accept_lead ? options_.accept_lead(c.kind) : 0);
      break;
    case EventKind::kDeclined:
      c.declined.insert(h.emitter);
      break;
    case EventKind::kPickedUp:
      if (c.picked_up) break;
      c.picked_up = true;
      c.exit_to_pickup = event.received_at - c.due_at;
      break;
    case EventKind::kEscalation:
      ++c.escalations;
      break;
    case EventKind::kRupture: {
      ++c.ruptures;
      ++ruptures_per_month_[base::FormatIsoUtc(event.received_at).substr(0, 7)];
      break;
    }
    case EventKind::kConsentWithdrawn:
      ++c.withdrawals;
      break;
    case EventKind::kPurgeRequest:
      for (const std::string& r : h.recipients) c.purge_requested.insert(r);
      break;
    case EventKind::kPurgeReceipt:
      if (c.purge_requested.count(h.emitter)) c.purge_received.insert(h.emitter);
      break;
    default:
      break;
  }
}

void ReportBuilder::AddToRow(ReportRow& row, const CaseFacts& c,
                             const std::string* receiver) const {
  ++row.referrals;
  const bool counts_acceptance = !c.acceptor.empty() && (!receiver || c.acceptor == *receiver);
  if (counts_acceptance) {
    ++row.accepted;
    if (c.accepted_in_time) ++row.accepted_in_time;
    row.referral_to_acceptance.push_back(c.accepted_at - c.referred_at);
    if (c.picked_up) row.exit_to_pickup.push_back(c.exit_to_pickup);
  }
  row.escalations += c.escalations;
  row.ruptures += c.ruptures;
  bool unplaced = c.acceptor.empty() && !c.candidates.empty();
  for (const std::string& cand : c.candidates) unplaced = unplaced && c.declined.count(cand);
  if (unplaced) ++row.unplaced;
  row.consent_withdrawals += c.withdrawals;
  if (receiver) {
    row.purge_requests += c.purge_requested.count(*receiver);
    row.purge_receipts += c.purge_received.count(*receiver);
  } else {
    row.purge_requests += c.purge_requested.size();
    row.purge_receipts += c.purge_received.size();
  }
}

Report ReportBuilder::Finish() const {
  Report report;
  report.from = options_.from;
  report.to = options_.to;
  report.events = events_;
  report.ruptures_per_month = ruptures_per_month_;
  ReportRow all;
  all.dimension = "all";
  all.value = "*";
  std::map<std::pair<std::string, std::string>, ReportRow> groups;
  auto group = [&groups](const char* dimension, const std::string& value) -> ReportRow& {
    ReportRow& row = groups[{dimension, value}];
    row.dimension = dimension;
    row.value = value;
    return row;
  };
  for (const auto& [ref, c] : cases_) {
    AddToRow(all, c, nullptr);
    AddToRow(group("referral_kind", schema::ReferralKindName(c.kind)), c, nullptr);
    AddToRow(group("emitter", c.emitter), c, nullptr);
    std::vector<std::string> receivers = c.candidates;
    std::sort(receivers.begin(), receivers.end());
    receivers.erase(std::unique(receivers.begin(), receivers.end()), receivers.end());
    for (const std::string& r : receivers) AddToRow(group("receiver", r), c, &r);
    if (!c.acceptor.empty() && !Contains(c.candidates, c.acceptor)) {
      AddToRow(group("receiver", c.acceptor), c, &c.acceptor);
    }
  }
  report.rows.push_back(std::move(all));
  // Dimensions in a fixed order: referral_kind, emitter, receiver.
  for (const char* dimension : {"referral_kind", "emitter", "receiver"}) {
    for (auto& [key, row] : groups) {
      if (key.first == dimension) report.rows.push_back(row);
    }
  }
  return report;
}

}  // namespace relais::journal
