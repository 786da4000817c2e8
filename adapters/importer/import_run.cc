#include "adapters/importer/import_run.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>

#include "adapters/importer/import_plan.h"
#include "adapters/sdk/envelope_builder.h"

namespace relais::importer {

namespace {

constexpr size_t kMaxFileBytes = size_t{1} << 30;

using Problem = RowProblem;

struct Snapshot {
  std::vector<ImportRow> rows;
  std::vector<Problem> problems;
  std::vector<std::string> person_ids;  // of every record, valid or not
  std::vector<LocalReminder> reminders;
};

base::Result<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::NotFound("no_file", "cannot read " + path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() > kMaxFileBytes) {
    return base::InvalidInput("too_large", path.string() + ": larger than 1 GiB");
  }
  return bytes;
}

base::Result<Table> ReadTable(const std::filesystem::path& path, const ImportOptions& options) {
  RELAIS_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  auto text = DecodeText(bytes, options.charset);
  if (!text) {
    base::Error e = std::move(text).error();
    e.message = path.string() + ": " + e.message;
    return e;
  }
  if (IsJsonLinesPath(path.string())) return ReadJsonLines(*text);
  auto table = ReadCsv(*text, options.separator);
  if (!table) {
    base::Error e = std::move(table).error();
    e.message = path.string() + ": " + e.message;
    return e;
  }
  return table;
}

base::Result<Snapshot> ReadSnapshot(const RowSchema& schema, const ImportOptions& options,
                                    const RowContext& context) {
  Snapshot snap;
  std::map<std::string, int> first_line;
  for (const auto& path : options.files) {
    RELAIS_ASSIGN_OR_RETURN(Table table, ReadTable(path, options));
    std::string file = path.filename().string();
    bool jsonl = IsJsonLinesPath(path.string());
    for (const auto& column : schema.required_columns) {
      if (!jsonl &&
          std::find(table.columns.begin(), table.columns.end(), column) == table.columns.end()) {
        return base::InvalidInput("missing_column",
                                  path.string() + ": no column '" + column + "' in the header");
      }
    }
    for (const auto& p : table.problems) snap.problems.push_back({p.line, "", p.reason, file});
    for (const Record& record : table.records) {
      std::string id = record.Get("person_id");
      if (!id.empty()) snap.person_ids.push_back(id);
      RowOutcome outcome = schema.parse(record, context);
      if (outcome.reminder) snap.reminders.push_back(*outcome.reminder);
      if (!outcome.row) {
        for (auto& p : outcome.problems) {
          p.file = file;
          snap.problems.push_back(std::move(p));
        }
        continue;
      }
      auto [it, fresh] = first_line.emplace(outcome.row->person_id, record.line);
      if (!fresh) {
        snap.problems.push_back(
            {record.line, "person_id",
             "the same person id is already at line " + std::to_string(it->second), file});
        continue;
      }
      outcome.row->file = file;
      snap.rows.push_back(std::move(*outcome.row));
    }
  }
  return snap;
}

// Rows with at least one problem (a row may have several).
size_t RowsIn(const std::vector<Problem>& problems) {
  std::set<std::pair<std::string, int>> rows;
  for (const auto& p : problems) rows.insert({p.file, p.line});
  return rows.size();
}

std::string CsvQuote(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

base::Status WriteQuarantine(const std::filesystem::path& path,
                             const std::vector<Problem>& problems) {
  if (path.empty()) return base::Ok();
  std::ofstream out(path, std::ios::trunc);
  out << "file,line,column,reason\n";
  for (const auto& p : problems) {
    out << CsvQuote(p.file) << "," << p.line << "," << CsvQuote(p.column) << ","
        << CsvQuote(p.reason) << "\n";
  }
  out.close();
  if (!out) return base::RetryLater("quarantine_io", "cannot write " + path.string());
  return base::Ok();
}

// The institution's own to-do list (its person ids): written locally, never published.
base::Status WriteReminders(const std::filesystem::path& path,
                            const std::vector<LocalReminder>& reminders) {
  if (path.empty()) return base::Ok();
  std::ofstream out(path, std::ios::trunc);
  out << "person_id,due,what\n";
  for (const auto& r : reminders) {
    out << CsvQuote(r.person_id) << "," << FormatDate(r.due) << "," << CsvQuote(r.what) << "\n";
  }
  out.close();
  if (!out) return base::RetryLater("reminders_io", "cannot write " + path.string());
  return base::Ok();
}

std::vector<OutgoingEvent> ConsentEvents(const Plan& plan, std::vector<size_t>& owners) {
  std::vector<OutgoingEvent> out;
  for (size_t i = 0; i < plan.cases.size(); ++i) {
    if (plan.cases[i].consent) {
      out.push_back(*plan.cases[i].consent);
      owners.push_back(i);
    }
  }
  return out;
}

// What the store should hold after the case's event was refused: a new case is forgotten (the
// row will be tried again as new), a known one goes back to what it was.
void Refused(const PlannedCase& c, std::vector<MappingEntry>& put,
             std::vector<base::Bytes>& remove) {
  if (!c.before) {
    remove.push_back(c.entry.person_key);
  } else {
    MappingEntry e = *c.before;
    e.pending_kind = 0;
    e.version = c.entry.version;  // the id was used: never reuse it for different content
    put.push_back(std::move(e));
  }
}

MappingEntry Acknowledged(const PlannedCase& c, ImportSummary& summary) {
  MappingEntry e = c.entry;
  e.due_at = e.pending_due;
  e.digest = e.pending_digest;
  switch (static_cast<schema::EventKind>(e.pending_kind)) {
    case schema::EventKind::kReferral:
      e.referred = true;
      ++summary.accepted;
      break;
    case schema::EventKind::kDeadlineChanged:
      ++summary.deadline_changed;
      break;
    default:
      e.status = CaseStatus::kCancelled;
      ++summary.cancelled;
      break;
  }
  e.pending_kind = 0;
  e.pending_due = 0;
  e.pending_digest.clear();
  return e;
}

base::Status PublishPlan(const Plan& plan, const ImportOptions& options, ImportEnv& env,
                         std::vector<Problem>& problems, ImportSummary& summary) {
  std::vector<size_t> consent_owner;
  std::vector<OutgoingEvent> consents = ConsentEvents(plan, consent_owner);
  std::vector<bool> blocked(plan.cases.size(), false);
  std::vector<MappingEntry> put;
  std::vector<base::Bytes> remove;
  auto refuse = [&](size_t i, const base::Error& e) {
    const PlannedCase& c = plan.cases[i];
    if (!sdk::IsRefusal(e) && e.kind != base::ErrorKind::kNotAuthorised &&
        e.kind != base::ErrorKind::kInvalidInput && e.kind != base::ErrorKind::kUnauthenticated) {
      ++summary.unacknowledged;  // left pending: the same event id is re-published next run
      blocked[i] = true;
      return;
    }
    blocked[i] = true;
    Refused(c, put, remove);
    problems.push_back(
        {c.line, "", "refused: " + e.code + " (case " + c.entry.case_ref + ")", c.file});
  };
  PublishOptions po = options.publish;
  if (!consents.empty()) {
    po.label = options.publish.label + " consents";
    auto results = SealAndPublish(*env.client, consents, *env.registry, *env.me, *env.clock, po);
    for (size_t k = 0; k < results.size(); ++k) {
      if (!results[k]) refuse(consent_owner[k], results[k].error());
    }
  }
  std::vector<OutgoingEvent> events;
  std::vector<size_t> owner;
  for (size_t i = 0; i < plan.cases.size(); ++i) {
    if (blocked[i]) continue;
    events.push_back(plan.cases[i].event);
    owner.push_back(i);
  }
  po.label = options.publish.label + " events";
  auto results = SealAndPublish(*env.client, events, *env.registry, *env.me, *env.clock, po);
  for (size_t k = 0; k < results.size(); ++k) {
    if (results[k]) {
      put.push_back(Acknowledged(plan.cases[owner[k]], summary));
    } else {
      refuse(owner[k], results[k].error());
    }
  }
  RELAIS_RETURN_IF_ERROR(env.store->Remove(remove));
  return env.store->Put(put);
}

}  // namespace

std::string ImportSummary::ToLine() const {
  std::ostringstream s;
  s << "summary rows=" << rows << " accepted=" << accepted
    << " deadline_changed=" << deadline_changed << " cancelled=" << cancelled
    << " quarantined=" << quarantined << " unchanged=" << unchanged
    << " modified_without_event=" << modified_without_event << " not_yet_due=" << not_yet_due
    << " cancellations_unconfirmed=" << cancellations_unconfirmed
    << " unacknowledged=" << unacknowledged << " reminders=" << reminders;
  return s.str();
}

base::Result<ImportSummary> RunImport(const RowSchema& schema, const ImportOptions& options,
                                      ImportEnv& env) {
  RowContext context{options.today,
                     options.lead_days >= 0 ? options.lead_days : schema.default_lead_days};
  RELAIS_ASSIGN_OR_RETURN(Snapshot snap, ReadSnapshot(schema, options, context));
  RELAIS_ASSIGN_OR_RETURN(auto known, env.store->LoadAll());
  std::set<base::Bytes> seen;
  for (const auto& id : snap.person_ids) seen.insert(env.store->PersonKey(id));

  PlanInput in;
  in.schema = &schema;
  in.registry = env.registry;
  in.emitter = env.me->pub.agency_id;
  in.default_recipients = options.recipients;
  in.today = ToTimeMs(options.today);
  in.confirm_cancellations = options.confirm_cancellations;
  in.defaults = {schema.referral_kind, options.actor};
  Plan plan = MakePlan(in, snap.rows, seen, known, *env.store);

  ImportSummary summary;
  summary.rows = snap.rows.size() + RowsIn(snap.problems);
  summary.unchanged = plan.unchanged;
  summary.not_yet_due = plan.not_yet_due;
  summary.modified_without_event = plan.modified_without_event;
  summary.cancellations_unconfirmed = plan.unconfirmed_cancellations.size();
  summary.reminders = snap.reminders.size();
  for (auto& p : plan.problems) snap.problems.push_back(std::move(p));

  // Written down before publishing: a crash in between re-publishes the same event ids.
  std::vector<MappingEntry> pending = plan.silent_updates;
  for (const auto& c : plan.cases) pending.push_back(c.entry);
  RELAIS_RETURN_IF_ERROR(env.store->Put(pending));
  RELAIS_RETURN_IF_ERROR(PublishPlan(plan, options, env, snap.problems, summary));

  summary.quarantined = RowsIn(snap.problems);
  for (const auto& ref : plan.unconfirmed_cancellations) {
    *env.out << "cancellation_unconfirmed case=" << ref
             << " (no longer in the list; rerun with --confirm-cancellations to cancel)\n";
  }
  RELAIS_RETURN_IF_ERROR(WriteQuarantine(options.quarantine_file, snap.problems));
  RELAIS_RETURN_IF_ERROR(WriteReminders(options.reminders_file, snap.reminders));
  return summary;
}

}  // namespace relais::importer
