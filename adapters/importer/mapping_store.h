// The adapter's local memory of what it published: institution person id -> case ref, in its
// own SQLite file (the only includer of sqlite3.h in the importers). The person id is stored only
// as a keyed BLAKE2b hash (key: a random 32-byte file beside the store, mode 0600); names and
// other row contents never are, only a digest of the last published row.
//
// Threading: one thread. Errors: kRetryLater "store_io" (SQLite or key file I/O), kCorruption
// "store_corrupt" (a row or key file that does not read back).
#ifndef RELAIS_ADAPTERS_IMPORTER_MAPPING_STORE_H_
#define RELAIS_ADAPTERS_IMPORTER_MAPPING_STORE_H_

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"

namespace relais::importer {

enum class CaseStatus { kActive = 0, kCancelled = 1 };

// One person known to the store. `pending_*`: an event written down before it is published
// (so a crash between publish and ack re-publishes the same event id); cleared once acked.
struct MappingEntry {
  base::Bytes person_key;  // keyed hash of the person id
  std::string case_ref;
  int64_t version = 0;      // events published for the case (derives their event ids)
  base::TimeMs due_at = 0;  // last acknowledged dueAt
  base::Bytes digest;       // digest of the last acknowledged row
  std::string recipients;   // comma-separated agency ids of the referral
  bool notice = false;      // the referral went at notice tier without consent
  CaseStatus status = CaseStatus::kActive;
  int pending_kind = 0;  // schema::EventKind of the unacknowledged event, 0: none
  base::TimeMs pending_due = 0;
  base::Bytes pending_digest;
  bool referred = false;  // the referral was acknowledged
};

class MappingStore {
 public:
  // Opens or creates `path` and its key file `path` + ".key".
  static base::Result<std::unique_ptr<MappingStore>> Open(const std::filesystem::path& path);
  ~MappingStore();
  MappingStore(const MappingStore&) = delete;
  MappingStore& operator=(const MappingStore&) = delete;

  base::Bytes PersonKey(std::string_view person_id) const;
  // A 16-byte event id derived from the store key, the case, the event kind and the version:
  // the same planned event always gets the same id, so the broker deduplicates re-publishing.
  base::Bytes EventId(const std::string& case_ref, int kind, int64_t version) const;

  // Every entry, by person key.
  base::Result<std::map<base::Bytes, MappingEntry>> LoadAll();
  // Inserts or replaces `entries` in one transaction.
  base::Status Put(const std::vector<MappingEntry>& entries);
  base::Status Remove(const std::vector<base::Bytes>& person_keys);

  // Local reminders already listed (ASE interview at 17), by person key and what.
  base::Result<bool> ReminderListed(const base::Bytes& person_key, const std::string& what);
  base::Status MarkReminderListed(const base::Bytes& person_key, const std::string& what,
                                  base::TimeMs at);

  struct Impl;

 private:
  explicit MappingStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_MAPPING_STORE_H_
