// Reads of the derived tables: the canonical dump and the queries behind JournalReader.
#include <sstream>

#include "broker/journal/derived_sql.h"

namespace relais::journal::internal {

namespace {

// Tabs, newlines and backslashes escaped so that one row is one line.
std::string Escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// Appends "[title]" and one line per row, columns tab-separated; blob columns as hex.
base::Status DumpTable(Db& db, const char* title, const char* sql, std::ostringstream& out) {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(sql));
  out << "[" << title << "]\n";
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("dumping derived tables"));
    if (!row) return base::Ok();
    for (int col = 0; col < stmt.ColumnCount(); ++col) {
      if (col > 0) out << '\t';
      out << Escape(stmt.Text(col));
    }
    out << '\n';
  }
}

DeliveryRow ReadDelivery(const Stmt& stmt) {
  DeliveryRow d;
  d.agency = stmt.Text(0);
  d.seq = static_cast<uint64_t>(stmt.Int(1));
  d.state = ParseDeliveryState(stmt.Text(2)).value_or(DeliveryState::kPending);
  d.attempts = static_cast<uint32_t>(stmt.Int(3));
  d.next_attempt_at = stmt.Int(4);
  d.reason = stmt.Text(5);
  d.acked_at = stmt.Int(6);
  return d;
}

base::Result<std::vector<DeliveryRow>> CollectDeliveries(Stmt& stmt) {
  std::vector<DeliveryRow> rows;
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading deliveries"));
    if (!row) return rows;
    rows.push_back(ReadDelivery(stmt));
  }
}

}  // namespace

base::Result<std::string> DumpDerivedTables(Db& db) {
  std::ostringstream out;
  RELAIS_RETURN_IF_ERROR(DumpTable(db, "cases",
                                   "SELECT case_ref, case_no, last_kind, state, due_at, "
                                   "updated_seq FROM cases ORDER BY case_ref",
                                   out));
  RELAIS_RETURN_IF_ERROR(DumpTable(db, "consents",
                                   "SELECT consent_id, case_ref, hex(terms), active, granted_seq, "
                                   "withdrawn_seq FROM consents ORDER BY consent_id",
                                   out));
  RELAIS_RETURN_IF_ERROR(DumpTable(db, "deliveries",
                                   "SELECT agency, seq, state, attempts, next_attempt_at, reason "
                                   "FROM deliveries ORDER BY agency, seq",
                                   out));
  RELAIS_RETURN_IF_ERROR(
      DumpTable(db, "cursors", "SELECT agency, acked_seq FROM cursors ORDER BY agency", out));
  return out.str();
}

base::Result<std::vector<uint64_t>> QueryPending(Db& db, const std::string& agency, uint64_t after,
                                                 size_t limit) {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt,
                          db.Prepare("SELECT seq FROM deliveries WHERE agency = ?1 AND seq > ?2 "
                                     "AND state = 'pending' ORDER BY seq LIMIT ?3"));
  stmt.Bind(1, agency).Bind(2, static_cast<int64_t>(after)).Bind(3, static_cast<int64_t>(limit));
  std::vector<uint64_t> seqs;
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading pending deliveries"));
    if (!row) return seqs;
    seqs.push_back(static_cast<uint64_t>(stmt.Int(0)));
  }
}

base::Result<std::vector<DeliveryRow>> QueryDeliveries(Db& db, const std::string& agency,
                                                       uint64_t after, size_t limit) {
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("SELECT agency, seq, state, attempts, next_attempt_at, reason, acked_at FROM "
                 "deliveries WHERE agency = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"));
  stmt.Bind(1, agency).Bind(2, static_cast<int64_t>(after)).Bind(3, static_cast<int64_t>(limit));
  return CollectDeliveries(stmt);
}

