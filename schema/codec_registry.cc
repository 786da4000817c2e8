// Registry and SignedRegistry (schema/registry.capnp).
#include "schema/codec.h"
#include "schema/codec_internal.h"
#include "schema/registry.capnp.h"

namespace relais::schema {
namespace {

namespace w = wire;
using internal::DecodeContext;
using internal::ReadData;
using internal::ReadText;
using internal::SetData;
using internal::SetText;
using internal::SizeRule;

#define RELAIS_SAME_ORDINAL(cpp, capnp) \
  static_assert(static_cast<uint16_t>(cpp) == static_cast<uint16_t>(capnp), #cpp)
RELAIS_SAME_ORDINAL(AgencyKind::kHospital, w::AgencyKind::HOSPITAL);
RELAIS_SAME_ORDINAL(AgencyKind::kPrisonService, w::AgencyKind::PRISON_SERVICE);
RELAIS_SAME_ORDINAL(AgencyKind::kChildWelfare, w::AgencyKind::CHILD_WELFARE);
RELAIS_SAME_ORDINAL(AgencyKind::kEvictionPrevention, w::AgencyKind::EVICTION_PREVENTION);
RELAIS_SAME_ORDINAL(AgencyKind::kSiao, w::AgencyKind::SIAO);
RELAIS_SAME_ORDINAL(AgencyKind::kAssociation, w::AgencyKind::ASSOCIATION);
RELAIS_SAME_ORDINAL(AgencyKind::kShelter, w::AgencyKind::SHELTER);
RELAIS_SAME_ORDINAL(AgencyKind::kCoordinator, w::AgencyKind::COORDINATOR);
RELAIS_SAME_ORDINAL(AgencyKind::kAuditor, w::AgencyKind::AUDITOR);
RELAIS_SAME_ORDINAL(AgencyKind::kBroker, w::AgencyKind::BROKER);
static_assert(static_cast<int>(w::AgencyKind::BROKER) + 1 == kAgencyKindCount);
#undef RELAIS_SAME_ORDINAL

constexpr size_t kPublicKeySize = 32;
constexpr size_t kSignatureSize = 64;

void FillAgency(w::Agency::Builder b, const Agency& a) {
  SetText(a.id, [&](auto v) { b.setId(v); });
  SetText(a.display_name, [&](auto v) { b.setDisplayName(v); });
  b.setKind(static_cast<w::AgencyKind>(a.kind));
  SetText(a.territory, [&](auto v) { b.setTerritory(v); });
  if (!a.keys.empty()) {
    auto keys = b.initKeys(static_cast<unsigned>(a.keys.size()));
    for (unsigned i = 0; i < a.keys.size(); ++i) {
      const AgencyKey& key = a.keys[i];
      auto kb = keys[i];
      SetText(key.key_id, [&](auto v) { kb.setKeyId(v); });
      SetData(key.sign_key, [&](auto v) { kb.setSignKey(v); });
      SetData(key.seal_key, [&](auto v) { kb.setSealKey(v); });
      SetData(key.curve_key, [&](auto v) { kb.setCurveKey(v); });
      kb.setValidFrom(key.valid_from);
      kb.setValidUntil(key.valid_until);
    }
  }
  internal::SetEnumList<w::EventKind>(a.may_emit, [&](unsigned n) { return b.initMayEmit(n); });
  b.setMayReceive(a.may_receive);
  b.setRevoked(a.revoked);
  b.setRevokedAt(a.revoked_at);
  internal::SetEnumList<w::ReferralKind>(a.notice_without_consent,
                                         [&](unsigned n) { return b.initNoticeWithoutConsent(n); });
}

void FillRegistry(w::Registry::Builder b, const Registry& r) {
  b.setVersion(r.version);
  b.setSerial(r.serial);
  b.setIssuedAt(r.issued_at);
  b.setExpiresAt(r.expires_at);
  SetText(r.authority_key_id, [&](auto v) { b.setAuthorityKeyId(v); });
  if (!r.agencies.empty()) {
    auto agencies = b.initAgencies(static_cast<unsigned>(r.agencies.size()));
    for (unsigned i = 0; i < r.agencies.size(); ++i) FillAgency(agencies[i], r.agencies[i]);
  }
}

base::Status ReadAgencyKey(DecodeContext& c, w::AgencyKey::Reader r, AgencyKey& out) {
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "key_id", [&] { return r.getKeyId(); }, out.key_id));
  RELAIS_RETURN_IF_ERROR(ReadData(
      c, "sign_key", [&] { return r.getSignKey(); }, out.sign_key, SizeRule::kExact,
      kPublicKeySize));
  RELAIS_RETURN_IF_ERROR(ReadData(
      c, "seal_key", [&] { return r.getSealKey(); }, out.seal_key, SizeRule::kExact,
      kPublicKeySize));
  RELAIS_RETURN_IF_ERROR(ReadData(
      c, "curve_key", [&] { return r.getCurveKey(); }, out.curve_key, SizeRule::kExact,
      kPublicKeySize));
  out.valid_from = r.getValidFrom();
  out.valid_until = r.getValidUntil();
  return base::Ok();
}

base::Status ReadAgency(DecodeContext& c, w::Agency::Reader r, Agency& out) {
  const uint32_t max_list = c.limits().max_list_elements;
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "id", [&] { return r.getId(); }, out.id));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "display_name", [&] { return r.getDisplayName(); }, out.display_name));
  RELAIS_RETURN_IF_ERROR(internal::ReadEnum(c, "kind", r.getKind(), kAgencyKindCount, out.kind));
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "territory", [&] { return r.getTerritory(); }, out.territory));
  out.keys.clear();
  RELAIS_RETURN_IF_ERROR(internal::ReadList(
      c, "keys", [&] { return r.getKeys(); }, max_list,
      [&](auto list, unsigned i) { return ReadAgencyKey(c, list[i], out.keys.emplace_back()); }));
  RELAIS_RETURN_IF_ERROR(internal::ReadEnumList(
      c, "may_emit", [&] { return r.getMayEmit(); }, kEventKindCount, out.may_emit));
  out.may_receive = r.getMayReceive();
  out.revoked = r.getRevoked();
  out.revoked_at = r.getRevokedAt();
  return internal::ReadEnumList(
      c, "notice_without_consent", [&] { return r.getNoticeWithoutConsent(); }, kReferralKindCount,
      out.notice_without_consent);
}

