// An in-memory CaseKeyStore for unit tests of the JetStream mode's parts (the real one is a
// JetStream KV bucket, broker/jetstream/jetstream_case_keys.h). Test-only, header-only.
#ifndef RELAIS_BROKER_MEMORY_CASE_KEYS_H_
#define RELAIS_BROKER_MEMORY_CASE_KEYS_H_

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "broker/case_keys.h"
#include "crypto/random.h"

namespace relais::broker {

class MemoryKeys final : public CaseKeyStore {
 public:
  base::Result<crypto::AtRestKey> GetOrCreate(const std::string& name) override {
    std::lock_guard lock(mu_);
    if (destroyed_.count(name)) return base::NotFound("case_key_destroyed", "destroyed");
    auto& k = keys_[name];
    if (k.empty()) k = crypto::RandomBytes(crypto::kAtRestKeySize);
    return crypto::AtRestKey(crypto::Secret::Copy(k));
  }
  base::Result<std::optional<crypto::AtRestKey>> Get(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto it = keys_.find(name);
    if (it == keys_.end()) return std::optional<crypto::AtRestKey>();
    return std::optional<crypto::AtRestKey>(crypto::AtRestKey(crypto::Secret::Copy(it->second)));
  }
  base::Status Destroy(const std::string& name) override {
    std::lock_guard lock(mu_);
    keys_.erase(name);
    destroyed_.insert(name);
    return base::Ok();
  }
  size_t size() {
    std::lock_guard lock(mu_);
    return keys_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::string, base::Bytes> keys_;
  std::set<std::string> destroyed_;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_MEMORY_CASE_KEYS_H_