base::Result<std::vector<DeliveryRow>> QueryDeadLetters(Db& db) {
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("SELECT agency, seq, state, attempts, next_attempt_at, reason, acked_at FROM "
                 "deliveries WHERE state = 'dead' ORDER BY agency, seq"));
  return CollectDeliveries(stmt);
}

base::Result<std::vector<DeliveryRow>> QueryDeliveriesOfSeqs(Db& db, uint64_t first_seq,
                                                             uint64_t last_seq) {
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("SELECT agency, seq, state, attempts, next_attempt_at, reason, acked_at FROM "
                 "deliveries WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq, agency"));
  stmt.Bind(1, static_cast<int64_t>(first_seq)).Bind(2, static_cast<int64_t>(last_seq));
  return CollectDeliveries(stmt);
}

base::Result<uint64_t> QueryCursor(Db& db, const std::string& agency) {
  RELAIS_ASSIGN_OR_RETURN(Stmt stmt, db.Prepare("SELECT acked_seq FROM cursors WHERE agency = ?1"));
  stmt.Bind(1, agency);
  RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading a cursor"));
  if (!row) return uint64_t{0};
  uint64_t v = static_cast<uint64_t>(stmt.Int(0));
  stmt.Reset();
  return v;
}

base::Result<std::optional<CaseRow>> QueryCase(Db& db, const std::string& case_ref) {
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare("SELECT case_ref, last_kind, state, due_at, updated_seq FROM cases "
                            "WHERE case_ref = ?1"));
  stmt.Bind(1, case_ref);
  RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading a case"));
  if (!row) return std::optional<CaseRow>();
  CaseRow c{stmt.Text(0), static_cast<schema::EventKind>(stmt.Int(1)), stmt.Text(2), stmt.Int(3),
            static_cast<uint64_t>(stmt.Int(4))};
  stmt.Reset();
  return std::optional<CaseRow>(std::move(c));
}

base::Result<std::vector<ConsentRow>> QueryConsents(Db& db, const std::string& case_ref) {
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt, db.Prepare("SELECT consent_id, case_ref, terms, active, granted_seq, "
                            "withdrawn_seq FROM consents WHERE case_ref = ?1 ORDER BY consent_id"));
  stmt.Bind(1, case_ref);
  std::vector<ConsentRow> rows;
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading consents"));
    if (!row) return rows;
    rows.push_back(ConsentRow{stmt.Text(0), stmt.Text(1), stmt.Blob(2), stmt.Int(3) != 0,
                              static_cast<uint64_t>(stmt.Int(4)),
                              static_cast<uint64_t>(stmt.Int(5))});
  }
}

base::Result<std::vector<DisclosureRow>> QueryDisclosures(Db& db, const std::string& case_ref) {
  // case_keys has no index on case_ref (see JournalReader::ByCase): one scan per call.
  RELAIS_ASSIGN_OR_RETURN(
      Stmt stmt,
      db.Prepare("SELECT e.seq, e.kind, e.emitter, e.received_at, d.agency, d.state, d.acked_at, "
                 "d.reason FROM entries e LEFT JOIN deliveries d ON d.seq = e.seq "
                 "WHERE e.case_no IN (SELECT case_no FROM case_keys WHERE case_ref = ?1) "
                 "ORDER BY e.seq, d.agency"));
  stmt.Bind(1, case_ref);
  std::vector<DisclosureRow> rows;
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(bool row, stmt.Step("reading a case's disclosures"));
    if (!row) return rows;
    DisclosureRow r;
    r.seq = static_cast<uint64_t>(stmt.Int(0));
    r.kind = static_cast<schema::EventKind>(stmt.Int(1));
    r.emitter = stmt.Text(2);
    r.received_at = stmt.Int(3);
    r.agency = stmt.Text(4);
    r.state = ParseDeliveryState(stmt.Text(5)).value_or(DeliveryState::kPending);
    r.acked_at = stmt.Int(6);
    r.reason = stmt.Text(7);
    rows.push_back(std::move(r));
  }
}

}  // namespace relais::journal::internal
