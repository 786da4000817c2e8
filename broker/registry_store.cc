#include "broker/registry_store.h"

#include <algorithm>
#include <fstream>
#include <iterator>

#include "crypto/registry_sign.h"
#include "schema/codec.h"

namespace relais::broker {

bool KeyValidAt(const schema::AgencyKey& key, base::TimeMs at) {
  return key.valid_from <= at && (key.valid_until == 0 || at <= key.valid_until);
}

const schema::Agency* RegistryView::Find(std::string_view id) const {
  auto it = by_id.find(id);
  return it == by_id.end() ? nullptr : it->second;
}

const schema::AgencyKey* RegistryView::ValidKey(const schema::Agency& agency,
                                                std::string_view key_id, base::TimeMs at) const {
  for (const auto& key : agency.keys) {
    if (key.key_id == key_id && KeyValidAt(key, at)) return &key;
  }
  return nullptr;
}

bool RegistryView::MayEmit(const schema::Agency& agency, schema::EventKind kind) const {
  return std::find(agency.may_emit.begin(), agency.may_emit.end(), kind) != agency.may_emit.end();
}

std::vector<const schema::Agency*> RegistryView::OfKind(schema::AgencyKind kind,
                                                        std::string_view territory) const {
  std::vector<const schema::Agency*> out;
  for (const auto& a : registry.agencies) {
    if (a.kind == kind && !a.revoked && (territory.empty() || a.territory == territory)) {
      out.push_back(&a);
    }
  }
  return out;
}

base::Result<std::unique_ptr<RegistryStore>> RegistryStore::Load(const std::filesystem::path& file,
                                                                 base::Bytes authority_public,
                                                                 const base::Clock& clock) {
  std::unique_ptr<RegistryStore> store(new RegistryStore(file, std::move(authority_public), clock));
  RELAIS_ASSIGN_OR_RETURN(auto view, store->ReadAndVerify());
  store->current_ = std::move(view);
  return store;
}

base::Result<std::shared_ptr<const RegistryView>> RegistryStore::ReadAndVerify() const {
  std::ifstream in(file_, std::ios::binary);
  if (!in) return base::NotFound("no_registry", "cannot read the registry file " + file_.string());
  base::Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  RELAIS_ASSIGN_OR_RETURN(auto signed_registry, schema::DecodeSignedRegistry(bytes));
  RELAIS_ASSIGN_OR_RETURN(auto registry, crypto::VerifySignedRegistry(
                                             signed_registry, authority_public_, clock_.NowMs()));
  auto view = std::make_shared<RegistryView>();
  view->registry = std::move(registry);
  for (const auto& agency : view->registry.agencies) {
    view->by_id[agency.id] = &agency;
    for (const auto& key : agency.keys) view->by_curve_key[key.curve_key] = &agency;
  }
  return std::shared_ptr<const RegistryView>(std::move(view));
}

std::shared_ptr<const RegistryView> RegistryStore::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::optional<std::string> RegistryStore::AgencyForCurveKey(base::ByteView key) const {
  auto view = Current();
  auto it = view->by_curve_key.find(base::Bytes(key.begin(), key.end()));
  if (it == view->by_curve_key.end() || it->second->revoked) return std::nullopt;
  base::TimeMs now = clock_.NowMs();
  for (const auto& k : it->second->keys) {
    if (std::equal(k.curve_key.begin(), k.curve_key.end(), key.begin(), key.end()) &&
        KeyValidAt(k, now)) {
      return it->second->id;
    }
  }
  return std::nullopt;
}

base::Result<ReloadOutcome> RegistryStore::Reload() {
  RELAIS_ASSIGN_OR_RETURN(auto next, ReadAndVerify());
  auto previous = Current();
  if (next->registry.serial < previous->registry.serial) {
    return base::NotAuthorised(
        "registry_rollback", "the registry file's serial " + std::to_string(next->registry.serial) +
                                 " is older than the one in force (" +
                                 std::to_string(previous->registry.serial) + ")");
  }
  ReloadOutcome outcome;
  outcome.serial = next->registry.serial;
  for (const auto& agency : previous->registry.agencies) {
    const schema::Agency* now = next->Find(agency.id);
    if (!agency.revoked && (now == nullptr || now->revoked)) outcome.revoked.push_back(agency.id);
  }
  for (const auto& agency : next->registry.agencies) {
    if (previous->Find(agency.id) == nullptr) outcome.added.push_back(agency.id);
  }
  std::lock_guard lock(mu_);
  current_ = std::move(next);
  return outcome;
}

}  // namespace relais::broker
