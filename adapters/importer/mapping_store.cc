#include "adapters/importer/mapping_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/secret.h"

namespace relais::importer {

namespace {

constexpr size_t kStoreKeySize = 32;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS persons (
  person_key BLOB PRIMARY KEY,
  case_ref TEXT NOT NULL,
  version INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  digest BLOB,
  recipients TEXT NOT NULL,
  notice INTEGER NOT NULL,
  status INTEGER NOT NULL,
  pending_kind INTEGER NOT NULL,
  pending_due INTEGER NOT NULL,
  pending_digest BLOB,
  referred INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS reminders (
  person_key BLOB NOT NULL,
  what TEXT NOT NULL,
  listed_at INTEGER NOT NULL,
  PRIMARY KEY (person_key, what)
) WITHOUT ROWID;
)sql";

base::Error StoreError(sqlite3* db, const std::string& what) {
  return base::RetryLater("store_io", what + ": " + (db ? sqlite3_errmsg(db) : "cannot open"));
}

base::Bytes BlobColumn(sqlite3_stmt* s, int i) {
  auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s, i));
  return base::Bytes(p, p + sqlite3_column_bytes(s, i));
}

// Reads the key file, or creates it (0600, O_EXCL) when absent.
base::Result<crypto::Secret> LoadOrCreateKey(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return base::RetryLater("store_io", "cannot create " + path.string());
    crypto::Secret key = crypto::Secret::Copy(crypto::RandomBytes(kStoreKeySize));
    bool ok = ::write(fd, key.Data(), kStoreKeySize) == static_cast<ssize_t>(kStoreKeySize) &&
              ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return base::RetryLater("store_io", "cannot write " + path.string());
    return key;
  }
  if (fd < 0) return base::RetryLater("store_io", "cannot read " + path.string());
  crypto::Secret key(kStoreKeySize);
  ssize_t n = ::read(fd, key.Data(), kStoreKeySize);
  ::close(fd);
  if (n != static_cast<ssize_t>(kStoreKeySize)) {
    return base::Corruption("store_corrupt", path.string() + ": not a 32-byte key file");
  }
  return key;
}

}  // namespace

struct MappingStore::Impl {
  sqlite3* db = nullptr;
  crypto::Secret key;

  base::Status Exec(const char* sql) {
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
      return StoreError(db, "store");
    }
    return base::Ok();
  }
  base::ByteView Key() const { return base::ByteView(key.Data(), kStoreKeySize); }
};

MappingStore::MappingStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MappingStore::~MappingStore() {
  if (impl_ && impl_->db) sqlite3_close(impl_->db);
}

base::Result<std::unique_ptr<MappingStore>> MappingStore::Open(const std::filesystem::path& path) {
  auto impl = std::make_unique<Impl>();
  RELAIS_ASSIGN_OR_RETURN(impl->key, LoadOrCreateKey(path.string() + ".key"));
  if (sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      nullptr) != SQLITE_OK) {
    base::Error e = StoreError(impl->db, "open " + path.string());
    sqlite3_close(impl->db);
    return e;
  }
  ::chmod(path.c_str(), 0600);
  RELAIS_RETURN_IF_ERROR(impl->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"));
  RELAIS_RETURN_IF_ERROR(impl->Exec(kSchema));
  return std::unique_ptr<MappingStore>(new MappingStore(std::move(impl)));
}

base::Bytes MappingStore::PersonKey(std::string_view person_id) const {
  return crypto::ToBytes(crypto::Blake2b(
      {impl_->Key(), base::AsBytes("relais-import-person-v1"), base::AsBytes(person_id)}));
}

base::Bytes MappingStore::EventId(const std::string& case_ref, int kind, int64_t version) const {
  base::Bytes tail;
  base::AppendU32(tail, static_cast<uint32_t>(kind));
  base::AppendI64(tail, version);
  crypto::Digest d = crypto::Blake2b(
      {impl_->Key(), base::AsBytes("relais-import-event-v1"), base::AsBytes(case_ref), tail});
  base::Bytes id(d.begin(), d.begin() + 16);
  id[6] = static_cast<uint8_t>(0x80 | (id[6] & 0x0f));  // UUID version 8
  id[8] = static_cast<uint8_t>(0x80 | (id[8] & 0x3f));  // variant 10
  return id;
}

