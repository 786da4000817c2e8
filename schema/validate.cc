// ValidateHeader: the structural rules every header obeys (codec.h lists them in order).
#include <set>
#include <string>
#include <string_view>

#include "schema/codec.h"

namespace relais::schema {
namespace {

constexpr size_t kMaxHeaderTextBytes = 128;

base::Error Bad(std::string_view field, std::string_view why) {
  return base::InvalidInput("malformed_header",
                            "Header: " + std::string(field) + ": " + std::string(why));
}

// Valid UTF-8 (shortest form, no surrogates) without C0/C1 control characters or DEL.
bool IsPrintableUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (b < 0x80) {
      cp = b;
      len = 1;
    } else if ((b & 0xe0) == 0xc0) {
      cp = b & 0x1f;
      len = 2;
    } else if ((b & 0xf0) == 0xe0) {
      cp = b & 0x0f;
      len = 3;
    } else if ((b & 0xf8) == 0xf0) {
      cp = b & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      auto cont = static_cast<unsigned char>(s[i + k]);
      if ((cont & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cont & 0x3f);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return false;
    i += len;
  }
  return true;
}

base::Status CheckText(std::string_view field, const std::string& value, bool required) {
  if (value.empty()) {
    return required ? base::Status(Bad(field, "required")) : base::Ok();
  }
  if (value.size() > kMaxHeaderTextBytes) {
    return Bad(field, "longer than " + std::to_string(kMaxHeaderTextBytes) + " bytes");
  }
  if (!IsPrintableUtf8(value)) return Bad(field, "not printable UTF-8");
  return base::Ok();
}

template <typename E>
bool InRange(E value, int count) {
  return static_cast<int>(value) < count;
}

bool MayHaveNoRecipients(EventKind kind) {
  return kind == EventKind::kConsentGranted || kind == EventKind::kConsentWithdrawn ||
         kind == EventKind::kPurgeReceipt;
}

base::Status CheckRecipients(std::string_view field, const std::vector<std::string>& ids) {
  std::set<std::string_view> seen;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string where = std::string(field) + "[" + std::to_string(i) + "]";
    if (!IsValidAgencyId(ids[i])) return Bad(where, "not a valid agency id");
    if (!seen.insert(ids[i]).second) return Bad(where, "duplicate recipient");
  }
  return base::Ok();
}

base::Status CheckConsent(const ConsentTerms& t) {
  RELAIS_RETURN_IF_ERROR(CheckText("consent.consent_id", t.consent_id, /*required=*/true));
  if (!InRange(t.method, kConsentMethodCount)) return Bad("consent.method", "unknown value");
  for (size_t i = 0; i < t.purposes.size(); ++i) {
    if (!InRange(t.purposes[i], kPurposeCount)) {
      return Bad("consent.purposes[" + std::to_string(i) + "]", "unknown value");
    }
  }
  RELAIS_RETURN_IF_ERROR(CheckRecipients("consent.recipient_agencies", t.recipient_agencies));
  for (size_t i = 0; i < t.recipient_kinds.size(); ++i) {
    if (!ParseAgencyKind(t.recipient_kinds[i])) {
      return Bad("consent.recipient_kinds[" + std::to_string(i) + "]", "not an agency kind");
    }
  }
  if (!InRange(t.tier, kTierCount)) return Bad("consent.tier", "unknown value");
  if (!InRange(t.legal_basis, kLegalBasisCount)) {
    return Bad("consent.legal_basis", "unknown value");
  }
  if (t.valid_until != 0 && t.valid_until < t.valid_from) {
    return Bad("consent.valid_until", "before valid_from");
  }
  return base::Ok();
}

}  // namespace

base::Status ValidateHeader(const Header& h) {
  if (h.version != kHeaderVersion) {
    return Bad("version", "unsupported version " + std::to_string(h.version));
  }
  if (h.event_id.size() != kEventIdSize) {
    return Bad("event_id", "must be 16 bytes, got " + std::to_string(h.event_id.size()));
  }
  if (!InRange(h.kind, kEventKindCount)) return Bad("kind", "unknown value");
  if (h.kind == EventKind::kUnknown) return Bad("kind", "unset");
  if (!InRange(h.referral_kind, kReferralKindCount)) return Bad("referral_kind", "unknown value");
  if (h.kind == EventKind::kReferral && h.referral_kind == ReferralKind::kNone) {
    return Bad("referral_kind", "required for a referral");
  }
  if (h.kind != EventKind::kReferral && h.referral_kind != ReferralKind::kNone) {
    return Bad("referral_kind", "set on a non-referral kind");
  }
  RELAIS_RETURN_IF_ERROR(CheckText("case_ref", h.case_ref, /*required=*/true));
  if (!IsValidAgencyId(h.emitter)) return Bad("emitter", "not a valid agency id");
  RELAIS_RETURN_IF_ERROR(CheckText("emitter_key_id", h.emitter_key_id, /*required=*/true));
  RELAIS_RETURN_IF_ERROR(CheckText("actor", h.actor, /*required=*/false));
  RELAIS_RETURN_IF_ERROR(CheckText("consent_ref", h.consent_ref, /*required=*/false));
  if (h.recipients.empty() && !MayHaveNoRecipients(h.kind)) {
    return Bad("recipients", std::string("required for ") + EventKindName(h.kind));
  }
  RELAIS_RETURN_IF_ERROR(CheckRecipients("recipients", h.recipients));
  if (!InRange(h.legal_basis, kLegalBasisCount)) return Bad("legal_basis", "unknown value");
  if (!InRange(h.tier, kTierCount)) return Bad("tier", "unknown value");
  if (!InRange(h.purpose, kPurposeCount)) return Bad("purpose", "unknown value");
  if (h.emitted_at <= 0) return Bad("emitted_at", "must be positive");
  if (h.due_at < 0) return Bad("due_at", "negative");
  if (h.kind == EventKind::kDeadlineChanged && h.due_at == 0) {
    return Bad("due_at", "required for deadline_changed");
  }
  if (!h.in_reply_to.empty() && h.in_reply_to.size() != kEventIdSize) {
    return Bad("in_reply_to",
               "must be empty or 16 bytes, got " + std::to_string(h.in_reply_to.size()));
  }
  if (!InRange(h.decline_reason, kDeclineReasonCount)) {
    return Bad("decline_reason", "unknown value");
  }
  if (h.kind != EventKind::kDeclined && h.decline_reason != DeclineReason::kNone) {
    return Bad("decline_reason", "set on a kind other than declined");
  }
  if (h.kind == EventKind::kConsentGranted && !h.consent.has_value()) {
    return Bad("consent", "required for consent_granted");
  }
  if (h.kind != EventKind::kConsentGranted && h.consent.has_value()) {
    return Bad("consent", "set on a kind other than consent_granted");
  }
  if (h.consent.has_value()) RELAIS_RETURN_IF_ERROR(CheckConsent(*h.consent));
  return base::Ok();
}

}  // namespace relais::schema
