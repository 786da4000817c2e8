// One import run of a list adapter: read the files (one snapshot of the institution's list),
// validate each row, compare with the mapping store, publish what changed, write the quarantine
// and reminder files, and summarise.
#ifndef RELAIS_ADAPTERS_IMPORTER_IMPORT_RUN_H_
#define RELAIS_ADAPTERS_IMPORTER_IMPORT_RUN_H_

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "adapters/importer/mapping_store.h"
#include "adapters/importer/publisher.h"
#include "adapters/importer/row.h"
#include "adapters/importer/text.h"
#include "adapters/sdk/client.h"

namespace relais::importer {

struct ImportOptions {
  std::vector<std::filesystem::path> files;  // together, today's complete list
  CivilDate today;
  int lead_days = -1;                   // -1: the schema's default
  std::vector<std::string> recipients;  // for rows without a recipients column
  bool confirm_cancellations = false;
  std::filesystem::path quarantine_file;  // rewritten each run (header only when none)
  std::filesystem::path reminders_file;   // rewritten each run; empty: not written
  Charset charset = Charset::kAuto;
  char separator = 0;  // 0: guessed
  std::string actor;
  PublishOptions publish;
};

struct ImportSummary {
  size_t rows = 0;
  size_t accepted = 0;          // new referrals acknowledged by the broker
  size_t deadline_changed = 0;  // acknowledged
  size_t cancelled = 0;         // acknowledged
  size_t quarantined = 0;       // rows set aside (quarantine file), including broker refusals
  size_t unchanged = 0;
  size_t modified_without_event = 0;
  size_t not_yet_due = 0;
  size_t cancellations_unconfirmed = 0;  // vanished rows listed, nothing sent
  size_t unacknowledged = 0;             // publish timed out: re-published (same event id) next run
  size_t reminders = 0;

  std::string ToLine() const;  // "summary accepted=N quarantined=N unchanged=N ..."
};

struct ImportEnv {
  sdk::Client* client = nullptr;
  const schema::Registry* registry = nullptr;
  const crypto::AgencyIdentity* me = nullptr;
  const base::Clock* clock = nullptr;
  MappingStore* store = nullptr;
  std::ostream* out = nullptr;  // listings (case refs, counts), never personal data
};

// Errors: unreadable files ("no_file"), kInvalidInput "bad_charset", "empty_file", "bad_header",
// "missing_column" (the file is refused as a whole), and the store's.
base::Result<ImportSummary> RunImport(const RowSchema& schema, const ImportOptions& options,
                                      ImportEnv& env);

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_IMPORT_RUN_H_
