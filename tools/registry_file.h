// The registry file as the `relais registry` subcommands handle it: the encoded SignedRegistry
// (docs/registry.md), the per-kind defaults of what an agency may emit and receive, and the text
// and JSON renderings of `registry show`.
#ifndef RELAIS_TOOLS_REGISTRY_FILE_H_
#define RELAIS_TOOLS_REGISTRY_FILE_H_

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "base/status.h"
#include "schema/registry.h"

namespace relais::tools {

struct RegistryFile {
  schema::SignedRegistry signed_registry;  // as read: signature empty when edited
  schema::Registry registry;               // decoded, not verified
};

// Reads and decodes REG without verifying the signature (editing does not need the authority's
// public key; `registry verify` and the broker do). Errors: "no_such_file", "cannot_read", the
// codec's "malformed".
base::Result<RegistryFile> LoadRegistryFile(const std::filesystem::path& path);

// Writes `registry` unsigned (empty signature, the registry's authority key id): an edited
// registry is refused by `registry verify` and by the broker until the authority signs it again.
base::Status SaveUnsignedRegistry(const std::filesystem::path& path,
                                  const schema::Registry& registry);
// Writes an already signed registry.
base::Status SaveSignedRegistry(const std::filesystem::path& path,
                                const schema::SignedRegistry& signed_registry);

// What an agency of `kind` may emit when `registry add` is given no --may-emit:
//   hospital, prison_service, child_welfare, eviction_prevention (emitters): referral,
//     deadline_changed, cancelled, handed_over, closed, consent_granted, consent_withdrawn;
//   siao, association, shelter (receivers): accepted, declined, picked_up, purge_receipt;
//   broker: reminder, escalation, rupture, offer_taken, purge_request;
//   coordinator, auditor: nothing.
std::vector<schema::EventKind> DefaultMayEmit(schema::AgencyKind kind);
// Receivers (siao, association, shelter) and coordinators receive by default.
bool DefaultMayReceive(schema::AgencyKind kind);
// The kinds only the broker emits (reminder, escalation, rupture, offer_taken, purge_request).
bool IsBrokerOnlyKind(schema::EventKind kind);

// "referral,deadline_changed" style list of names.
std::string JoinEventKinds(const std::vector<schema::EventKind>& kinds);
std::string JoinReferralKinds(const std::vector<schema::ReferralKind>& kinds);

// `registry show`: a summary and the agency table (never secrets; public keys only in JSON).
void PrintRegistryText(std::ostream& out, const std::filesystem::path& path,
                       const RegistryFile& file);
void PrintRegistryJson(std::ostream& out, const RegistryFile& file);

}  // namespace relais::tools

#endif  // RELAIS_TOOLS_REGISTRY_FILE_H_
