// relais audit verify --stream-url: the audit chain over a JetStream event stream
// (broker/stream_audit_verify.h, docs/audit.md §2.1). Read-only: neither stream is created.
//
// Output: one line per finding "seq N: FINDING: reason", one per gap "seqs A-B: KIND: what", then
// "verified V of E events against AUDIT_STREAM (audit last seq L): OK" or "...: K problems".
// Lines name seqs and finding codes only, never stored content.
#include <iostream>
#include <string>

#include "broker/jetstream/jetstream_stream_log.h"
#include "broker/stream_audit_verify.h"
#include "tools/audit_cmds.h"
#include "tools/audit_progress.h"
#include "tools/cli.h"

namespace relais::tools {

namespace {

const char* GapMeaning(const std::string& kind) {
  if (kind == "not_covered") return "events not yet covered by the audit chain (writer lag)";
  if (kind == "missing_audit") return "no audit message at these seqs, later ones exist";
  if (kind == "audit_without_event") return "audit messages for seqs the event stream lacks";
  return "seqs missing from the event stream";
}

void PrintGap(const broker::AuditGap& gap) {
  if (gap.from == gap.to) {
    std::cout << "seq " << gap.from;
  } else {
    std::cout << "seqs " << gap.from << "-" << gap.to;
  }
  std::cout << ": " << gap.kind << ": " << GapMeaning(gap.kind) << "\n";
}

}  // namespace

int AuditVerifyStream(const StreamVerifyArgs& args) {
  const std::string command = "audit verify";
  if (args.stream_name.empty()) return UsageError(command, "--stream-url needs --stream-name");
  jetstream::JetStreamOptions options;
  options.urls = SplitCommaList(args.stream_url);
  options.create = false;
  options.stream = args.stream_name;
  auto events = jetstream::OpenJetStreamLog(options);
  if (!events) return Fail(command, events.error());
  options.stream =
      args.audit_stream_name.empty() ? args.stream_name + "_AUDIT" : args.audit_stream_name;
  auto audit = jetstream::OpenJetStreamLog(options);
  if (!audit) return Fail(command, audit.error());

  base::Result<broker::StreamAuditReport> report = broker::StreamAuditReport{};
  {
    AuditProgress progress("verify audit chain");
    broker::StreamAuditVerifyOptions vo;
    vo.progress = [&progress](uint64_t seq, uint64_t last) { progress.Update(seq, last); };
    report = broker::VerifyStreamAudit(**events, **audit, vo);
  }
  if (!report) return Fail(command, report.error());
  for (const auto& f : report->findings) {
    std::cout << "seq " << f.seq << ": " << f.finding << ": " << f.reason << "\n";
  }
  size_t problems = report->findings.size();
  for (const auto& gap : report->gaps) {
    PrintGap(gap);
    if (gap.kind != "not_covered" || args.require_complete) ++problems;
  }
  std::cout << "verified " << report->verified << " of " << report->event_last << " events of "
            << args.stream_name << " against " << options.stream << " (audit last seq "
            << report->audit_last << ")";
  if (report->NotCovered() > 0) std::cout << ", " << report->NotCovered() << " not yet covered";
  if (problems == 0) {
    std::cout << ": OK\n";
    return kExitOk;
  }
  std::cout << ": " << problems << (problems == 1 ? " problem\n" : " problems\n");
  return kExitVerify;
}

}  // namespace relais::tools
