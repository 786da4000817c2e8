// The idempotent diff: valid rows of today's snapshot against the mapping store give the events
// to publish (referral, deadline_changed, cancelled) and the counts of what needs none.
#ifndef RELAIS_ADAPTERS_IMPORTER_IMPORT_PLAN_H_
#define RELAIS_ADAPTERS_IMPORTER_IMPORT_PLAN_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "adapters/importer/events.h"
#include "adapters/importer/mapping_store.h"
#include "adapters/importer/row.h"
#include "schema/registry.h"

namespace relais::importer {

struct PlanInput {
  const RowSchema* schema = nullptr;
  const schema::Registry* registry = nullptr;
  std::string emitter;  // this agency's id
  std::vector<std::string> default_recipients;
  base::TimeMs today = 0;
  bool confirm_cancellations = false;
  EventDefaults defaults;
};

// One entry's planned event(s); `entry` is what the store holds once they are all acknowledged
// (pending fields set), `before` what it held (absent: a new case).
struct PlannedCase {
  MappingEntry entry;
  std::optional<MappingEntry> before;
  int line = 0;  // 0 for a vanished row
  std::string file;
  std::optional<OutgoingEvent> consent;
  OutgoingEvent event;
};

struct Plan {
  std::vector<PlannedCase> cases;
  std::vector<RowProblem> problems;  // rows quarantined by the plan (recipients, consent, dates)
  std::vector<std::string> unconfirmed_cancellations;  // case refs, without --confirm
  size_t unchanged = 0;
  size_t not_yet_due = 0;
  size_t modified_without_event = 0;         // row changed but not its date: nothing to publish
  std::vector<MappingEntry> silent_updates;  // digests of those rows, stored without an event
};

// `rows`: today's valid rows (distinct person ids); `seen`: person keys of every row of the
// snapshot, valid or not (a quarantined row has not vanished).
Plan MakePlan(const PlanInput& in, const std::vector<ImportRow>& rows,
              const std::set<base::Bytes>& seen, const std::map<base::Bytes, MappingEntry>& known,
              const MappingStore& store);

// A digest of what a row would publish (body, dueAt, recipients, tier).
base::Bytes RowDigest(const ImportRow& row, const std::vector<std::string>& recipients,
                      bool notice);

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_IMPORT_PLAN_H_
