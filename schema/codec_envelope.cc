// Header and Envelope (schema/envelope.capnp).
#include "schema/codec.h"
#include "schema/codec_internal.h"
#include "schema/envelope.capnp.h"

namespace relais::schema {
namespace {

namespace w = wire;
using internal::DecodeContext;
using internal::SizeRule;

// The C++ enums mirror the Cap'n Proto enums ordinal for ordinal. The last enumerant pins the
// count; a capnp enumerant added at the end is caught by schema_test (EnumCountsMatchSchema).
#define RELAIS_SAME_ORDINAL(cpp, capnp) \
  static_assert(static_cast<uint16_t>(cpp) == static_cast<uint16_t>(capnp), #cpp)

RELAIS_SAME_ORDINAL(EventKind::kUnknown, w::EventKind::UNKNOWN);
RELAIS_SAME_ORDINAL(EventKind::kReferral, w::EventKind::REFERRAL);
RELAIS_SAME_ORDINAL(EventKind::kDeadlineChanged, w::EventKind::DEADLINE_CHANGED);
RELAIS_SAME_ORDINAL(EventKind::kCancelled, w::EventKind::CANCELLED);
RELAIS_SAME_ORDINAL(EventKind::kAccepted, w::EventKind::ACCEPTED);
RELAIS_SAME_ORDINAL(EventKind::kDeclined, w::EventKind::DECLINED);
RELAIS_SAME_ORDINAL(EventKind::kHandedOver, w::EventKind::HANDED_OVER);
RELAIS_SAME_ORDINAL(EventKind::kPickedUp, w::EventKind::PICKED_UP);
RELAIS_SAME_ORDINAL(EventKind::kClosed, w::EventKind::CLOSED);
RELAIS_SAME_ORDINAL(EventKind::kConsentGranted, w::EventKind::CONSENT_GRANTED);
RELAIS_SAME_ORDINAL(EventKind::kConsentWithdrawn, w::EventKind::CONSENT_WITHDRAWN);
RELAIS_SAME_ORDINAL(EventKind::kPurgeRequest, w::EventKind::PURGE_REQUEST);
RELAIS_SAME_ORDINAL(EventKind::kPurgeReceipt, w::EventKind::PURGE_RECEIPT);
RELAIS_SAME_ORDINAL(EventKind::kReminder, w::EventKind::REMINDER);
RELAIS_SAME_ORDINAL(EventKind::kEscalation, w::EventKind::ESCALATION);
RELAIS_SAME_ORDINAL(EventKind::kRupture, w::EventKind::RUPTURE);
RELAIS_SAME_ORDINAL(EventKind::kOfferTaken, w::EventKind::OFFER_TAKEN);
static_assert(static_cast<int>(w::EventKind::OFFER_TAKEN) + 1 == kEventKindCount);

RELAIS_SAME_ORDINAL(ReferralKind::kNone, w::ReferralKind::NONE);
RELAIS_SAME_ORDINAL(ReferralKind::kHospitalDischarge, w::ReferralKind::HOSPITAL_DISCHARGE);
RELAIS_SAME_ORDINAL(ReferralKind::kPrisonRelease, w::ReferralKind::PRISON_RELEASE);
RELAIS_SAME_ORDINAL(ReferralKind::kAseExit, w::ReferralKind::ASE_EXIT);
RELAIS_SAME_ORDINAL(ReferralKind::kTreveEnd, w::ReferralKind::TREVE_END);
RELAIS_SAME_ORDINAL(ReferralKind::kMaternityExit, w::ReferralKind::MATERNITY_EXIT);
RELAIS_SAME_ORDINAL(ReferralKind::kOther, w::ReferralKind::OTHER);
static_assert(static_cast<int>(w::ReferralKind::OTHER) + 1 == kReferralKindCount);

RELAIS_SAME_ORDINAL(Tier::kNotice, w::Tier::NOTICE);
RELAIS_SAME_ORDINAL(Tier::kReferral, w::Tier::REFERRAL);
static_assert(static_cast<int>(w::Tier::REFERRAL) + 1 == kTierCount);

RELAIS_SAME_ORDINAL(LegalBasis::kConsent, w::LegalBasis::CONSENT);
RELAIS_SAME_ORDINAL(LegalBasis::kNoticeAllowed, w::LegalBasis::NOTICE_ALLOWED);
RELAIS_SAME_ORDINAL(LegalBasis::kLegalObligation, w::LegalBasis::LEGAL_OBLIGATION);
RELAIS_SAME_ORDINAL(LegalBasis::kVitalInterest, w::LegalBasis::VITAL_INTEREST);
static_assert(static_cast<int>(w::LegalBasis::VITAL_INTEREST) + 1 == kLegalBasisCount);

RELAIS_SAME_ORDINAL(Purpose::kUnspecified, w::Purpose::UNSPECIFIED);
RELAIS_SAME_ORDINAL(Purpose::kHousing, w::Purpose::HOUSING);
RELAIS_SAME_ORDINAL(Purpose::kHealthContinuity, w::Purpose::HEALTH_CONTINUITY);
RELAIS_SAME_ORDINAL(Purpose::kSocialSupport, w::Purpose::SOCIAL_SUPPORT);
RELAIS_SAME_ORDINAL(Purpose::kEmployment, w::Purpose::EMPLOYMENT);
RELAIS_SAME_ORDINAL(Purpose::kOther, w::Purpose::OTHER);
static_assert(static_cast<int>(w::Purpose::OTHER) + 1 == kPurposeCount);

RELAIS_SAME_ORDINAL(DeclineReason::kNone, w::DeclineReason::NONE);
RELAIS_SAME_ORDINAL(DeclineReason::kNoCapacity, w::DeclineReason::NO_CAPACITY);
RELAIS_SAME_ORDINAL(DeclineReason::kNotEligible, w::DeclineReason::NOT_ELIGIBLE);
RELAIS_SAME_ORDINAL(DeclineReason::kPersonUnreachable, w::DeclineReason::PERSON_UNREACHABLE);
RELAIS_SAME_ORDINAL(DeclineReason::kOther, w::DeclineReason::OTHER);
static_assert(static_cast<int>(w::DeclineReason::OTHER) + 1 == kDeclineReasonCount);

RELAIS_SAME_ORDINAL(ConsentMethod::kWritten, w::ConsentMethod::WRITTEN);
RELAIS_SAME_ORDINAL(ConsentMethod::kOral, w::ConsentMethod::ORAL);
RELAIS_SAME_ORDINAL(ConsentMethod::kAssisted, w::ConsentMethod::ASSISTED);
static_assert(static_cast<int>(w::ConsentMethod::ASSISTED) + 1 == kConsentMethodCount);

#undef RELAIS_SAME_ORDINAL

constexpr size_t kDigestSize = 32;
constexpr size_t kSignatureSize = 64;

template <typename T>
auto Capnp(T value) {
  if constexpr (std::is_same_v<T, EventKind>) return static_cast<w::EventKind>(value);
  if constexpr (std::is_same_v<T, ReferralKind>) return static_cast<w::ReferralKind>(value);
  if constexpr (std::is_same_v<T, Tier>) return static_cast<w::Tier>(value);
  if constexpr (std::is_same_v<T, LegalBasis>) return static_cast<w::LegalBasis>(value);
  if constexpr (std::is_same_v<T, Purpose>) return static_cast<w::Purpose>(value);
  if constexpr (std::is_same_v<T, DeclineReason>) return static_cast<w::DeclineReason>(value);
  if constexpr (std::is_same_v<T, ConsentMethod>) return static_cast<w::ConsentMethod>(value);
}

void FillConsentTerms(w::ConsentTerms::Builder b, const ConsentTerms& t) {
  internal::SetText(t.consent_id, [&](auto v) { b.setConsentId(v); });
  b.setMethod(Capnp(t.method));
  internal::SetEnumList<w::Purpose>(t.purposes, [&](unsigned n) { return b.initPurposes(n); });
  internal::SetTextList(t.recipient_agencies,
                        [&](unsigned n) { return b.initRecipientAgencies(n); });
  internal::SetTextList(t.recipient_kinds, [&](unsigned n) { return b.initRecipientKinds(n); });
  b.setTier(Capnp(t.tier));
  b.setValidFrom(t.valid_from);
  b.setValidUntil(t.valid_until);
  b.setCollectedAt(t.collected_at);
  b.setLegalBasis(Capnp(t.legal_basis));
}

base::Status ReadConsentTerms(DecodeContext& c, w::ConsentTerms::Reader r, ConsentTerms& out) {
  const DecodeLimits& limits = c.limits();
  RELAIS_RETURN_IF_ERROR(internal::ReadText(
      c, "consent_id", [&] { return r.getConsentId(); }, out.consent_id));
  RELAIS_RETURN_IF_ERROR(
      internal::ReadEnum(c, "method", r.getMethod(), kConsentMethodCount, out.method));
  RELAIS_RETURN_IF_ERROR(internal::ReadEnumList(
      c, "purposes", [&] { return r.getPurposes(); }, kPurposeCount, out.purposes));
  RELAIS_RETURN_IF_ERROR(internal::ReadTextList(
      c, "recipient_agencies", [&] { return r.getRecipientAgencies(); }, limits.max_recipients,
      out.recipient_agencies));
  RELAIS_RETURN_IF_ERROR(internal::ReadTextList(
      c, "recipient_kinds", [&] { return r.getRecipientKinds(); }, limits.max_list_elements,
      out.recipient_kinds));
  RELAIS_RETURN_IF_ERROR(internal::ReadEnum(c, "tier", r.getTier(), kTierCount, out.tier));
  out.valid_from = r.getValidFrom();
  out.valid_until = r.getValidUntil();
  out.collected_at = r.getCollectedAt();
  return internal::ReadEnum(c, "legal_basis", r.getLegalBasis(), kLegalBasisCount, out.legal_basis);
}

void FillHeader(w::Header::Builder b, const Header& h) {
  b.setVersion(h.version);
  internal::SetData(h.event_id, [&](auto v) { b.setEventId(v); });
  b.setKind(Capnp(h.kind));
  b.setReferralKind(Capnp(h.referral_kind));
  internal::SetText(h.case_ref, [&](auto v) { b.setCaseRef(v); });
  internal::SetText(h.emitter, [&](auto v) { b.setEmitter(v); });
  internal::SetText(h.emitter_key_id, [&](auto v) { b.setEmitterKeyId(v); });
  internal::SetText(h.actor, [&](auto v) { b.setActor(v); });
  internal::SetTextList(h.recipients, [&](unsigned n) { return b.initRecipients(n); });
  internal::SetText(h.consent_ref, [&](auto v) { b.setConsentRef(v); });
  b.setLegalBasis(Capnp(h.legal_basis));
  b.setTier(Capnp(h.tier));
  b.setPurpose(Capnp(h.purpose));
  b.setEmittedAt(h.emitted_at);
  b.setDueAt(h.due_at);
  internal::SetData(h.in_reply_to, [&](auto v) { b.setInReplyTo(v); });
  b.setDeclineReason(Capnp(h.decline_reason));
  if (h.consent.has_value()) FillConsentTerms(b.initConsent(), *h.consent);
}

base::Status ReadHeader(DecodeContext& c, w::Header::Reader r, Header& out) {
  const DecodeLimits& limits = c.limits();
  out.version = r.getVersion();
  RELAIS_RETURN_IF_ERROR(internal::ReadData(
      c, "event_id", [&] { return r.getEventId(); }, out.event_id, SizeRule::kExact, kEventIdSize));
  RELAIS_RETURN_IF_ERROR(internal::ReadEnum(c, "kind", r.getKind(), kEventKindCount, out.kind));
  RELAIS_RETURN_IF_ERROR(internal::ReadEnum(c, "referral_kind", r.getReferralKind(),
                                            kReferralKindCount, out.referral_kind));
  RELAIS_RETURN_IF_ERROR(internal::ReadText(
      c, "case_ref", [&] { return r.getCaseRef(); }, out.case_ref));
  RELAIS_RETURN_IF_ERROR(internal::ReadText(
      c, "emitter", [&] { return r.getEmitter(); }, out.emitter));
  RELAIS_RETURN_IF_ERROR(internal::ReadText(
      c, "emitter_key_id", [&] { return r.getEmitterKeyId(); }, out.emitter_key_id));
  RELAIS_RETURN_IF_ERROR(internal::ReadText(
      c, "actor", [&] { return r.getActor(); }, out.actor));
  RELAIS_RETURN_IF_ERROR(internal::ReadTextList(
      c, "recipients", [&] { return r.getRecipients(); }, limits.max_recipients, out.recipients));
  RELAIS_RETURN_IF_ERROR(internal::ReadText(
      c, "consent_ref", [&] { return r.getConsentRef(); }, out.consent_ref));
  RELAIS_RETURN_IF_ERROR(
      internal::ReadEnum(c, "legal_basis", r.getLegalBasis(), kLegalBasisCount, out.legal_basis));
  RELAIS_RETURN_IF_ERROR(internal::ReadEnum(c, "tier", r.getTier(), kTierCount, out.tier));
  RELAIS_RETURN_IF_ERROR(
      internal::ReadEnum(c, "purpose", r.getPurpose(), kPurposeCount, out.purpose));
  out.emitted_at = r.getEmittedAt();
  out.due_at = r.getDueAt();
  RELAIS_RETURN_IF_ERROR(internal::ReadData(
      c, "in_reply_to", [&] { return r.getInReplyTo(); }, out.in_reply_to, SizeRule::kEmptyOrExact,
      kEventIdSize));
  RELAIS_RETURN_IF_ERROR(internal::ReadEnum(c, "decline_reason", r.getDeclineReason(),
                                            kDeclineReasonCount, out.decline_reason));
  out.consent.reset();
  if (r.hasConsent()) {
    out.consent.emplace();
    RELAIS_RETURN_IF_ERROR(internal::ReadStruct(
        c, "consent", [&] { return r.getConsent(); },
        [&](w::ConsentTerms::Reader cr) { return ReadConsentTerms(c, cr, *out.consent); }));
  }
  return base::Ok();
}

}  // namespace

namespace internal {

void FillEnvelope(w::Envelope::Builder b, const Envelope& e) {
  SetData(e.header, [&](auto v) { b.setHeader(v); });
  SetData(e.body, [&](auto v) { b.setBody(v); });
  if (!e.wraps.empty()) {
    auto wraps = b.initWraps(static_cast<unsigned>(e.wraps.size()));
    for (unsigned i = 0; i < e.wraps.size(); ++i) {
      const Wrap& wrap = e.wraps[i];
      auto wb = wraps[i];
      SetText(wrap.agency, [&](auto v) { wb.setAgency(v); });
      SetText(wrap.key_id, [&](auto v) { wb.setKeyId(v); });
      SetData(wrap.sealed_key, [&](auto v) { wb.setSealedKey(v); });
    }
  }
  SetData(e.body_digest, [&](auto v) { b.setBodyDigest(v); });
  SetData(e.wraps_digest, [&](auto v) { b.setWrapsDigest(v); });
  SetData(e.signature, [&](auto v) { b.setSignature(v); });
}

base::Status ReadEnvelope(DecodeContext& c, w::Envelope::Reader r, Envelope& out) {
  RELAIS_RETURN_IF_ERROR(ReadData(
      c, "header", [&] { return r.getHeader(); }, out.header));
  RELAIS_RETURN_IF_ERROR(ReadData(
      c, "body", [&] { return r.getBody(); }, out.body));
  RELAIS_RETURN_IF_ERROR(ReadListInto(
      c, "wraps", [&] { return r.getWraps(); }, c.limits().max_recipients, out.wraps,
      [&](auto list, unsigned i, Wrap& wrap) -> base::Status {
        w::Wrap::Reader wr = list[i];
        RELAIS_RETURN_IF_ERROR(ReadText(
            c, "agency", [&] { return wr.getAgency(); }, wrap.agency));
        RELAIS_RETURN_IF_ERROR(ReadText(
            c, "key_id", [&] { return wr.getKeyId(); }, wrap.key_id));
        return ReadData(
            c, "sealed_key", [&] { return wr.getSealedKey(); }, wrap.sealed_key);
      }));
  RELAIS_RETURN_IF_ERROR(ReadData(
      c, "body_digest", [&] { return r.getBodyDigest(); }, out.body_digest, SizeRule::kEmptyOrExact,
      kDigestSize));
  RELAIS_RETURN_IF_ERROR(ReadData(
      c, "wraps_digest", [&] { return r.getWrapsDigest(); }, out.wraps_digest,
      SizeRule::kEmptyOrExact, kDigestSize));
  return ReadData(
      c, "signature", [&] { return r.getSignature(); }, out.signature, SizeRule::kEmptyOrExact,
      kSignatureSize);
}

}  // namespace internal

base::Bytes EncodeHeader(const Header& header) {
  return internal::EncodeMessage<w::Header>([&](w::Header::Builder b) { FillHeader(b, header); });
}

base::Result<Header> DecodeHeader(base::ByteView bytes, const DecodeLimits& limits) {
  return internal::DecodeMessage<w::Header, Header>("Header", bytes, limits, ReadHeader);
}

base::Bytes EncodeEnvelope(const Envelope& envelope) {
  return internal::EncodeMessage<w::Envelope>(
      [&](w::Envelope::Builder b) { internal::FillEnvelope(b, envelope); });
}

base::Result<Envelope> DecodeEnvelope(base::ByteView bytes, const DecodeLimits& limits) {
  return internal::DecodeMessage<w::Envelope, Envelope>("Envelope", bytes, limits,
                                                        internal::ReadEnvelope);
}

}  // namespace relais::schema
