// The Pacte's social metrics, computed from journal metadata only (docs/audit.md §4): per
// referral sub-kind, per emitter and per receiver, how many referrals, how many were accepted
// before the accept-by deadline, how long acceptance and pickup took, escalations, ruptures
// (sorties sèches that happened), unplaced cases, consent withdrawals and purge completion.
//
// A case belongs to the report when its referral was received in [from, to); everything that
// happened to it afterwards (even after `to`) counts. Times are receivedAt (the broker's clock),
// not the emitters' claimed times. Pure aggregation, no I/O: feed it timeline events in seq order.
#ifndef RELAIS_BROKER_JOURNAL_REPORT_H_
#define RELAIS_BROKER_JOURNAL_REPORT_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/clock.h"
#include "broker/journal/timeline.h"
#include "schema/envelope.h"

namespace relais::journal {

struct ReportOptions {
  base::TimeMs from = std::numeric_limits<base::TimeMs>::min();
  base::TimeMs to = std::numeric_limits<base::TimeMs>::max();
  // Accept-by lead per referral kind (acceptBy = dueAt - lead); the broker's deadline policy.
  std::function<base::TimeMs(schema::ReferralKind)> accept_lead;
};

// Nearest-rank percentile of `values` (p in (0, 1]); 0 for no values.
base::TimeMs Percentile(std::vector<base::TimeMs> values, double p);

// One line of the report: a group of cases (all, one referral kind, one emitter or one receiver).
struct ReportRow {
  std::string dimension;  // "all", "referral_kind", "emitter", "receiver"
  std::string value;      // "*", a referral kind name, an agency id
  uint64_t referrals = 0;
  uint64_t accepted = 0;
  uint64_t accepted_in_time = 0;                     // accepted at or before dueAt - lead
  std::vector<base::TimeMs> referral_to_acceptance;  // ms, one per accepted case
  std::vector<base::TimeMs> exit_to_pickup;          // ms from dueAt to picked_up (may be < 0)
  uint64_t escalations = 0;
  uint64_t ruptures = 0;
  uint64_t unplaced = 0;  // every candidate declined
  uint64_t consent_withdrawals = 0;
  uint64_t purge_requests = 0;  // (case, agency) pairs asked to purge
  uint64_t purge_receipts = 0;  // of those, confirmed by a purge_receipt
};

struct Report {
  base::TimeMs from = 0;
  base::TimeMs to = 0;
  uint64_t events = 0;                                 // timeline events read
  std::vector<ReportRow> rows;                         // "all" first, then by dimension and value
  std::map<std::string, uint64_t> ruptures_per_month;  // "YYYY-MM" (UTC) -> ruptures
};

// Aggregates timeline events (seq order) into a Report.
class ReportBuilder {
 public:
  explicit ReportBuilder(ReportOptions options);
  void Add(const TimelineEvent& event);
  Report Finish() const;

 private:
  struct CaseFacts {
    schema::ReferralKind kind = schema::ReferralKind::kNone;
    std::string emitter;
    std::vector<std::string> candidates;
    base::TimeMs referred_at = 0;
    base::TimeMs due_at = 0;
    std::string acceptor;
    base::TimeMs accepted_at = 0;
    bool accepted_in_time = false;
    bool picked_up = false;
    base::TimeMs exit_to_pickup = 0;
    std::set<std::string> declined;
    uint64_t escalations = 0;
    uint64_t ruptures = 0;
    uint64_t withdrawals = 0;
    std::set<std::string> purge_requested;
    std::set<std::string> purge_received;
  };
  void AddToRow(ReportRow& row, const CaseFacts& c, const std::string* receiver) const;

  ReportOptions options_;
  uint64_t events_ = 0;
  std::map<std::string, CaseFacts> cases_;  // by case ref, referral in [from, to)
  std::map<std::string, uint64_t> ruptures_per_month_;
};

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_REPORT_H_
