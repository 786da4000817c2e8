// Stable snake_case names of the schema enums, and agency id syntax.
//
// These names appear in JSON, CLI flags, logs, configuration files and docs: never rename one.
// Each is the capnp enumerant name in snake_case (schema_test checks that).
#include <array>
#include <string_view>

#include "schema/envelope.h"
#include "schema/registry.h"

namespace relais::schema {
namespace {

constexpr std::array<const char*, kEventKindCount> kEventKindNames = {
    "unknown",           "referral",      "deadline_changed", "cancelled", "accepted",
    "declined",          "handed_over",   "picked_up",        "closed",    "consent_granted",
    "consent_withdrawn", "purge_request", "purge_receipt",    "reminder",  "escalation",
    "rupture",           "offer_taken",
};
constexpr std::array<const char*, kReferralKindCount> kReferralKindNames = {
    "none",      "hospital_discharge", "prison_release", "ase_exit",
    "treve_end", "maternity_exit",     "other",
};
constexpr std::array<const char*, kTierCount> kTierNames = {"notice", "referral"};
constexpr std::array<const char*, kLegalBasisCount> kLegalBasisNames = {
    "consent", "notice_allowed", "legal_obligation", "vital_interest"};
constexpr std::array<const char*, kPurposeCount> kPurposeNames = {
    "unspecified", "housing", "health_continuity", "social_support", "employment", "other"};
constexpr std::array<const char*, kDeclineReasonCount> kDeclineReasonNames = {
    "none", "no_capacity", "not_eligible", "person_unreachable", "other"};
constexpr std::array<const char*, kConsentMethodCount> kConsentMethodNames = {"written", "oral",
                                                                              "assisted"};
constexpr std::array<const char*, kAgencyKindCount> kAgencyKindNames = {
    "hospital", "prison_service", "child_welfare", "eviction_prevention",
    "siao",     "association",    "shelter",       "coordinator",
    "auditor",  "broker",
};

template <typename E, size_t N>
const char* NameOf(const std::array<const char*, N>& names, E value) {
  auto index = static_cast<size_t>(value);
  return index < N ? names[index] : "invalid";
}

template <typename E, size_t N>
std::optional<E> Parse(const std::array<const char*, N>& names, std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (name == names[i]) return static_cast<E>(i);
  }
  return std::nullopt;
}

bool IsIdChar(char ch) {
  return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
         ch == '-';
}

}  // namespace

const char* EventKindName(EventKind k) { return NameOf(kEventKindNames, k); }
std::optional<EventKind> ParseEventKind(std::string_view name) {
  return Parse<EventKind>(kEventKindNames, name);
}
const char* ReferralKindName(ReferralKind k) { return NameOf(kReferralKindNames, k); }
std::optional<ReferralKind> ParseReferralKind(std::string_view name) {
  return Parse<ReferralKind>(kReferralKindNames, name);
}
const char* TierName(Tier t) { return NameOf(kTierNames, t); }
std::optional<Tier> ParseTier(std::string_view name) { return Parse<Tier>(kTierNames, name); }
const char* LegalBasisName(LegalBasis b) { return NameOf(kLegalBasisNames, b); }
std::optional<LegalBasis> ParseLegalBasis(std::string_view name) {
  return Parse<LegalBasis>(kLegalBasisNames, name);
}
const char* PurposeName(Purpose p) { return NameOf(kPurposeNames, p); }
std::optional<Purpose> ParsePurpose(std::string_view name) {
  return Parse<Purpose>(kPurposeNames, name);
}
const char* DeclineReasonName(DeclineReason r) { return NameOf(kDeclineReasonNames, r); }
std::optional<DeclineReason> ParseDeclineReason(std::string_view name) {
  return Parse<DeclineReason>(kDeclineReasonNames, name);
}
const char* ConsentMethodName(ConsentMethod m) { return NameOf(kConsentMethodNames, m); }
std::optional<ConsentMethod> ParseConsentMethod(std::string_view name) {
  return Parse<ConsentMethod>(kConsentMethodNames, name);
}
const char* AgencyKindName(AgencyKind k) { return NameOf(kAgencyKindNames, k); }
std::optional<AgencyKind> ParseAgencyKind(std::string_view name) {
  return Parse<AgencyKind>(kAgencyKindNames, name);
}

bool IsValidAgencyId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  if (id[0] == '.' || id[0] == '_' || id[0] == '-') return false;
  for (char ch : id) {
    if (!IsIdChar(ch)) return false;
  }
  return true;
}

}  // namespace relais::schema