base::Result<std::map<base::Bytes, MappingEntry>> MappingStore::LoadAll() {
  sqlite3_stmt* s = nullptr;
  const char* sql =
      "SELECT person_key, case_ref, version, due_at, digest, recipients, notice, status, "
      "pending_kind, pending_due, pending_digest, referred FROM persons";
  if (sqlite3_prepare_v2(impl_->db, sql, -1, &s, nullptr) != SQLITE_OK) {
    return StoreError(impl_->db, "load");
  }
  std::map<base::Bytes, MappingEntry> out;
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    MappingEntry e;
    e.person_key = BlobColumn(s, 0);
    e.case_ref = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
    e.version = sqlite3_column_int64(s, 2);
    e.due_at = sqlite3_column_int64(s, 3);
    e.digest = BlobColumn(s, 4);
    e.recipients = reinterpret_cast<const char*>(sqlite3_column_text(s, 5));
    e.notice = sqlite3_column_int(s, 6) != 0;
    e.status = static_cast<CaseStatus>(sqlite3_column_int(s, 7));
    e.pending_kind = sqlite3_column_int(s, 8);
    e.pending_due = sqlite3_column_int64(s, 9);
    e.pending_digest = BlobColumn(s, 10);
    e.referred = sqlite3_column_int(s, 11) != 0;
    out.emplace(e.person_key, std::move(e));
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return StoreError(impl_->db, "load");
  return out;
}

base::Status MappingStore::Put(const std::vector<MappingEntry>& entries) {
  if (entries.empty()) return base::Ok();
  RELAIS_RETURN_IF_ERROR(impl_->Exec("BEGIN IMMEDIATE"));
  sqlite3_stmt* s = nullptr;
  const char* sql =
      "INSERT OR REPLACE INTO persons VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
  if (sqlite3_prepare_v2(impl_->db, sql, -1, &s, nullptr) != SQLITE_OK) {
    base::Error e = StoreError(impl_->db, "put");
    (void)impl_->Exec("ROLLBACK");
    return e;
  }
  for (const MappingEntry& e : entries) {
    sqlite3_bind_blob(s, 1, e.person_key.data(), static_cast<int>(e.person_key.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, e.case_ref.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 3, e.version);
    sqlite3_bind_int64(s, 4, e.due_at);
    sqlite3_bind_blob(s, 5, e.digest.data(), static_cast<int>(e.digest.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 6, e.recipients.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 7, e.notice ? 1 : 0);
    sqlite3_bind_int(s, 8, static_cast<int>(e.status));
    sqlite3_bind_int(s, 9, e.pending_kind);
    sqlite3_bind_int64(s, 10, e.pending_due);
    sqlite3_bind_blob(s, 11, e.pending_digest.data(), static_cast<int>(e.pending_digest.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int(s, 12, e.referred ? 1 : 0);
    if (sqlite3_step(s) != SQLITE_DONE) {
      base::Error err = StoreError(impl_->db, "put");
      sqlite3_finalize(s);
      (void)impl_->Exec("ROLLBACK");
      return err;
    }
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
  return impl_->Exec("COMMIT");
}

base::Status MappingStore::Remove(const std::vector<base::Bytes>& person_keys) {
  if (person_keys.empty()) return base::Ok();
  RELAIS_RETURN_IF_ERROR(impl_->Exec("BEGIN IMMEDIATE"));
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(impl_->db, "DELETE FROM persons WHERE person_key = ?1", -1, &s, nullptr) !=
      SQLITE_OK) {
    base::Error e = StoreError(impl_->db, "remove");
    (void)impl_->Exec("ROLLBACK");
    return e;
  }
  for (const auto& k : person_keys) {
    sqlite3_bind_blob(s, 1, k.data(), static_cast<int>(k.size()), SQLITE_TRANSIENT);
    sqlite3_step(s);
    sqlite3_reset(s);
  }
  sqlite3_finalize(s);
  return impl_->Exec("COMMIT");
}

base::Result<bool> MappingStore::ReminderListed(const base::Bytes& person_key,
                                                const std::string& what) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(impl_->db, "SELECT 1 FROM reminders WHERE person_key = ?1 AND what = ?2",
                         -1, &s, nullptr) != SQLITE_OK) {
    return StoreError(impl_->db, "reminder");
  }
  sqlite3_bind_blob(s, 1, person_key.data(), static_cast<int>(person_key.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, what.c_str(), -1, SQLITE_TRANSIENT);
  int rc = sqlite3_step(s);
  sqlite3_finalize(s);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return StoreError(impl_->db, "reminder");
  return rc == SQLITE_ROW;
}

base::Status MappingStore::MarkReminderListed(const base::Bytes& person_key,
                                              const std::string& what, base::TimeMs at) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(impl_->db, "INSERT OR IGNORE INTO reminders VALUES (?1, ?2, ?3)", -1, &s,
                         nullptr) != SQLITE_OK) {
    return StoreError(impl_->db, "reminder");
  }
  sqlite3_bind_blob(s, 1, person_key.data(), static_cast<int>(person_key.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, what.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s, 3, at);
  int rc = sqlite3_step(s);
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) return StoreError(impl_->db, "reminder");
  return base::Ok();
}

}  // namespace relais::importer
