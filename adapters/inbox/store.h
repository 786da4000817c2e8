// The association inbox's local store: one SQLite file holding every event received (and every
// answer sent) for this agency, with headers and bodies encrypted at rest (crypto/at_rest.h), the
// purge traces, the staff logins of the local web page and notification bookkeeping.
//
// Layout (docs/adapters/inbox.md §Store): table `meta` (store version, KDF, salt, key check),
// `events` (event id, seq, direction, case ref, kind, times in clear — pseudonymous metadata the
// broker sees too — and the sealed header and body JSON, each authenticated with the event id as
// associated data), `purges` (trace rows "données supprimées à la demande de la personne"),
// `staff` (login, Argon2id password hash), `notified` (what was already announced).
//
// Threading: a Store is one SQLite connection; use it from one thread at a time. Several Stores
// (the `run` process, its web server, CLI commands) may open the same file: WAL mode and a busy
// timeout serialise writers. Errors: kNotFound "no_store" (Open without create), kNotAuthorised
// "wrong_store_key" (the passphrase or key file is not this store's), kCorruption
// "at_rest_auth_failed" (an altered row), kRetryLater "store_busy", kFailStop "store_failed" (any
// other SQLite error; messages carry SQLite's text, never row content).
#ifndef RELAIS_ADAPTERS_INBOX_STORE_H_
#define RELAIS_ADAPTERS_INBOX_STORE_H_

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/at_rest.h"
#include "schema/envelope.h"
#include "schema/events.h"

struct sqlite3;

namespace relais::inbox {

// Where the store key comes from: a key file (crypto::CreateAtRestKeyFile), or a passphrase
// (Argon2id with the salt kept in the store). Exactly one must be set.
struct StoreKeySource {
  std::filesystem::path key_file;
  std::string passphrase;
};

enum class Direction { kIn = 0, kOut = 1 };

struct StoredEvent {
  uint64_t seq = 0;  // the broker's journal seq (received, or returned by the publish ack)
  Direction direction = Direction::kIn;
  base::TimeMs received_at = 0;  // journal time (in) or publish time (out)
  schema::Header header;
  schema::EventBody body;
};

struct PurgeTrace {
  std::string case_ref;
  base::TimeMs purged_at = 0;
  uint64_t events_deleted = 0;
  uint64_t receipt_seq = 0;  // 0 while the purge_receipt is not acknowledged by the broker
};

class Store {
 public:
  // Opens (and with `create`, creates with mode 0600) the store at `path`.
  static base::Result<std::unique_ptr<Store>> Open(const std::filesystem::path& path,
                                                   const StoreKeySource& key, bool create);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Inserts an event unless its event id is already stored; true when it was new. Durable on
  // return (synchronous=FULL).
  base::Result<bool> PutEvent(const StoredEvent& event);
  base::Result<bool> HasEvent(base::ByteView event_id);
  // Every stored event (decrypted), of one case or all when `case_ref` is empty, oldest first.
  base::Result<std::vector<StoredEvent>> Events(const std::string& case_ref = "");

  // Deletes every event of the case (secure_delete, WAL truncated) and records the trace, in one
  // transaction; returns how many events were deleted. Idempotent.
  base::Result<uint64_t> Purge(const std::string& case_ref, base::TimeMs now);
  base::Status MarkPurgeReceipt(const std::string& case_ref, uint64_t seq);
  base::Result<std::vector<PurgeTrace>> Purges();

  // Staff logins of the web page. Hashes come from crypto::HashPassword.
  base::Status SetStaff(const std::string& login, const std::string& password_hash);
  base::Status RemoveStaff(const std::string& login);
  base::Result<std::optional<std::string>> StaffHash(const std::string& login);
  base::Result<std::vector<std::string>> StaffLogins();

  // Records that `what` was announced for `case_ref`; true when it was not yet.
  base::Result<bool> MarkNotified(const std::string& case_ref, const std::string& what);

 private:
  Store(sqlite3* db, crypto::AtRestKey key) : db_(db), key_(std::move(key)) {}
  base::Status Exec(const char* sql);
  base::Status InitKey(const StoreKeySource& source, bool created);
  base::Result<StoredEvent> DecodeRow(base::ByteView event_id, base::ByteView sealed_header,
                                      base::ByteView sealed_body);

  sqlite3* db_;
  crypto::AtRestKey key_;
};

}  // namespace relais::inbox

#endif  // RELAIS_ADAPTERS_INBOX_STORE_H_
