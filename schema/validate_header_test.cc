#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "schema/codec.h"
#include "schema/sample_messages.h"

namespace relais::schema {
namespace {

::testing::AssertionResult Rejects(const Header& h, const std::string& field_and_why) {
  base::Status s = ValidateHeader(h);
  if (s) return ::testing::AssertionFailure() << "accepted";
  if (s.error().kind != base::ErrorKind::kInvalidInput || s.error().code != "malformed_header") {
    return ::testing::AssertionFailure() << s.error().ToString();
  }
  const std::string want = "Header: " + field_and_why;
  if (s.error().message.rfind(want, 0) != 0) {
    return ::testing::AssertionFailure()
           << "\"" << s.error().message << "\" does not start with \"" << want << "\"";
  }
  return ::testing::AssertionSuccess();
}

TEST(ValidateHeaderTest, AcceptsTheSamples) {
  EXPECT_TRUE(ValidateHeader(samples::ReferralHeader()));
  EXPECT_TRUE(ValidateHeader(samples::ConsentHeader()));
}

TEST(ValidateHeaderTest, AcceptsEveryKindWithItsRequiredFields) {
  for (int k = 1; k < kEventKindCount; ++k) {
    Header h = samples::ReferralHeader();
    h.kind = static_cast<EventKind>(k);
    SCOPED_TRACE(EventKindName(h.kind));
    if (h.kind != EventKind::kReferral) h.referral_kind = ReferralKind::kNone;
    if (h.kind == EventKind::kDeclined) h.decline_reason = DeclineReason::kNoCapacity;
    if (h.kind == EventKind::kConsentGranted) h.consent = samples::ConsentHeader().consent;
    EXPECT_TRUE(ValidateHeader(h));
  }
}

TEST(ValidateHeaderTest, RecipientsMayBeEmptyOnlyForConsentAndPurgeReceipts) {
  for (EventKind kind :
       {EventKind::kConsentGranted, EventKind::kConsentWithdrawn, EventKind::kPurgeReceipt}) {
    Header h = samples::ReferralHeader();
    h.kind = kind;
    h.referral_kind = ReferralKind::kNone;
    h.recipients.clear();
    if (kind == EventKind::kConsentGranted) h.consent = samples::ConsentHeader().consent;
    EXPECT_TRUE(ValidateHeader(h)) << EventKindName(kind);
  }
  // Broker-emitted kinds are not exempt.
  for (EventKind kind :
       {EventKind::kReferral, EventKind::kAccepted, EventKind::kPurgeRequest, EventKind::kReminder,
        EventKind::kEscalation, EventKind::kRupture, EventKind::kOfferTaken}) {
    Header h = samples::ReferralHeader();
    h.kind = kind;
    if (kind != EventKind::kReferral) h.referral_kind = ReferralKind::kNone;
    h.recipients.clear();
    EXPECT_TRUE(Rejects(h, std::string("recipients: required for ") + EventKindName(kind)));
  }
}

TEST(ValidateHeaderTest, AcceptsNonAsciiPrintableText) {
  Header h = samples::ReferralHeader();
  h.actor = "assistante-sociale-Hélène";
  h.case_ref = "dossier-ü-🏠";
  EXPECT_TRUE(ValidateHeader(h));
}

struct Failure {
  const char* name;
  std::function<void(Header&)> mutate;
  const char* expected;  // "field: why" prefix
};

class ValidateHeaderFailureTest : public ::testing::TestWithParam<Failure> {};

TEST_P(ValidateHeaderFailureTest, NamesTheField) {
  Header h = samples::ReferralHeader();
  GetParam().mutate(h);
  EXPECT_TRUE(Rejects(h, GetParam().expected));
}

void ToConsent(Header& h) { h = samples::ConsentHeader(); }

const Failure kFailures[] = {
    {"VersionZero", [](Header& h) { h.version = 0; }, "version: unsupported version 0"},
    {"VersionTwo", [](Header& h) { h.version = 2; }, "version: unsupported version 2"},
    {"EventIdEmpty", [](Header& h) { h.event_id.clear(); }, "event_id: must be 16 bytes, got 0"},
    {"EventIdLong", [](Header& h) { h.event_id.resize(17); }, "event_id: must be 16 bytes"},
    {"KindUnknown", [](Header& h) { h.kind = EventKind::kUnknown; }, "kind: unset"},
    {"KindOutOfRange", [](Header& h) { h.kind = static_cast<EventKind>(99); },
     "kind: unknown value"},
    {"ReferralKindMissing", [](Header& h) { h.referral_kind = ReferralKind::kNone; },
     "referral_kind: required for a referral"},
    {"ReferralKindOnAccepted", [](Header& h) { h.kind = EventKind::kAccepted; },
     "referral_kind: set on a non-referral kind"},
    {"ReferralKindOutOfRange", [](Header& h) { h.referral_kind = static_cast<ReferralKind>(7); },
     "referral_kind: unknown value"},
    {"CaseRefEmpty", [](Header& h) { h.case_ref.clear(); }, "case_ref: required"},
    {"CaseRefTooLong", [](Header& h) { h.case_ref.assign(129, 'c'); },
     "case_ref: longer than 128 bytes"},
    {"CaseRefControlChar", [](Header& h) { h.case_ref = "c-1\n"; },
     "case_ref: not printable UTF-8"},
    {"CaseRefInvalidUtf8", [](Header& h) { h.case_ref = "c-\xc3"; },
     "case_ref: not printable UTF-8"},
    {"CaseRefOverlongUtf8", [](Header& h) { h.case_ref = "c-\xc0\xaf"; },
     "case_ref: not printable UTF-8"},
    {"CaseRefSurrogate", [](Header& h) { h.case_ref = "c-\xed\xa0\x80"; },
     "case_ref: not printable UTF-8"},
    {"CaseRefC1Control", [](Header& h) { h.case_ref = "c-\xc2\x85"; },
     "case_ref: not printable UTF-8"},
    {"EmitterEmpty", [](Header& h) { h.emitter.clear(); }, "emitter: not a valid agency id"},
    {"EmitterUpperCase", [](Header& h) { h.emitter = "APHP"; }, "emitter: not a valid agency id"},
    {"EmitterKeyIdEmpty", [](Header& h) { h.emitter_key_id.clear(); }, "emitter_key_id: required"},
    {"ActorWithNul", [](Header& h) { h.actor = std::string("pro\0x", 5); },
     "actor: not printable UTF-8"},
    {"ConsentRefTooLong", [](Header& h) { h.consent_ref.assign(200, 'r'); },
     "consent_ref: longer than 128 bytes"},
    {"RecipientEmptyId", [](Header& h) { h.recipients.push_back(""); },
     "recipients[2]: not a valid agency id"},
    {"RecipientBadId", [](Header& h) { h.recipients[0] = "SIAO 75"; },
     "recipients[0]: not a valid agency id"},
    {"RecipientDuplicate", [](Header& h) { h.recipients.push_back("siao-75"); },
     "recipients[2]: duplicate recipient"},
    {"LegalBasisOutOfRange", [](Header& h) { h.legal_basis = static_cast<LegalBasis>(4); },
     "legal_basis: unknown value"},
    {"TierOutOfRange", [](Header& h) { h.tier = static_cast<Tier>(2); }, "tier: unknown value"},
    {"PurposeOutOfRange", [](Header& h) { h.purpose = static_cast<Purpose>(6); },
     "purpose: unknown value"},
    {"EmittedAtZero", [](Header& h) { h.emitted_at = 0; }, "emitted_at: must be positive"},
    {"EmittedAtNegative", [](Header& h) { h.emitted_at = -5; }, "emitted_at: must be positive"},
    {"DueAtNegative", [](Header& h) { h.due_at = -1; }, "due_at: negative"},
    {"DeadlineChangedWithoutDueAt",
     [](Header& h) {
       h.kind = EventKind::kDeadlineChanged;
       h.referral_kind = ReferralKind::kNone;
       h.due_at = 0;
     },
     "due_at: required for deadline_changed"},
    {"InReplyToWrongSize", [](Header& h) { h.in_reply_to.assign(8, 1); },
     "in_reply_to: must be empty or 16 bytes, got 8"},
    {"DeclineReasonOnReferral", [](Header& h) { h.decline_reason = DeclineReason::kNoCapacity; },
     "decline_reason: set on a kind other than declined"},
    {"DeclineReasonOutOfRange", [](Header& h) { h.decline_reason = static_cast<DeclineReason>(5); },
     "decline_reason: unknown value"},
    {"ConsentMissing",
     [](Header& h) {
       ToConsent(h);
       h.consent.reset();
     },
     "consent: required for consent_granted"},
    {"ConsentOnReferral", [](Header& h) { h.consent = samples::ConsentHeader().consent; },
     "consent: set on a kind other than consent_granted"},
    {"ConsentIdEmpty",
     [](Header& h) {
       ToConsent(h);
       h.consent->consent_id.clear();
     },
     "consent.consent_id: required"},
    {"ConsentMethodOutOfRange",
     [](Header& h) {
       ToConsent(h);
       h.consent->method = static_cast<ConsentMethod>(3);
     },
     "consent.method: unknown value"},
    {"ConsentPurposeOutOfRange",
     [](Header& h) {
       ToConsent(h);
       h.consent->purposes.push_back(static_cast<Purpose>(6));
     },
     "consent.purposes[2]: unknown value"},
    {"ConsentRecipientAgencyInvalid",
     [](Header& h) {
       ToConsent(h);
       h.consent->recipient_agencies[1] = "-bad";
     },
     "consent.recipient_agencies[1]: not a valid agency id"},
    {"ConsentRecipientKindUnknown",
     [](Header& h) {
       ToConsent(h);
       h.consent->recipient_kinds.push_back("bakery");
     },
     "consent.recipient_kinds[2]: not an agency kind"},
    {"ConsentTierOutOfRange",
     [](Header& h) {
       ToConsent(h);
       h.consent->tier = static_cast<Tier>(5);
     },
     "consent.tier: unknown value"},
    {"ConsentLegalBasisOutOfRange",
     [](Header& h) {
       ToConsent(h);
       h.consent->legal_basis = static_cast<LegalBasis>(9);
     },
     "consent.legal_basis: unknown value"},
    {"ConsentValidityReversed",
     [](Header& h) {
       ToConsent(h);
       h.consent->valid_until = h.consent->valid_from - 1;
     },
     "consent.valid_until: before valid_from"},
};

INSTANTIATE_TEST_SUITE_P(AllFields, ValidateHeaderFailureTest, ::testing::ValuesIn(kFailures),
                         [](const ::testing::TestParamInfo<Failure>& info) {
                           return std::string(info.param.name);
                         });

TEST(ValidateHeaderTest, ConsentOpenEndedIsAccepted) {
  Header h = samples::ConsentHeader();
  h.consent->valid_until = 0;
  EXPECT_TRUE(ValidateHeader(h));
}

TEST(ValidateHeaderTest, ErrorNeverQuotesTheOffendingValue) {
  Header h = samples::ReferralHeader();
  h.case_ref = "Jean-Dupont-1970-01-01\x01";
  base::Status s = ValidateHeader(h);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message.find("Dupont"), std::string::npos);
}

TEST(ValidateHeaderTest, DecodedHeaderFromAnotherEmitterIsValidatedToo) {
  // Decoding is structural: a header that decodes can still fail validation.
  Header h = samples::ReferralHeader();
  h.recipients.clear();
  auto decoded = DecodeHeader(EncodeHeader(h));
  ASSERT_TRUE(decoded);
  EXPECT_TRUE(Rejects(*decoded, "recipients: required for referral"));
}

}  // namespace
}  // namespace relais::schema
