#include "tools/registry_file.h"

#include <algorithm>
#include <iomanip>

#include "base/bytes.h"
#include "crypto/identity.h"
#include "schema/codec.h"
#include "tools/cli.h"

namespace relais::tools {

namespace {

using schema::AgencyKind;
using schema::EventKind;

std::string TimeOrDash(base::TimeMs t) { return t == 0 ? "-" : base::FormatIsoUtc(t); }

std::string KeyIds(const schema::Agency& agency) {
  std::string out;
  for (const schema::AgencyKey& k : agency.keys) out += (out.empty() ? "" : ",") + k.key_id;
  return out.empty() ? "-" : out;
}

std::string JsonTime(base::TimeMs t) { return t == 0 ? "null" : JsonString(base::FormatIsoUtc(t)); }

template <typename T, typename Name>
std::string JsonNames(const std::vector<T>& values, Name name) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    out += (i ? "," : "") + JsonString(name(values[i]));
  }
  return out + "]";
}

}  // namespace

base::Result<RegistryFile> LoadRegistryFile(const std::filesystem::path& path) {
  RELAIS_ASSIGN_OR_RETURN(base::Bytes bytes, ReadFileBytes(path));
  RegistryFile file;
  RELAIS_ASSIGN_OR_RETURN(file.signed_registry, schema::DecodeSignedRegistry(bytes));
  RELAIS_ASSIGN_OR_RETURN(file.registry, schema::DecodeRegistry(file.signed_registry.registry));
  return file;
}

base::Status SaveUnsignedRegistry(const std::filesystem::path& path,
                                  const schema::Registry& registry) {
  schema::SignedRegistry unsigned_registry;
  unsigned_registry.registry = schema::EncodeRegistry(registry);
  unsigned_registry.authority_key_id = registry.authority_key_id;
  return SaveSignedRegistry(path, unsigned_registry);
}

base::Status SaveSignedRegistry(const std::filesystem::path& path,
                                const schema::SignedRegistry& signed_registry) {
  return ReplaceFile(path, schema::EncodeSignedRegistry(signed_registry), 0644);
}

std::vector<EventKind> DefaultMayEmit(AgencyKind kind) {
  switch (kind) {
    case AgencyKind::kHospital:
    case AgencyKind::kPrisonService:
    case AgencyKind::kChildWelfare:
    case AgencyKind::kEvictionPrevention:
      return {EventKind::kReferral,        EventKind::kDeadlineChanged, EventKind::kCancelled,
              EventKind::kHandedOver,      EventKind::kClosed,          EventKind::kConsentGranted,
              EventKind::kConsentWithdrawn};
    case AgencyKind::kSiao:
    case AgencyKind::kAssociation:
    case AgencyKind::kShelter:
      return {EventKind::kAccepted, EventKind::kDeclined, EventKind::kPickedUp,
              EventKind::kPurgeReceipt};
    case AgencyKind::kBroker:
      return {EventKind::kReminder, EventKind::kEscalation, EventKind::kRupture,
              EventKind::kOfferTaken, EventKind::kPurgeRequest};
    case AgencyKind::kCoordinator:
    case AgencyKind::kAuditor:
      return {};
  }
  return {};
}

bool DefaultMayReceive(AgencyKind kind) {
  return kind == AgencyKind::kSiao || kind == AgencyKind::kAssociation ||
         kind == AgencyKind::kShelter || kind == AgencyKind::kCoordinator;
}

bool IsBrokerOnlyKind(EventKind kind) {
  return kind == EventKind::kReminder || kind == EventKind::kEscalation ||
         kind == EventKind::kRupture || kind == EventKind::kOfferTaken ||
         kind == EventKind::kPurgeRequest;
}

std::string JoinEventKinds(const std::vector<EventKind>& kinds) {
  std::string out;
  for (EventKind k : kinds) out += (out.empty() ? "" : ",") + std::string(EventKindName(k));
  return out.empty() ? "-" : out;
}

std::string JoinReferralKinds(const std::vector<schema::ReferralKind>& kinds) {
  std::string out;
  for (auto k : kinds) out += (out.empty() ? "" : ",") + std::string(ReferralKindName(k));
  return out.empty() ? "-" : out;
}

