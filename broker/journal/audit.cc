#include "broker/journal/audit.h"

namespace relais::journal {

base::Result<AuditReport> AuditJournal(JournalReader& reader,
                                       const std::vector<CheckpointFile>& files,
                                       const AuditOptions& options) {
  AuditReport report;
  RELAIS_ASSIGN_OR_RETURN(ChainReport chain, reader.VerifyChain());
  RELAIS_RETURN_IF_ERROR(chain.ToStatus());
  report.head = chain.verified;
  report.entries = chain.rows;
  RELAIS_ASSIGN_OR_RETURN(std::vector<Checkpoint> stored, reader.Checkpoints());
  for (const Checkpoint& cp : stored) {
    RELAIS_RETURN_IF_ERROR(reader.CheckCheckpoint(cp, options.broker_keys));
  }
  report.journal_checkpoints = stored.size();
  for (const CheckpointFile& file : files) {
    RELAIS_RETURN_IF_ERROR(VerifyWitnesses(file, options.witness_keys, options.min_witnesses));
    RELAIS_RETURN_IF_ERROR(reader.CheckCheckpoint(file.checkpoint, options.broker_keys));
    report.witness_signatures += file.witnesses.size();
  }
  report.checkpoint_files = files.size();
  return report;
}

}  // namespace relais::journal
