#include "adapters/importer/import_plan.h"

#include <algorithm>

#include "crypto/hash.h"
#include "crypto/random.h"
#include "schema/codec.h"

namespace relais::importer {

namespace {

using schema::EventKind;

std::string JoinIds(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

std::vector<std::string> SplitIds(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(text.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

// "" when every recipient may receive, else why not (agency ids only).
std::string CheckRecipients(const schema::Registry& registry,
                            const std::vector<std::string>& recipients) {
  if (recipients.empty()) return "no recipients: give the column or --recipients";
  for (const auto& id : recipients) {
    const schema::Agency* a = registry.Find(id);
    if (a == nullptr || a->revoked || !a->may_receive) {
      return "agency '" + id + "' is not a receiving agency of the registry";
    }
  }
  return "";
}

bool NoticeAllowed(const PlanInput& in) {
  const schema::Agency* me = in.registry->Find(in.emitter);
  return me != nullptr &&
         std::find(me->notice_without_consent.begin(), me->notice_without_consent.end(),
                   in.schema->referral_kind) != me->notice_without_consent.end();
}

// A new case (or a referral not yet acknowledged): the consent, if any, and the referral.
void PlanReferral(const PlanInput& in, const MappingStore& store, const ImportRow& row,
                  const std::optional<MappingEntry>& before, Plan& plan) {
  std::vector<std::string> recipients =
      row.recipients.empty() ? in.default_recipients : row.recipients;
  std::string bad = CheckRecipients(*in.registry, recipients);
  if (!bad.empty()) {
    plan.problems.push_back({row.line, "recipients", bad, row.file});
    return;
  }
  bool notice = !row.consent.has_value();
  if (notice && !NoticeAllowed(in)) {
    plan.problems.push_back(
        {row.line, "consent",
         std::string("no consent, and the registry does not allow the notice tier without "
                     "consent for ") +
             schema::ReferralKindName(in.schema->referral_kind) + " from " + in.emitter,
         row.file});
    return;
  }
  PlannedCase c;
  c.before = before;
  c.line = row.line;
  c.file = row.file;
  MappingEntry& e = c.entry;
  e.person_key = store.PersonKey(row.person_id);
  e.case_ref = before ? before->case_ref : crypto::NewCaseRef();
  e.version = 1;
  e.recipients = JoinIds(recipients);
  e.notice = notice;
  e.pending_kind = static_cast<int>(EventKind::kReferral);
  e.pending_due = row.due_at;
  e.pending_digest = RowDigest(row, recipients, notice);
  if (!notice) {
    c.consent =
        ConsentEvent(in.defaults, row, e.case_ref, 1, recipients,
                     store.EventId(e.case_ref, static_cast<int>(EventKind::kConsentGranted), 1));
  }
  c.event = ReferralEvent(in.defaults, row, e.case_ref, recipients, notice,
                          store.EventId(e.case_ref, static_cast<int>(EventKind::kReferral), 1));
  plan.cases.push_back(std::move(c));
}

// A case already referred: a deadline_changed when its date moved.
void PlanKnown(const PlanInput& in, const MappingStore& store, const ImportRow& row,
               const MappingEntry& known, Plan& plan) {
  std::vector<std::string> recipients = SplitIds(known.recipients);
  base::Bytes digest = RowDigest(row, recipients, known.notice);
  bool pending_same = known.pending_kind == static_cast<int>(EventKind::kDeadlineChanged) &&
                      known.pending_due == row.due_at;
  if (row.due_at == known.due_at && known.pending_kind == 0) {
    if (digest == known.digest) {
      ++plan.unchanged;
    } else {
      ++plan.modified_without_event;
      MappingEntry e = known;
      e.digest = digest;
      plan.silent_updates.push_back(std::move(e));
    }
    return;
  }
  PlannedCase c;
  c.before = known;
  c.line = row.line;
  c.file = row.file;
  c.entry = known;
  c.entry.version = pending_same ? known.version : known.version + 1;
  c.entry.pending_kind = static_cast<int>(EventKind::kDeadlineChanged);
  c.entry.pending_due = row.due_at;
  c.entry.pending_digest = digest;
  c.event = DeadlineChangedEvent(
      in.defaults, known.case_ref, recipients, known.notice, row.due_at,
      store.EventId(known.case_ref, static_cast<int>(EventKind::kDeadlineChanged),
                    c.entry.version));
  plan.cases.push_back(std::move(c));
}

void PlanVanished(const PlanInput& in, const MappingStore& store, const MappingEntry& known,
                  Plan& plan) {
  if (!in.confirm_cancellations) {
    plan.unconfirmed_cancellations.push_back(known.case_ref);
    return;
  }
  bool pending_same = known.pending_kind == static_cast<int>(EventKind::kCancelled);
  PlannedCase c;
  c.before = known;
  c.entry = known;
  c.entry.version = pending_same ? known.version : known.version + 1;
  c.entry.pending_kind = static_cast<int>(EventKind::kCancelled);
  c.entry.pending_due = known.due_at;
  c.entry.pending_digest = known.digest;
  c.event = CancelledEvent(
      in.defaults, known.case_ref, SplitIds(known.recipients), known.notice,
      store.EventId(known.case_ref, static_cast<int>(EventKind::kCancelled), c.entry.version));
  plan.cases.push_back(std::move(c));
}

}  // namespace

base::Bytes RowDigest(const ImportRow& row, const std::vector<std::string>& recipients,
                      bool notice) {
  base::Bytes due;
  base::AppendI64(due, row.due_at);
  base::Bytes body = schema::EncodeEventBody(schema::EventBody(row.body));
  std::string ids = JoinIds(recipients) + (notice ? "|notice" : "|referral");
  return crypto::ToBytes(
      crypto::Blake2b({base::AsBytes("relais-import-row-v1"), due, body, base::AsBytes(ids)}));
}

Plan MakePlan(const PlanInput& in, const std::vector<ImportRow>& rows,
              const std::set<base::Bytes>& seen, const std::map<base::Bytes, MappingEntry>& known,
              const MappingStore& store) {
  Plan plan;
  for (const ImportRow& row : rows) {
    auto it = known.find(store.PersonKey(row.person_id));
    bool is_new = it == known.end() || it->second.status == CaseStatus::kCancelled;
    if (!is_new && it->second.referred) {
      PlanKnown(in, store, row, it->second, plan);
      continue;
    }
    if (is_new && in.today < row.emit_from) {
      ++plan.not_yet_due;
      continue;
    }
    if (row.due_at < in.today) {
      plan.problems.push_back({row.line, "", "the exit date has already passed", row.file});
      continue;
    }
    std::optional<MappingEntry> before;
    if (it != known.end() && !is_new) before = it->second;  // a referral never acknowledged
    PlanReferral(in, store, row, before, plan);
  }
  for (const auto& [key, entry] : known) {
    if (entry.status == CaseStatus::kCancelled || seen.count(key) != 0) continue;
    if (!entry.referred) continue;           // never reached anyone: nothing to cancel
    if (entry.due_at <= in.today) continue;  // the exit happened: leaving the list is normal
    PlanVanished(in, store, entry, plan);
  }
  return plan;
}

}  // namespace relais::importer
