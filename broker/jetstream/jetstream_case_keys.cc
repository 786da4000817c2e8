#include "broker/jetstream/jetstream_case_keys.h"

#include <cstring>

#include "broker/jetstream/jetstream_internal.h"
#include "crypto/random.h"

namespace relais::jetstream {

namespace {

using internal::Backoff;
using internal::Conn;
using internal::Transient;
using internal::Unavailable;
using Deadline = std::chrono::steady_clock::time_point;

constexpr char kTombstone[] = "destroyed";

class JetStreamCaseKeys final : public broker::CaseKeyStore {
 public:
  JetStreamCaseKeys(std::unique_ptr<Conn> conn, kvStore* kv) : conn_(std::move(conn)), kv_(kv) {}
  ~JetStreamCaseKeys() override { kvStore_Destroy(kv_); }

  base::Result<crypto::AtRestKey> GetOrCreate(const std::string& name) override {
    const Deadline deadline = DeadlineFromNow();
    for (int round = 0; round < 8; ++round) {
      RELAIS_ASSIGN_OR_RETURN(auto existing, Read(name));
      if (existing.destroyed) {
        return base::NotFound("case_key_destroyed", "the case's stream key was destroyed");
      }
      if (existing.key) return std::move(*existing.key);
      const base::Bytes fresh = crypto::RandomBytes(crypto::kAtRestKeySize);
      while (true) {
        const natsStatus s = kvStore_Create(nullptr, kv_, name.c_str(), fresh.data(),
                                            static_cast<int>(fresh.size()));
        if (s == NATS_OK) return crypto::AtRestKey(crypto::Secret::Copy(fresh));
        if (!Transient(s, {})) break;  // created meanwhile by another instance: read it
        if (!Backoff(deadline)) return Unavailable("creating a case key", s, {});
      }
    }
    return base::RetryLater("stream_unavailable", "case key neither readable nor creatable");
  }

  base::Result<std::optional<crypto::AtRestKey>> Get(const std::string& name) override {
    RELAIS_ASSIGN_OR_RETURN(auto stored, Read(name));
    return std::move(stored.key);
  }

  base::Status Destroy(const std::string& name) override {
    const Deadline deadline = DeadlineFromNow();
    while (true) {
      const natsStatus s = kvStore_PutString(nullptr, kv_, name.c_str(), kTombstone);
      if (s == NATS_OK) return base::Ok();
      if (!Transient(s, {}) || !Backoff(deadline)) {
        return Unavailable("destroying a case key", s, {});
      }
    }
  }

 private:
  struct Stored {
    std::optional<crypto::AtRestKey> key;
    bool destroyed = false;
  };

  base::Result<Stored> Read(const std::string& name) {
    const Deadline deadline = DeadlineFromNow();
    while (true) {
      kvEntry* e = nullptr;
      const natsStatus s = kvStore_Get(&e, kv_, name.c_str());
      if (s == NATS_OK) {
        const auto* p = static_cast<const uint8_t*>(kvEntry_Value(e));
        const auto n = static_cast<size_t>(kvEntry_ValueLen(e));
        Stored out;
        if (n == crypto::kAtRestKeySize) {
          out.key = crypto::AtRestKey(crypto::Secret::Copy(base::ByteView(p, n)));
        } else if (n == sizeof(kTombstone) - 1 && std::memcmp(p, kTombstone, n) == 0) {
          out.destroyed = true;
        }
        kvEntry_Destroy(e);
        if (!out.key && !out.destroyed) {
          return base::Corruption("stream_corrupt", "case key of the wrong size");
        }
        return out;
      }
      if (s == NATS_NOT_FOUND) return Stored{};
      if (!Transient(s, {}) || !Backoff(deadline)) return Unavailable("reading a case key", s, {});
    }
  }

  Deadline DeadlineFromNow() const {
    return std::chrono::steady_clock::now() + conn_->options.deadline;
  }

  std::unique_ptr<Conn> conn_;
  kvStore* kv_;
};

}  // namespace

base::Result<std::unique_ptr<broker::CaseKeyStore>> OpenJetStreamCaseKeys(
    const JetStreamOptions& connection, const std::string& bucket) {
  if (connection.urls.empty() || bucket.empty() ||
      (connection.replicas != 1 && connection.replicas != 3)) {
    return base::InvalidInput("bad_stream_config", "incomplete case key bucket options");
  }
  RELAIS_ASSIGN_OR_RETURN(auto conn, internal::Connect(connection));
  kvConfig kc;
  kvConfig_Init(&kc);
  kc.Bucket = bucket.c_str();
  kc.History = 1;
  kc.StorageType = js_FileStorage;
  kc.Replicas = connection.replicas;
  const Deadline deadline = std::chrono::steady_clock::now() + connection.deadline;
  while (true) {
    kvStore* kv = nullptr;
    natsStatus s = js_CreateKeyValue(&kv, conn->js, &kc);
    if (s != NATS_OK) s = js_KeyValue(&kv, conn->js, kc.Bucket);  // exists with other settings
    if (s == NATS_OK) {
      return std::unique_ptr<broker::CaseKeyStore>(new JetStreamCaseKeys(std::move(conn), kv));
    }
    if (!Transient(s, {}) || !Backoff(deadline)) {
      return Unavailable("creating the case key bucket", s, {});
    }
  }
}

}  // namespace relais::jetstream