void PrintRegistryText(std::ostream& out, const std::filesystem::path& path,
                       const RegistryFile& file) {
  const schema::Registry& r = file.registry;
  size_t revoked = std::count_if(r.agencies.begin(), r.agencies.end(),
                                 [](const schema::Agency& a) { return a.revoked; });
  out << "registry:          " << path.string() << "\n"
      << "serial:            " << r.serial << "\n"
      << "issued:            " << TimeOrDash(r.issued_at) << "\n"
      << "expires:           " << TimeOrDash(r.expires_at) << "\n"
      << "authority key id:  " << r.authority_key_id << "\n"
      << "signature:         "
      << (file.signed_registry.signature.empty()
              ? "none: edited since last signed (run `relais registry sign`)"
              : "present, not checked here (run `relais registry verify`)")
      << "\n"
      << "agencies:          " << r.agencies.size() << " (" << revoked << " revoked)\n\n";

  std::vector<std::vector<std::string>> rows = {
      {"ID", "NAME", "KIND", "TERRITORY", "KEY IDS", "MAY EMIT", "RECEIVES", "REVOKED"}};
  for (const schema::Agency& a : r.agencies) {
    rows.push_back({a.id, a.display_name, schema::AgencyKindName(a.kind),
                    a.territory.empty() ? "-" : a.territory, KeyIds(a), JoinEventKinds(a.may_emit),
                    a.may_receive ? "yes" : "no",
                    a.revoked ? "yes " + TimeOrDash(a.revoked_at) : "no"});
  }
  std::vector<size_t> widths(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out << row[i];
      if (i + 1 < row.size()) out << std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out << "\n";
  }
  for (const schema::Agency& a : r.agencies) {
    if (!a.notice_without_consent.empty()) {
      out << "\n"
          << a.id << " may send notices without consent for: "
          << JoinReferralKinds(a.notice_without_consent);
    }
  }
  out << "\n";
}

void PrintRegistryJson(std::ostream& out, const RegistryFile& file) {
  const schema::Registry& r = file.registry;
  out << "{\"version\":" << r.version << ",\"serial\":" << r.serial
      << ",\"issued_at\":" << JsonTime(r.issued_at) << ",\"expires_at\":" << JsonTime(r.expires_at)
      << ",\"authority_key_id\":" << JsonString(r.authority_key_id)
      << ",\"signed\":" << (file.signed_registry.signature.empty() ? "false" : "true")
      << ",\"agencies\":[";
  for (size_t i = 0; i < r.agencies.size(); ++i) {
    const schema::Agency& a = r.agencies[i];
    out << (i ? "," : "") << "{\"id\":" << JsonString(a.id)
        << ",\"name\":" << JsonString(a.display_name)
        << ",\"kind\":" << JsonString(schema::AgencyKindName(a.kind))
        << ",\"territory\":" << JsonString(a.territory) << ",\"keys\":[";
    for (size_t k = 0; k < a.keys.size(); ++k) {
      const schema::AgencyKey& key = a.keys[k];
      out << (k ? "," : "") << "{\"key_id\":" << JsonString(key.key_id)
          << ",\"sign_public\":" << JsonString(base::HexEncode(key.sign_key))
          << ",\"seal_public\":" << JsonString(base::HexEncode(key.seal_key))
          << ",\"curve_public\":" << JsonString(base::HexEncode(key.curve_key))
          << ",\"curve_public_z85\":"
          << (key.curve_key.size() % 4 == 0 ? JsonString(crypto::Z85Encode(key.curve_key)) : "null")
          << ",\"valid_from\":" << JsonTime(key.valid_from)
          << ",\"valid_until\":" << JsonTime(key.valid_until) << "}";
    }
    out << "],\"may_emit\":"
        << JsonNames(a.may_emit, [](EventKind k) { return schema::EventKindName(k); })
        << ",\"may_receive\":" << (a.may_receive ? "true" : "false")
        << ",\"revoked\":" << (a.revoked ? "true" : "false")
        << ",\"revoked_at\":" << JsonTime(a.revoked_at) << ",\"notice_without_consent\":"
        << JsonNames(a.notice_without_consent,
                     [](schema::ReferralKind k) { return schema::ReferralKindName(k); })
        << "}";
  }
  out << "]}\n";
}

}  // namespace relais::tools
