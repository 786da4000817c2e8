// Plain C++ view of the agency registry (schema/registry.capnp).
#ifndef RELAIS_SCHEMA_REGISTRY_H_
#define RELAIS_SCHEMA_REGISTRY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/envelope.h"

namespace relais::schema {

enum class AgencyKind : uint16_t {
  kHospital = 0,
  kPrisonService,
  kChildWelfare,
  kEvictionPrevention,
  kSiao,
  kAssociation,
  kShelter,
  kCoordinator,
  kAuditor,
  kBroker,
};
constexpr int kAgencyKindCount = 10;
// "hospital", "prison_service", "child_welfare", "eviction_prevention", "siao", "association",
// "shelter", "coordinator", "auditor", "broker".
const char* AgencyKindName(AgencyKind k);
std::optional<AgencyKind> ParseAgencyKind(std::string_view name);

struct AgencyKey {
  std::string key_id;
  Bytes sign_key;   // Ed25519 public, 32 bytes
  Bytes seal_key;   // X25519 public, 32 bytes
  Bytes curve_key;  // CURVE public, 32 bytes
  TimeMs valid_from = 0;
  TimeMs valid_until = 0;
  bool operator==(const AgencyKey&) const = default;
};

struct Agency {
  std::string id;
  std::string display_name;
  AgencyKind kind = AgencyKind::kAssociation;
  std::string territory;
  std::vector<AgencyKey> keys;
  std::vector<EventKind> may_emit;
  bool may_receive = false;
  bool revoked = false;
  TimeMs revoked_at = 0;
  std::vector<ReferralKind> notice_without_consent;
  bool operator==(const Agency&) const = default;
};

struct Registry {
  uint16_t version = 1;
  uint64_t serial = 0;
  TimeMs issued_at = 0;
  TimeMs expires_at = 0;
  std::string authority_key_id;
  std::vector<Agency> agencies;
  bool operator==(const Registry&) const = default;

  // Lookups over `agencies` (linear; registries hold tens to hundreds of agencies).
  const Agency* Find(std::string_view agency_id) const;
  Agency* Find(std::string_view agency_id);
};

struct SignedRegistry {
  Bytes registry;  // serialized Registry, exactly as signed
  Bytes signature;
  std::string authority_key_id;
  bool operator==(const SignedRegistry&) const = default;
};

// Agency ids: 1-64 chars of [a-z0-9._-], starting with a letter or digit.
bool IsValidAgencyId(std::string_view id);

}  // namespace relais::schema

#endif  // RELAIS_SCHEMA_REGISTRY_H_
