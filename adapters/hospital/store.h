// The hospital adapter's local SQLite file (the only file of this adapter that includes
// sqlite3.h): open social cases, the deduplication table and the outbox of sealed envelopes not
// yet acknowledged by the broker. WAL, synchronous=FULL, secure_delete=ON, file mode 0600.
//
// What it holds about people: the hospital's patient id (IPP) and visit number of patients who have
// an open social case, nothing else in clear; envelopes are sealed. Closing a case erases both ids.
//
// Threading: one LocalStore per thread (each opens its own connection; SQLite's busy timeout
// arbitrates between them and between processes, e.g. `relais-hospital case ...` while `serve`
// runs).
#ifndef RELAIS_ADAPTERS_HOSPITAL_STORE_H_
#define RELAIS_ADAPTERS_HOSPITAL_STORE_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"

struct sqlite3;

namespace relais::hospital {

// Where the hospital's side of a referral stands (mirrors what the broker accepted from us and
// what we learnt from `accepted` deliveries).
enum class ReferralState : int {
  kNone = 0,        // no referral sent for the current case ref
  kReferred = 1,    // referral queued or published
  kAccepted = 2,    // an `accepted` for the current case ref was delivered to us
  kHandedOver = 3,  // handed_over queued or published
  kCancelled = 4,   // cancelled queued or published
};
const char* ReferralStateName(ReferralState s);

struct CaseRecord {
  int64_t id = 0;
  std::string case_ref;        // current (a new one after a cancelled referral is re-opened)
  std::string first_case_ref;  // the one printed by `case open`
  std::string patient_id;
  std::string visit_number;  // "" matches every visit of the patient
  std::string actor;
  bool open = true;
  // Consent as recorded by `case consent` (empty consent_id: none yet).
  std::string consent_id;
  std::vector<std::string> recipients;
  std::vector<std::string> purposes;  // schema::PurposeName values
  std::string consent_method;
  base::TimeMs consent_collected_at = 0;
  base::TimeMs consent_valid_until = 0;
  ReferralState state = ReferralState::kNone;
  base::TimeMs due_at = 0;
  std::string acceptor;  // the agency whose `accepted` we received
};

struct DedupEntry {
  base::Bytes event_id;  // empty when the message produced no event
  std::string ack_code;  // AA/AE/AR as first answered
};

struct OutboxEntry {
  int64_t id = 0;
  std::string case_ref;
  base::Bytes event_id;
  std::string kind;
  base::Bytes envelope;  // schema::EncodeEnvelope
  base::TimeMs queued_at = 0;
};

struct OutboxCounts {
  int64_t pending = 0;
  int64_t failed = 0;
};

class LocalStore {
 public:
  // Opens or creates the file. Errors: kRetryLater "store_open_failed" / "store_failed".
  static base::Result<std::unique_ptr<LocalStore>> Open(const std::filesystem::path& path);
  ~LocalStore();
  LocalStore(const LocalStore&) = delete;
  LocalStore& operator=(const LocalStore&) = delete;

  // BEGIN IMMEDIATE / COMMIT / ROLLBACK. Commit returns only once the transaction is durable.
  base::Status Begin();
  base::Status Commit();
  void Rollback();
  // Nested savepoint around one message inside a transaction.
  base::Status Savepoint();
  base::Status ReleaseSavepoint();
  base::Status RollbackToSavepoint();

  // Cases. InsertCase fills record.id; kInvalidInput "case_exists" when an open case already has
  // the same patient id and visit number.
  base::Status InsertCase(CaseRecord& record);
  base::Status UpdateCase(const CaseRecord& record);
  // The open case of the patient for this visit (a case opened without a visit number matches
  // every visit), or nullopt.
  base::Result<std::optional<CaseRecord>> FindOpenCase(const std::string& patient_id,
                                                       const std::string& visit_number);
  // By current or first case ref, open or not.
  base::Result<std::optional<CaseRecord>> FindCaseByRef(const std::string& case_ref);
  base::Result<std::vector<CaseRecord>> ListCases();

  // Deduplication by (MSH-3, MSH-4, MSH-10).
  base::Result<std::optional<DedupEntry>> FindDedup(const std::string& sender,
                                                    const std::string& facility,
                                                    const std::string& control_id);
  base::Status PutDedup(const std::string& sender, const std::string& facility,
                        const std::string& control_id, const DedupEntry& entry, base::TimeMs now);
  // Drops dedup rows older than `before` (kept 30 days by default by the server).
  base::Status PruneDedup(base::TimeMs before);

  // Outbox.
  base::Status Enqueue(OutboxEntry& entry);  // fills entry.id
  // The oldest pending entry of each case (events of one case are published in order), oldest
  // first, at most `limit`, skipping ids in `exclude` (those already in flight).
  base::Result<std::vector<OutboxEntry>> PendingHeads(size_t limit,
                                                      const std::vector<int64_t>& exclude);
  base::Status RemoveFromOutbox(int64_t id);  // published: acked ok by the broker
  // Refused for good by the broker: kept for the operator with the broker's code.
  base::Status MarkFailed(int64_t id, const std::string& code);
  base::Result<OutboxCounts> CountOutbox();

 private:
  explicit LocalStore(sqlite3* db) : db_(db) {}
  base::Status Exec(const char* sql);
  sqlite3* db_;
};

}  // namespace relais::hospital

#endif  // RELAIS_ADAPTERS_HOSPITAL_STORE_H_
