// Plain C++ views of the envelope (schema/envelope.capnp). No Cap'n Proto types leak out of
// schema/: other modules see only these structs and the codec in schema/codec.h.
//
// The enums mirror the .capnp enums ordinal for ordinal (checked by static_asserts in codec.cc).
#ifndef RELAIS_SCHEMA_ENVELOPE_H_
#define RELAIS_SCHEMA_ENVELOPE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"

namespace relais::schema {

using base::Bytes;
using base::TimeMs;

enum class EventKind : uint16_t {
  kUnknown = 0,
  kReferral,
  kDeadlineChanged,
  kCancelled,
  kAccepted,
  kDeclined,
  kHandedOver,
  kPickedUp,
  kClosed,
  kConsentGranted,
  kConsentWithdrawn,
  kPurgeRequest,
  kPurgeReceipt,
  kReminder,
  kEscalation,
  kRupture,
  kOfferTaken,
};
constexpr int kEventKindCount = 17;

enum class ReferralKind : uint16_t {
  kNone = 0,
  kHospitalDischarge,
  kPrisonRelease,
  kAseExit,
  kTreveEnd,
  kMaternityExit,
  kOther,
};
constexpr int kReferralKindCount = 7;

enum class Tier : uint16_t { kNotice = 0, kReferral };
constexpr int kTierCount = 2;
enum class LegalBasis : uint16_t { kConsent = 0, kNoticeAllowed, kLegalObligation, kVitalInterest };
constexpr int kLegalBasisCount = 4;
enum class Purpose : uint16_t {
  kUnspecified = 0,
  kHousing,
  kHealthContinuity,
  kSocialSupport,
  kEmployment,
  kOther,
};
constexpr int kPurposeCount = 6;
enum class DeclineReason : uint16_t {
  kNone = 0,
  kNoCapacity,
  kNotEligible,
  kPersonUnreachable,
  kOther,
};
constexpr int kDeclineReasonCount = 5;
enum class ConsentMethod : uint16_t { kWritten = 0, kOral, kAssisted };
constexpr int kConsentMethodCount = 3;

// Stable snake_case names used in JSON, CLI flags, logs and docs ("hospital_discharge", ...).
// Parse* return std::nullopt for an unknown name. A value outside its enum's range (only possible
// through a cast) is named "invalid"; no Parse* ever returns it.
const char* EventKindName(EventKind k);
std::optional<EventKind> ParseEventKind(std::string_view name);
const char* ReferralKindName(ReferralKind k);
std::optional<ReferralKind> ParseReferralKind(std::string_view name);
const char* TierName(Tier t);
std::optional<Tier> ParseTier(std::string_view name);
const char* LegalBasisName(LegalBasis b);
std::optional<LegalBasis> ParseLegalBasis(std::string_view name);
const char* PurposeName(Purpose p);
std::optional<Purpose> ParsePurpose(std::string_view name);
const char* DeclineReasonName(DeclineReason r);
std::optional<DeclineReason> ParseDeclineReason(std::string_view name);
const char* ConsentMethodName(ConsentMethod m);
std::optional<ConsentMethod> ParseConsentMethod(std::string_view name);

constexpr size_t kEventIdSize = 16;
constexpr uint16_t kHeaderVersion = 1;

struct ConsentTerms {
  std::string consent_id;
  ConsentMethod method = ConsentMethod::kWritten;
  std::vector<Purpose> purposes;
  std::vector<std::string> recipient_agencies;
  std::vector<std::string> recipient_kinds;
  Tier tier = Tier::kReferral;
  TimeMs valid_from = 0;
  TimeMs valid_until = 0;
  TimeMs collected_at = 0;
  LegalBasis legal_basis = LegalBasis::kConsent;

  bool operator==(const ConsentTerms&) const = default;
};

// The clear header. Routed on by the broker; carries no directly identifying data.
struct Header {
  uint16_t version = kHeaderVersion;
  Bytes event_id;  // kEventIdSize bytes, UUIDv7
  EventKind kind = EventKind::kUnknown;
  ReferralKind referral_kind = ReferralKind::kNone;
  std::string case_ref;
  std::string emitter;
  std::string emitter_key_id;
  std::string actor;
  std::vector<std::string> recipients;
  std::string consent_ref;
  LegalBasis legal_basis = LegalBasis::kConsent;
  Tier tier = Tier::kReferral;
  Purpose purpose = Purpose::kUnspecified;
  TimeMs emitted_at = 0;
  TimeMs due_at = 0;
  Bytes in_reply_to;
  DeclineReason decline_reason = DeclineReason::kNone;
  std::optional<ConsentTerms> consent;  // set on consent_granted

  bool operator==(const Header&) const = default;
};

struct Wrap {
  std::string agency;
  std::string key_id;
  Bytes sealed_key;

  bool operator==(const Wrap&) const = default;
};

// What travels. `header` is the serialized Header exactly as signed; decode it with DecodeHeader.
struct Envelope {
  Bytes header;
  Bytes body;
  std::vector<Wrap> wraps;
  Bytes body_digest;
  Bytes wraps_digest;
  Bytes signature;

  bool operator==(const Envelope&) const = default;
};

}  // namespace relais::schema

#endif  // RELAIS_SCHEMA_ENVELOPE_H_
