#include "broker/journal/derived_sql.h"

#include <sstream>
#include <type_traits>

namespace relais::journal {

const char* DeliveryStateName(DeliveryState state) {
  switch (state) {
    case DeliveryState::kPending:
      return "pending";
    case DeliveryState::kAcked:
      return "acked";
    case DeliveryState::kDead:
      return "dead";
  }
  return "invalid";
}

std::optional<DeliveryState> ParseDeliveryState(std::string_view name) {
  if (name == "pending") return DeliveryState::kPending;
  if (name == "acked") return DeliveryState::kAcked;
  if (name == "dead") return DeliveryState::kDead;
  return std::nullopt;
}

}  // namespace relais::journal

namespace relais::journal::internal {

namespace {

int64_t I64(uint64_t v) { return static_cast<int64_t>(v); }

// Settling deliveries never lowers a cursor: the stored value stays a valid scan start.
constexpr uint64_t kNoFloor = UINT64_MAX;

}  // namespace

base::Result<DerivedWriter> DerivedWriter::Prepare(Db& db) {
  DerivedWriter w;
  struct {
    Stmt* stmt;
    const char* sql;
  } const statements[] = {
      {&w.enqueue_,
       "INSERT OR IGNORE INTO deliveries(agency, seq, state, attempts, next_attempt_at, reason) "
       "VALUES (?1, ?2, 'pending', 0, ?3, '')"},
      {&w.set_case_,
       "INSERT INTO cases(case_no, case_ref, last_kind, state, due_at, updated_seq) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(case_no) DO UPDATE SET "
       "last_kind = excluded.last_kind, state = excluded.state, due_at = excluded.due_at, "
       "updated_seq = excluded.updated_seq"},
      {&w.grant_,
       "INSERT INTO consents(consent_id, case_ref, terms, active, granted_seq, withdrawn_seq) "
       "VALUES (?1, ?2, ?3, 1, ?4, 0) ON CONFLICT(consent_id) DO UPDATE SET "
       "case_ref = excluded.case_ref, terms = excluded.terms, active = 1, "
       "granted_seq = excluded.granted_seq, withdrawn_seq = 0"},
      {&w.withdraw_,
       "UPDATE consents SET active = 0, withdrawn_seq = ?2 WHERE consent_id = ?1 AND active = 1"},
      {&w.stop_,
       "UPDATE deliveries SET state = 'dead', reason = ?1 WHERE state = 'pending' AND seq IN "
       "(SELECT seq FROM entries WHERE case_no = ?2) RETURNING agency, seq"},
      {&w.from_stream_, "INSERT OR IGNORE INTO stream_origin(seq, stream_seq) VALUES (?1, ?2)"},
      {&w.ack_,
       "UPDATE deliveries SET acked_at = CASE WHEN state = 'acked' THEN acked_at ELSE ?3 END, "
       "state = 'acked' WHERE agency = ?1 AND seq = ?2"},
      {&w.advance_,
       "UPDATE deliveries SET state = 'acked', acked_at = ?3 WHERE agency = ?1 AND seq <= ?2 AND "
       "state = 'pending'"},
      {&w.attempt_,
       "UPDATE deliveries SET attempts = ?3, next_attempt_at = ?4 WHERE agency = ?1 AND seq = ?2"},
      {&w.dead_,
       "UPDATE deliveries SET state = 'dead', attempts = ?3, reason = ?4 WHERE agency = ?1 AND "
       "seq = ?2"},
      {&w.requeue_,
       "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = 0, reason = '' "
       "WHERE state = 'dead' AND seq = ?2 AND (?1 = '' OR agency = ?1) RETURNING agency"},
      {&w.cursor_get_, "SELECT acked_seq FROM cursors WHERE agency = ?1"},
      {&w.first_pending_,
       "SELECT seq FROM deliveries WHERE agency = ?1 AND seq > ?2 AND state = 'pending' "
       "ORDER BY seq LIMIT 1"},
      {&w.last_below_,
       "SELECT seq FROM deliveries WHERE agency = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT 1"},
      {&w.last_any_, "SELECT max(seq) FROM deliveries WHERE agency = ?1"},
      {&w.cursor_put_,
       "INSERT INTO cursors(agency, acked_seq) VALUES (?1, ?2) ON CONFLICT(agency) DO UPDATE SET "
       "acked_seq = excluded.acked_seq"},
      {&w.cursor_del_, "DELETE FROM cursors WHERE agency = ?1"},
      {&w.all_agencies_, "SELECT DISTINCT agency FROM deliveries UNION SELECT agency FROM cursors"},
  };
  for (const auto& s : statements) {
    RELAIS_ASSIGN_OR_RETURN(*s.stmt, db.Prepare(s.sql));
  }
  return w;
}

void DerivedWriter::Touch(const std::string& agency, uint64_t floor) {
  auto [it, inserted] = dirty_.try_emplace(agency, floor);
  if (!inserted && floor < it->second) it->second = floor;
}

base::Status DerivedWriter::Apply(const EntryContext& e, const DerivedMutation& mutation) {
  return std::visit(
      [&](const auto& m) -> base::Status {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, EnqueueDelivery>) {
          enqueue_.Bind(1, m.agency).Bind(2, I64(e.seq)).Bind(3, m.next_attempt_at);
          return enqueue_.Run("enqueueing a delivery");
        } else if constexpr (std::is_same_v<T, SetCaseState>) {
          set_case_.Bind(1, e.case_no).Bind(2, e.case_ref).Bind(3, e.kind).Bind(4, m.state);
          set_case_.Bind(5, m.due_at).Bind(6, I64(e.seq));
          return set_case_.Run("updating a case");
        } else if constexpr (std::is_same_v<T, GrantConsent>) {
          grant_.Bind(1, m.consent_id).Bind(2, e.case_ref).Bind(3, m.terms).Bind(4, I64(e.seq));
          return grant_.Run("recording a consent");
        } else if constexpr (std::is_same_v<T, WithdrawConsent>) {
          withdraw_.Bind(1, m.consent_id).Bind(2, I64(e.seq));
          return withdraw_.Run("withdrawing a consent");
        } else if constexpr (std::is_same_v<T, FromStream>) {
          from_stream_.Bind(1, I64(e.seq)).Bind(2, I64(m.stream_seq));
          return from_stream_.Run("recording a stream origin");
        } else {
          static_assert(std::is_same_v<T, StopCaseDeliveries>);
          stop_.Bind(1, m.reason).Bind(2, e.case_no);
          while (true) {
            RELAIS_ASSIGN_OR_RETURN(bool row, stop_.Step("stopping deliveries"));
            if (!row) return base::Ok();
            Touch(stop_.Text(0), kNoFloor);
          }
        }
      },
      mutation);
}

