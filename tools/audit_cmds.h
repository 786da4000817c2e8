// The `relais audit` subcommands other than verify (tools/audit_cmd.cc dispatches to them).
// Each returns the process exit code (tools/cli.h).
#ifndef RELAIS_TOOLS_AUDIT_CMDS_H_
#define RELAIS_TOOLS_AUDIT_CMDS_H_

#include <string>

namespace relais::tools {

// `relais audit verify --stream-url ...` (tools/audit_stream_cmd.cc).
struct StreamVerifyArgs {
  std::string stream_url;         // comma-separated NATS URLs
  std::string stream_name;        // the event stream
  std::string audit_stream_name;  // empty: <stream_name>_AUDIT
  bool require_complete = false;  // events not yet covered count as problems
};
int AuditVerifyStream(const StreamVerifyArgs& args);

int AuditReplay(int argc, char** argv);            // tools/audit_replay_cmd.cc
int AuditReport(int argc, char** argv);            // tools/audit_report_cmd.cc
int AuditRebuild(int argc, char** argv);           // tools/audit_rebuild_cmd.cc
int AuditExportCheckpoint(int argc, char** argv);  // tools/audit_checkpoint_cmd.cc
int AuditCountersign(int argc, char** argv);       // tools/audit_checkpoint_cmd.cc

}  // namespace relais::tools

#endif  // RELAIS_TOOLS_AUDIT_CMDS_H_
