// The signed agency registry as the broker sees it: verified on load, swapped atomically on
// reload, with indexes for the ZAP handler (CURVE key -> agency) and the publish checks.
//
// Threading: Current() and AgencyForCurveKey() are thread-safe (the ZAP thread and the verify
// workers call them). Reload() is called by the broker's I/O thread.
#ifndef RELAIS_BROKER_REGISTRY_STORE_H_
#define RELAIS_BROKER_REGISTRY_STORE_H_

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/status.h"
#include "schema/registry.h"

namespace relais::broker {

// valid_from <= at <= valid_until, where a valid_until of 0 means "no end date".
bool KeyValidAt(const schema::AgencyKey& key, base::TimeMs at);

// An immutable, indexed registry edition.
struct RegistryView {
  schema::Registry registry;
  std::map<std::string, const schema::Agency*, std::less<>> by_id;
  std::map<base::Bytes, const schema::Agency*> by_curve_key;

  const schema::Agency* Find(std::string_view id) const;
  // The agency's key with that id, valid at `at`, or null.
  const schema::AgencyKey* ValidKey(const schema::Agency& agency, std::string_view key_id,
                                    base::TimeMs at) const;
  bool MayEmit(const schema::Agency& agency, schema::EventKind kind) const;
  // Agencies of a kind in a territory (e.g. the coordinator of territory "75").
  std::vector<const schema::Agency*> OfKind(schema::AgencyKind kind,
                                            std::string_view territory) const;
};

struct ReloadOutcome {
  uint64_t serial = 0;
  std::vector<std::string> revoked;  // agencies revoked (or removed) by this edition
  std::vector<std::string> added;
};

class RegistryStore {
 public:
  // Reads and verifies the signed registry file against the authority's Ed25519 public key.
  static base::Result<std::unique_ptr<RegistryStore>> Load(const std::filesystem::path& file,
                                                           base::Bytes authority_public,
                                                           const base::Clock& clock);

  std::shared_ptr<const RegistryView> Current() const;
  // The agency a CURVE public key belongs to, if that agency is not revoked and the key is valid
  // now. Called by the ZAP handler.
  std::optional<std::string> AgencyForCurveKey(base::ByteView key) const;
  // Re-reads the file. A registry that does not verify, or whose serial is lower than the current
  // one (a rollback), is refused and the current edition stays in force.
  base::Result<ReloadOutcome> Reload();

 private:
  RegistryStore(std::filesystem::path file, base::Bytes authority_public, const base::Clock& clock)
      : file_(std::move(file)), authority_public_(std::move(authority_public)), clock_(clock) {}
  base::Result<std::shared_ptr<const RegistryView>> ReadAndVerify() const;

  std::filesystem::path file_;
  base::Bytes authority_public_;
  const base::Clock& clock_;
  mutable std::mutex mu_;
  std::shared_ptr<const RegistryView> current_;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_REGISTRY_STORE_H_