base::Result<base::Status> DerivedWriter::UpdateOne(Stmt& stmt, const std::string& agency,
                                                    uint64_t seq, const char* missing_code) {
  // No RETURNING: SQLite would run the update into an ephemeral table on every call.
  RELAIS_RETURN_IF_ERROR(stmt.Run("updating a delivery"));
  if (stmt.Changes() == 0) {
    return base::Status(base::NotFound(
        missing_code, "no delivery of seq " + std::to_string(seq) + " to " + agency));
  }
  Touch(agency, kNoFloor);
  return base::Status();
}

base::Result<base::Status> DerivedWriter::Update(const DeliveryUpdate& update) {
  return std::visit(
      [&](const auto& u) -> base::Result<base::Status> {
        using T = std::decay_t<decltype(u)>;
        if constexpr (std::is_same_v<T, AckDelivery>) {
          ack_.Bind(1, u.agency).Bind(2, I64(u.seq)).Bind(3, u.at);
          RELAIS_ASSIGN_OR_RETURN(base::Status status,
                                  UpdateOne(ack_, u.agency, u.seq, "no_delivery"));
          for (uint64_t seq : u.more) {
            ack_.Bind(1, u.agency).Bind(2, I64(seq)).Bind(3, u.at);
            RELAIS_ASSIGN_OR_RETURN(base::Status one,
                                    UpdateOne(ack_, u.agency, seq, "no_delivery"));
            if (status && !one) status = std::move(one);
          }
          return status;
        } else if constexpr (std::is_same_v<T, AdvanceCursor>) {
          advance_.Bind(1, u.agency).Bind(2, I64(u.seq)).Bind(3, u.at);
          RELAIS_RETURN_IF_ERROR(advance_.Run("advancing a cursor"));
          Touch(u.agency, kNoFloor);
          return base::Status();
        } else if constexpr (std::is_same_v<T, RecordAttempt>) {
          attempt_.Bind(1, u.agency).Bind(2, I64(u.seq)).Bind(3, int64_t{u.attempts});
          attempt_.Bind(4, u.next_attempt_at);
          return UpdateOne(attempt_, u.agency, u.seq, "no_delivery");
        } else if constexpr (std::is_same_v<T, DeadLetter>) {
          dead_.Bind(1, u.agency).Bind(2, I64(u.seq)).Bind(3, int64_t{u.attempts});
          dead_.Bind(4, u.reason);
          return UpdateOne(dead_, u.agency, u.seq, "no_delivery");
        } else {
          static_assert(std::is_same_v<T, RequeueDelivery>);
          requeue_.Bind(1, u.agency).Bind(2, I64(u.seq));
          bool any = false;
          while (true) {
            RELAIS_ASSIGN_OR_RETURN(bool row, requeue_.Step("requeueing a dead letter"));
            if (!row) break;
            any = true;
            Touch(requeue_.Text(0), 0);
          }
          if (!any) {
            return base::Status(
                base::NotFound("no_dead_letter", "no dead letter of seq " + std::to_string(u.seq)));
          }
          return base::Status();
        }
      },
      update);
}