base::Status ReadRegistry(DecodeContext& c, w::Registry::Reader r, Registry& out) {
  out.version = r.getVersion();
  out.serial = r.getSerial();
  out.issued_at = r.getIssuedAt();
  out.expires_at = r.getExpiresAt();
  RELAIS_RETURN_IF_ERROR(ReadText(
      c, "authority_key_id", [&] { return r.getAuthorityKeyId(); }, out.authority_key_id));
  out.agencies.clear();
  return internal::ReadList(
      c, "agencies", [&] { return r.getAgencies(); }, c.limits().max_list_elements,
      [&](auto list, unsigned i) { return ReadAgency(c, list[i], out.agencies.emplace_back()); });
}

base::Status ReadSignedRegistry(DecodeContext& c, w::SignedRegistry::Reader r,
                                SignedRegistry& out) {
  RELAIS_RETURN_IF_ERROR(ReadData(
      c, "registry", [&] { return r.getRegistry(); }, out.registry));
  if (out.registry.empty()) {
    c.Enter("registry");
    return c.Fail("empty");
  }
  // Empty while the registry is being edited: VerifySignedRegistry refuses it as unsigned.
  RELAIS_RETURN_IF_ERROR(ReadData(
      c, "signature", [&] { return r.getSignature(); }, out.signature, SizeRule::kEmptyOrExact,
      kSignatureSize));
  return ReadText(
      c, "authority_key_id", [&] { return r.getAuthorityKeyId(); }, out.authority_key_id);
}

}  // namespace

const Agency* Registry::Find(std::string_view agency_id) const {
  for (const Agency& agency : agencies) {
    if (agency.id == agency_id) return &agency;
  }
  return nullptr;
}

Agency* Registry::Find(std::string_view agency_id) {
  return const_cast<Agency*>(std::as_const(*this).Find(agency_id));
}

base::Bytes EncodeRegistry(const Registry& registry) {
  return internal::EncodeMessage<w::Registry>(
      [&](w::Registry::Builder b) { FillRegistry(b, registry); });
}

base::Result<Registry> DecodeRegistry(base::ByteView bytes, const DecodeLimits& limits) {
  return internal::DecodeMessage<w::Registry, Registry>("Registry", bytes, limits, ReadRegistry);
}

base::Bytes EncodeSignedRegistry(const SignedRegistry& signed_registry) {
  return internal::EncodeMessage<w::SignedRegistry>([&](w::SignedRegistry::Builder b) {
    SetData(signed_registry.registry, [&](auto v) { b.setRegistry(v); });
    SetData(signed_registry.signature, [&](auto v) { b.setSignature(v); });
    SetText(signed_registry.authority_key_id, [&](auto v) { b.setAuthorityKeyId(v); });
  });
}

base::Result<SignedRegistry> DecodeSignedRegistry(base::ByteView bytes,
                                                  const DecodeLimits& limits) {
  return internal::DecodeMessage<w::SignedRegistry, SignedRegistry>("SignedRegistry", bytes, limits,
                                                                    ReadSignedRegistry);
}

}  // namespace relais::schema
