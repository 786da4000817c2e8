// Per-case keys for the replicated copy of the journal (docs/scale-out.md section 9).
//
// The JetStream stream denies delete and purge, so the sealed body and wraps of an event are
// stored there encrypted once more under a random 32-byte key of its case. The key lives in a
// separate store that CAN forget it (a JetStream KV bucket); erasing a case destroys the key and
// with it every stream copy of the case's sealed bytes (crypto-shredding).
//
// Keys are stored under a keyed hash of the case ref (CaseKeyName), never the case ref itself:
// key names are visible to the KV's operators and advisories.
#ifndef RELAIS_BROKER_CASE_KEYS_H_
#define RELAIS_BROKER_CASE_KEYS_H_

#include <optional>
#include <string>

#include "base/status.h"
#include "crypto/at_rest.h"

namespace relais::broker {

class CaseKeyStore {
 public:
  virtual ~CaseKeyStore() = default;
  // The key stored under `name`, creating a random one if there is none. Concurrent callers
  // (several instances) all get the same key. kNotFound "case_key_destroyed" once Destroy ran:
  // a destroyed key is never created again, so nothing of the case written to the stream later
  // is readable either. kRetryLater "stream_unavailable".
  virtual base::Result<crypto::AtRestKey> GetOrCreate(const std::string& name) = 0;
  // The key stored under `name`, nullopt once destroyed or never created.
  virtual base::Result<std::optional<crypto::AtRestKey>> Get(const std::string& name) = 0;
  // Forgets the key for good and leaves a tombstone under its name (idempotent).
  // kRetryLater "stream_unavailable".
  virtual base::Status Destroy(const std::string& name) = 0;
};

// "ck-" + hex of BLAKE2b(secret || "relais-case-key-v1" || case_ref), 32 hex characters: a key
// name that does not reveal the case ref to anyone without `secret` (the deployment's stream
// secret, the same file on every relaisd instance).
std::string CaseKeyName(const crypto::AtRestKey& secret, const std::string& case_ref);

}  // namespace relais::broker

#endif  // RELAIS_BROKER_CASE_KEYS_H_