base::Status DerivedWriter::RecomputeCursor(const std::string& agency, uint64_t floor) {
  cursor_get_.Bind(1, agency);
  RELAIS_ASSIGN_OR_RETURN(bool has_cursor, cursor_get_.Step("reading a cursor"));
  uint64_t stored = has_cursor ? static_cast<uint64_t>(cursor_get_.Int(0)) : 0;
  if (has_cursor) cursor_get_.Reset();
  // Everything at or below the stored cursor is settled unless a requeue lowered `floor`.
  uint64_t from = std::min(stored, floor);
  first_pending_.Bind(1, agency).Bind(2, I64(from));
  RELAIS_ASSIGN_OR_RETURN(bool has_pending, first_pending_.Step("reading deliveries"));
  uint64_t cursor = 0;
  Stmt& last = has_pending ? last_below_ : last_any_;
  if (has_pending) {
    int64_t first = first_pending_.Int(0);
    first_pending_.Reset();
    last_below_.Bind(1, agency).Bind(2, first);
  } else {
    last_any_.Bind(1, agency);
  }
  RELAIS_ASSIGN_OR_RETURN(bool has_last, last.Step("reading deliveries"));
  if (has_last) {
    cursor = last.IsNull(0) ? 0 : static_cast<uint64_t>(last.Int(0));
    last.Reset();
  }
  if (cursor == 0) {
    cursor_del_.Bind(1, agency);
    return cursor_del_.Run("clearing a cursor");
  }
  cursor_put_.Bind(1, agency).Bind(2, I64(cursor));
  return cursor_put_.Run("writing a cursor");
}

base::Status DerivedWriter::FlushCursors() {
  for (const auto& [agency, floor] : dirty_) {
    base::Status st = RecomputeCursor(agency, floor);
    if (!st) return st;
  }
  dirty_.clear();
  return base::Ok();
}

base::Status DerivedWriter::TouchAllAgencies() {
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, all_agencies_.Step("listing agencies"));
    if (!row) return base::Ok();
    Touch(all_agencies_.Text(0), 0);
  }
}

base::Status BeginRebuild(Db& db) {
  return db.Exec(
      "DROP TABLE IF EXISTS temp.saved_deliveries;"
      "CREATE TEMP TABLE saved_deliveries AS SELECT agency, seq, state, attempts, "
      "next_attempt_at, reason, acked_at FROM deliveries;"
      "DELETE FROM deliveries; DELETE FROM cursors; DELETE FROM cases; DELETE FROM consents;");
}

base::Status FinishRebuild(Db& db) {
  return db.Exec(
      "UPDATE deliveries SET state = s.state, attempts = s.attempts, "
      "next_attempt_at = s.next_attempt_at, reason = s.reason, acked_at = s.acked_at "
      "FROM temp.saved_deliveries s "
      "WHERE s.agency = deliveries.agency AND s.seq = deliveries.seq;"
      "DROP TABLE temp.saved_deliveries;");
}

}  // namespace relais::journal::internal
