// relais audit replay: the timeline of a journal from metadata only (broker/journal/timeline.h).
// It never reads a sealed body or wrap: the journal is read with ReadScope::kMetadata.
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "broker/journal/reader.h"
#include "broker/journal/timeline.h"
#include "schema/envelope.h"
#include "tools/audit_cmds.h"
#include "tools/audit_format.h"
#include "tools/audit_progress.h"
#include "tools/cli.h"

namespace relais::tools {

namespace {

// The printable fields of one timeline event, in column order.
struct Line {
  std::string seq, time, kind, referral_kind, case_ref, emitter, recipients, consent, basis, tier,
      purpose, due, reply_to, decline, erased, deliveries;
};

const char* const kColumns[] = {"seq",
                                "received_at",
                                "kind",
                                "referral_kind",
                                "case_ref",
                                "emitter",
                                "recipients",
                                "consent",
                                "legal_basis",
                                "tier",
                                "purpose",
                                "due_at",
                                "in_reply_to_seq",
                                "decline_reason",
                                "erased",
                                "deliveries"};

std::vector<std::string> Fields(const Line& l) {
  return {l.seq,        l.time,    l.kind,   l.referral_kind, l.case_ref, l.emitter,
          l.recipients, l.consent, l.basis,  l.tier,          l.purpose,  l.due,
          l.reply_to,   l.decline, l.erased, l.deliveries};
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

class Printer {
 public:
  Printer(journal::JournalReader& reader, std::string format)
      : reader_(reader), format_(std::move(format)) {}

  void Begin() {
    if (format_ == "csv") {
      std::vector<std::string> cols(std::begin(kColumns), std::end(kColumns));
      std::cout << Join(cols, ",") << "\n";
    } else if (format_ == "table") {
      std::printf("%-7s %-24s %-17s %-12s %-24s %-28s %-12s %s\n", "SEQ", "RECEIVED (UTC)", "KIND",
                  "FROM", "TO", "CASE", "CONSENT", "DELIVERIES");
    }
  }

  void Add(const journal::TimelineEvent& e) {
    const schema::Header& h = e.header;
    Line l;
    l.seq = std::to_string(e.seq);
    l.time = base::FormatIsoUtc(e.received_at);
    l.kind = schema::EventKindName(h.kind);
    l.referral_kind = h.referral_kind == schema::ReferralKind::kNone
                          ? ""
                          : schema::ReferralKindName(h.referral_kind);
    l.case_ref = h.case_ref;
    l.emitter = h.emitter;
    l.recipients = Join(h.recipients, ";");
    l.consent = h.consent ? h.consent->consent_id : h.consent_ref;
    l.basis = schema::LegalBasisName(h.legal_basis);
    l.tier = schema::TierName(h.tier);
    l.purpose = schema::PurposeName(h.purpose);
    l.due = h.due_at == 0 ? "" : base::FormatIsoUtc(h.due_at);
    if (!h.in_reply_to.empty()) l.reply_to = ReplySeq(h.in_reply_to);
    if (h.decline_reason != schema::DeclineReason::kNone) {
      l.decline = schema::DeclineReasonName(h.decline_reason);
    }
    l.erased = e.erased ? "yes" : "no";
    std::vector<std::string> deliveries;
    for (const auto& d : e.deliveries) {
      deliveries.push_back(d.agency + ":" + journal::DeliveryStateName(d.state));
    }
    l.deliveries = Join(deliveries, ";");
    ++count_;
    Print(l);
  }

  void End(uint64_t undecodable) {
    if (format_ == "table") {
      std::cout << count_ << (count_ == 1 ? " event" : " events");
      if (undecodable > 0) std::cout << " (" << undecodable << " undecodable headers skipped)";
      std::cout << "\n";
    } else if (undecodable > 0) {
      std::cerr << "relais audit replay: " << undecodable
                << " entries with undecodable headers skipped (run audit verify)\n";
    }
  }

 private:
  // The seq of the event this one answers (the journal indexes event ids), or "?" if absent.
  std::string ReplySeq(const base::Bytes& event_id) {
    auto found = reader_.FindEvent(event_id);
    if (!found || !*found) return "?";
    return std::to_string((*found)->seq);
  }

  void Print(const Line& l) {
    if (format_ == "csv") {
      std::vector<std::string> fields;
      for (const auto& f : Fields(l)) fields.push_back(CsvField(f));
      std::cout << Join(fields, ",") << "\n";
    } else if (format_ == "json") {
      std::cout << "{";
      auto values = Fields(l);
      for (size_t i = 0; i < values.size(); ++i) {
        std::cout << (i ? "," : "") << JsonString(kColumns[i]) << ":" << JsonString(values[i]);
      }
      std::cout << "}\n";
    } else {
      std::string to = l.recipients.empty() ? "-" : l.recipients;
      std::printf("%-7s %-24s %-17s %-12s %-24s %-28s %-12s %s\n", l.seq.c_str(), l.time.c_str(),
                  l.kind.c_str(), l.emitter.c_str(), to.c_str(), l.case_ref.c_str(),
                  l.consent.empty() ? "-" : l.consent.c_str(),
                  l.deliveries.empty() ? "-" : l.deliveries.c_str());
    }
  }

  journal::JournalReader& reader_;
  std::string format_;
  uint64_t count_ = 0;
};

}  // namespace

int AuditReplay(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "audit replay";
  spec.usage =
      "relais audit replay JOURNAL [--case REF] [--agency ID] [--from DATE] [--to DATE]\n"
      "                           [--format table|json|csv]";
  spec.description =
      "Prints the timeline of a journal from its clear headers only: who sent what kind of event\n"
      "to whom and when (the broker's reception time), under which consent or legal basis, which\n"
      "event it answers (in_reply_to_seq), and the delivery state of each recipient (pending,\n"
      "acked, dead). Broker events (reminder, escalation, rupture, offer_taken, purge_request)\n"
      "appear like the others. Sealed bodies are never read: the output holds no personal data\n"
      "beyond pseudonymous case refs and agency ids. Opens the journal read-only, in short\n"
      "read transactions (safe while relaisd runs).\n"
      "--from/--to select reception times in [from, to) (YYYY-MM-DD is midnight UTC); --agency\n"
      "selects events it emitted or received. json prints one object per line.";
  std::string journal_path, case_ref, agency, from_text, to_text, format = "table";
  spec.options.add_options()("journal", po::value(&journal_path)->required(), "the journal file")(
      "case", po::value(&case_ref), "only this case ref")(
      "agency", po::value(&agency), "only events emitted by or sent to this agency")(
      "from", po::value(&from_text), "first reception date or time (inclusive)")(
      "to", po::value(&to_text), "last reception date or time (exclusive)")(
      "format", po::value(&format), "table (default), json (one object per line) or csv");
  spec.positionals = {"journal"};
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  if (format != "table" && format != "json" && format != "csv") {
    return UsageError(spec.name, "--format must be table, json or csv");
  }
  journal::TimelineFilter filter;
  filter.case_ref = case_ref;
  filter.agency = agency;
  auto from = ParseDateOption("--from", from_text, false);
  if (!from) return Fail(spec.name, from.error());
  auto to = ParseDateOption("--to", to_text, true);
  if (!to) return Fail(spec.name, to.error());
  filter.from = *from;
  filter.to = *to;

  auto reader = journal::JournalReader::Open({.path = journal_path, .vfs = {}});
  if (!reader) return Fail(spec.name, reader.error());
  Printer printer(**reader, format);
  AuditProgress progress("replay");
  uint64_t undecodable = 0;
  printer.Begin();
  auto st = journal::ReadTimeline(
      **reader, filter, /*with_deliveries=*/true,
      [&](const journal::TimelineEvent& e) { printer.Add(e); },
      [&](uint64_t seq, uint64_t head) { progress.Update(seq, head); }, &undecodable);
  if (!st) return Fail(spec.name, st.error());
  printer.End(undecodable);
  return kExitOk;
}

}  // namespace relais::tools
