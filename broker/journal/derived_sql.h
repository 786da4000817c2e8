// Internal to the journal: the SQL behind DerivedMutation and DeliveryUpdate, the canonical dump
// and the table-level steps of a rebuild. Runs on the connection that owns the transaction (the
// writer thread); readers use the query helpers with their own connection.
#ifndef RELAIS_BROKER_JOURNAL_DERIVED_SQL_H_
#define RELAIS_BROKER_JOURNAL_DERIVED_SQL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "broker/journal/db.h"
#include "broker/journal/derived.h"

namespace relais::journal::internal {

// The entry a mutation applies to.
struct EntryContext {
  uint64_t seq = 0;
  int64_t case_no = 0;
  std::string_view case_ref;
  int64_t kind = 0;
};

// Prepared statements for every derived write. Cursor definition (docs §4): acked_seq is the
// highest seq of the agency's settled (acked or dead) deliveries such that every delivery to the
// agency at or below it is settled; no row when that is 0. It is a pure function of the
// deliveries table, recomputed for every agency whose delivery states changed (FlushCursors).
class DerivedWriter {
 public:
  DerivedWriter() = default;  // unusable until assigned from Prepare
  static base::Result<DerivedWriter> Prepare(Db& db);

  // Errors are SQLite errors only (the mutations are upserts or no-ops).
  base::Status Apply(const EntryContext& entry, const DerivedMutation& mutation);
  // The outer Result carries SQLite errors; the inner Status the update's own outcome
  // (kNotFound "no_delivery" / "no_dead_letter").
  base::Result<base::Status> Update(const DeliveryUpdate& update);
  // Recomputes the cursors of agencies touched since the last flush. Call before COMMIT.
  base::Status FlushCursors();
  // Forgets touched agencies after a rollback.
  void DiscardCursors() { dirty_.clear(); }
  // Marks every agency with deliveries or a cursor as touched, from seq 0 (after a rebuild).
  base::Status TouchAllAgencies();

 private:
  void Touch(const std::string& agency, uint64_t floor);
  base::Status RecomputeCursor(const std::string& agency, uint64_t floor);
  base::Result<base::Status> UpdateOne(Stmt& stmt, const std::string& agency, uint64_t seq,
                                       const char* missing_code);

  Stmt enqueue_, set_case_, grant_, withdraw_, stop_, from_stream_;
  Stmt ack_, advance_, attempt_, dead_, requeue_;
  Stmt cursor_get_, first_pending_, last_below_, last_any_, cursor_put_, cursor_del_;
  Stmt all_agencies_;
  // agency -> lowest seq that may have become pending again (requeue), else UINT64_MAX.
  std::map<std::string, uint64_t> dirty_;
};

// Rebuild steps, inside the caller's transaction: copy the operational delivery state aside and
// clear the pure tables; after the replay, overlay the saved state on rows that still exist.
base::Status BeginRebuild(Db& db);
base::Status FinishRebuild(Db& db);

// Canonical text of every derived table, sorted by key (docs §4).
base::Result<std::string> DumpDerivedTables(Db& db);

// Reader queries.
base::Result<std::vector<uint64_t>> QueryPending(Db& db, const std::string& agency, uint64_t after,
                                                 size_t limit);
base::Result<std::vector<DeliveryRow>> QueryDeliveries(Db& db, const std::string& agency,
                                                       uint64_t after, size_t limit);
base::Result<std::vector<DeliveryRow>> QueryDeadLetters(Db& db);
base::Result<std::vector<DeliveryRow>> QueryDeliveriesOfSeqs(Db& db, uint64_t first_seq,
                                                             uint64_t last_seq);
base::Result<uint64_t> QueryCursor(Db& db, const std::string& agency);
base::Result<std::optional<CaseRow>> QueryCase(Db& db, const std::string& case_ref);
base::Result<std::vector<ConsentRow>> QueryConsents(Db& db, const std::string& case_ref);
base::Result<std::vector<DisclosureRow>> QueryDisclosures(Db& db, const std::string& case_ref);

}  // namespace relais::journal::internal

#endif  // RELAIS_BROKER_JOURNAL_DERIVED_SQL_H_
