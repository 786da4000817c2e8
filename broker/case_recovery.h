// Start-up recovery of the case engine while the broker already serves (docs/lifecycle.md §3,
// "Serving while the journal replays").
//
// The journal's headers are replayed into the CaseEngine in seq order, in bounded chunks (Step),
// from a saved position up to the head seq at start (`end_seq`). Meanwhile, before the broker
// admits an event of a case, Prepare() loads that case completely: every entry of the case with
// seq >= the replay's position, read through the journal's entries_case index. The background
// replay then skips that case's entries. A case is thus always built from all its entries in seq
// order: the ones below the position by the replay, the rest by the load; never twice.
//
// Why an admission decision during the replay equals the one after a full replay. Admit() reads:
//  - the case (cases_), its consents (consents_of_case_ and their consents_ entries) and its
//    early_ entries (a consent before the referral): all come from entries of that case only
//    (ApplyEvent touches cases_[ref], early_[ref], consents_of_case_[ref] and the consents granted
//    or withdrawn by entries of ref), so once the case is loaded they are exact;
//  - consents_ by consent id for consent_granted ("consent id already used for another case"):
//    the id may belong to a case the replay has not reached. Prepare() looks the id up in the
//    derived consents table (written in the transaction of every admitted grant, so it knows
//    every id of the journal) and loads the owning case first; the engine's own check then sees
//    the same consent as after a full replay;
//  - consents_ by consent_ref for consent_withdrawn: a consent of this case is loaded with it; a
//    consent of another case is refused either way (unknown_consent in both situations);
//  - the registry: the same snapshot (taken at start) is used for the replay and the loads.
// Entries appended while the replay runs all belong to loaded cases (an event is admitted only
// after its case is loaded; timers fire only for loaded cases: DueTimersOf), and their seqs are
// above end_seq, so the replay never sees them; they reach the engine through Apply after commit.
// Limit: consent ids granted twice for different cases through the stream's conflict path (two
// instances admitting concurrently) have no single owner in the derived table; a full replay keeps
// the last grant, a load on demand keeps the last grant applied.
//
// What needs every case (re-emitting the emissions decided before a crash and never journaled,
// finishing interrupted erasures, timers of cases not loaded, the escalation counts) is collected
// here and done by the broker when done() becomes true.
//
// Threading: the broker's I/O thread only.
#ifndef RELAIS_BROKER_CASE_RECOVERY_H_
#define RELAIS_BROKER_CASE_RECOVERY_H_

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "broker/case_engine.h"
#include "broker/event_store.h"
#include "broker/registry_store.h"
#include "schema/envelope.h"

namespace relais::broker {

class CaseRecovery {
 public:
  // Replays (1, store.HeadSeq()]. `store`, `engine` must outlive this object.
  CaseRecovery(EventStore& store, CaseEngine& engine, std::shared_ptr<const RegistryView> registry,
               base::TimeMs now);

  // Applies the next entries in seq order: at most `max_headers`, for about `max_us` at most,
  // never past `limit_seq` (tests hold the replay there). Errors are the store's read errors.
  base::Status Step(size_t max_headers, int64_t max_us,
                    uint64_t limit_seq = std::numeric_limits<uint64_t>::max());
  bool done() const { return next_seq_ > end_seq_; }
  uint64_t next_seq() const { return next_seq_; }
  uint64_t end_seq() const { return end_seq_; }

  // Makes the engine's state exact for admitting `header`: loads its case and, for a consent
  // grant, the case that already owns its consent id. A no-op once done().
  base::Status Prepare(const schema::Header& header);
  // Loads `case_ref` completely (no-op if loaded, or once done()).
  base::Status Load(const std::string& case_ref);
  // Cases loaded completely so far (their timers may fire).
  const std::unordered_set<std::string>& loaded() const { return loaded_; }

  // Collected for the end of the replay.
  std::vector<Emission>& emissions() { return emissions_; }
  std::vector<std::string>& erased() { return erased_; }
  uint64_t events() const { return events_; }
  int64_t started_us() const { return started_us_; }

 private:
  void Apply(uint64_t seq, const base::Bytes& header_bytes, bool on_demand);

  EventStore& store_;
  CaseEngine& engine_;
  std::shared_ptr<const RegistryView> registry_;
  base::TimeMs now_;
  uint64_t next_seq_ = 1;
  uint64_t end_seq_ = 0;
  std::unordered_set<std::string> loaded_;
  std::vector<Emission> emissions_;
  std::vector<std::string> erased_;
  uint64_t events_ = 0;
  int64_t started_us_ = 0;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_CASE_RECOVERY_H_
