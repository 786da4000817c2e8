// Enum names, agency ids and registry lookups; the C++ enums against the Cap'n Proto schema.
#include <capnp/schema.h>
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "schema/codec.h"
#include "schema/envelope.capnp.h"
#include "schema/registry.capnp.h"
#include "schema/sample_messages.h"
#include "schema/wire.capnp.h"

namespace relais::schema {
namespace {

// "deadlineChanged" -> "deadline_changed".
std::string SnakeCase(std::string_view camel) {
  std::string out;
  for (char ch : camel) {
    if (std::isupper(static_cast<unsigned char>(ch))) {
      out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    } else {
      out += ch;
    }
  }
  return out;
}

// Every C++ value has the name of the capnp enumerant of the same ordinal, the counts agree, and
// Parse inverts Name.
template <typename CapnpEnum, typename CppEnum>
void ExpectMirrorsSchema(int count, const char* (*name)(CppEnum),
                         std::optional<CppEnum> (*parse)(std::string_view)) {
  auto enumerants = capnp::Schema::from<CapnpEnum>().getEnumerants();
  ASSERT_EQ(enumerants.size(), static_cast<unsigned>(count));
  for (unsigned i = 0; i < enumerants.size(); ++i) {
    auto value = static_cast<CppEnum>(i);
    std::string expected = SnakeCase(enumerants[i].getProto().getName().cStr());
    EXPECT_EQ(name(value), expected);
    ASSERT_TRUE(parse(expected).has_value()) << expected;
    EXPECT_EQ(*parse(expected), value);
  }
  EXPECT_STREQ(name(static_cast<CppEnum>(count)), "invalid");
  EXPECT_STREQ(name(static_cast<CppEnum>(0xffff)), "invalid");
  EXPECT_FALSE(parse("invalid").has_value());
  EXPECT_FALSE(parse("").has_value());
}

TEST(NamesTest, EnumsMirrorTheSchema) {
  ExpectMirrorsSchema<wire::EventKind>(kEventKindCount, EventKindName, ParseEventKind);
  ExpectMirrorsSchema<wire::ReferralKind>(kReferralKindCount, ReferralKindName, ParseReferralKind);
  ExpectMirrorsSchema<wire::Tier>(kTierCount, TierName, ParseTier);
  ExpectMirrorsSchema<wire::LegalBasis>(kLegalBasisCount, LegalBasisName, ParseLegalBasis);
  ExpectMirrorsSchema<wire::Purpose>(kPurposeCount, PurposeName, ParsePurpose);
  ExpectMirrorsSchema<wire::DeclineReason>(kDeclineReasonCount, DeclineReasonName,
                                           ParseDeclineReason);
  ExpectMirrorsSchema<wire::ConsentMethod>(kConsentMethodCount, ConsentMethodName,
                                           ParseConsentMethod);
  ExpectMirrorsSchema<wire::AgencyKind>(kAgencyKindCount, AgencyKindName, ParseAgencyKind);
  ExpectMirrorsSchema<wire::AckStatus>(kAckStatusCount, AckStatusName, ParseAckStatus);
}

TEST(NamesTest, UnionsMirrorTheVariants) {
  EXPECT_EQ(capnp::Schema::from<wire::Frame>().getUnionFields().size(), std::variant_size_v<Frame>);
  EXPECT_EQ(capnp::Schema::from<wire::Subscribe::Resume>().getUnionFields().size(), 3u);
  EXPECT_EQ(capnp::Schema::from<wire::AdminRequest>().getUnionFields().size(), 4u);
}

TEST(NamesTest, StableNames) {
  EXPECT_STREQ(EventKindName(EventKind::kReferral), "referral");
  EXPECT_STREQ(EventKindName(EventKind::kDeadlineChanged), "deadline_changed");
  EXPECT_STREQ(EventKindName(EventKind::kConsentGranted), "consent_granted");
  EXPECT_STREQ(EventKindName(EventKind::kOfferTaken), "offer_taken");
  EXPECT_STREQ(ReferralKindName(ReferralKind::kHospitalDischarge), "hospital_discharge");
  EXPECT_STREQ(ReferralKindName(ReferralKind::kPrisonRelease), "prison_release");
  EXPECT_STREQ(ReferralKindName(ReferralKind::kAseExit), "ase_exit");
  EXPECT_STREQ(ReferralKindName(ReferralKind::kTreveEnd), "treve_end");
  EXPECT_STREQ(ReferralKindName(ReferralKind::kMaternityExit), "maternity_exit");
  EXPECT_STREQ(ReferralKindName(ReferralKind::kOther), "other");
  EXPECT_STREQ(TierName(Tier::kNotice), "notice");
  EXPECT_STREQ(TierName(Tier::kReferral), "referral");
  EXPECT_STREQ(LegalBasisName(LegalBasis::kConsent), "consent");
  EXPECT_STREQ(LegalBasisName(LegalBasis::kNoticeAllowed), "notice_allowed");
  EXPECT_STREQ(LegalBasisName(LegalBasis::kLegalObligation), "legal_obligation");
  EXPECT_STREQ(LegalBasisName(LegalBasis::kVitalInterest), "vital_interest");
  EXPECT_STREQ(PurposeName(Purpose::kHousing), "housing");
  EXPECT_STREQ(PurposeName(Purpose::kHealthContinuity), "health_continuity");
  EXPECT_STREQ(PurposeName(Purpose::kSocialSupport), "social_support");
  EXPECT_STREQ(PurposeName(Purpose::kEmployment), "employment");
  EXPECT_STREQ(DeclineReasonName(DeclineReason::kNoCapacity), "no_capacity");
  EXPECT_STREQ(DeclineReasonName(DeclineReason::kNotEligible), "not_eligible");
  EXPECT_STREQ(DeclineReasonName(DeclineReason::kPersonUnreachable), "person_unreachable");
  EXPECT_STREQ(ConsentMethodName(ConsentMethod::kWritten), "written");
  EXPECT_STREQ(ConsentMethodName(ConsentMethod::kOral), "oral");
  EXPECT_STREQ(ConsentMethodName(ConsentMethod::kAssisted), "assisted");
  EXPECT_STREQ(AgencyKindName(AgencyKind::kPrisonService), "prison_service");
  EXPECT_STREQ(AgencyKindName(AgencyKind::kChildWelfare), "child_welfare");
  EXPECT_STREQ(AgencyKindName(AgencyKind::kEvictionPrevention), "eviction_prevention");
  EXPECT_STREQ(AckStatusName(AckStatus::kTransient), "transient");
}

TEST(NamesTest, ParseIsExactAndCaseSensitive) {
  EXPECT_FALSE(ParseEventKind("Referral"));
  EXPECT_FALSE(ParseEventKind("deadline-changed"));
  EXPECT_FALSE(ParseEventKind("referral "));
  EXPECT_FALSE(ParseReferralKind("hospitalDischarge"));
  EXPECT_FALSE(ParseAgencyKind("prison"));
  EXPECT_EQ(ParseEventKind("unknown"), EventKind::kUnknown);
}

TEST(AgencyIdTest, AcceptsTheDocumentedAlphabet) {
  EXPECT_TRUE(IsValidAgencyId("aphp-hopital-nord"));
  EXPECT_TRUE(IsValidAgencyId("siao.75"));
  EXPECT_TRUE(IsValidAgencyId("0ase_93"));
  EXPECT_TRUE(IsValidAgencyId("a"));
  EXPECT_TRUE(IsValidAgencyId(std::string(64, 'x')));
}

TEST(AgencyIdTest, RejectsEverythingElse) {
  EXPECT_FALSE(IsValidAgencyId(""));
  EXPECT_FALSE(IsValidAgencyId(std::string(65, 'x')));
  EXPECT_FALSE(IsValidAgencyId("-siao"));
  EXPECT_FALSE(IsValidAgencyId(".siao"));
  EXPECT_FALSE(IsValidAgencyId("_siao"));
  EXPECT_FALSE(IsValidAgencyId("SIAO"));
  EXPECT_FALSE(IsValidAgencyId("siao 75"));
  EXPECT_FALSE(IsValidAgencyId("siao/75"));
  EXPECT_FALSE(IsValidAgencyId("hôpital"));
  EXPECT_FALSE(IsValidAgencyId(std::string("siao\0x", 6)));
}

TEST(RegistryTest, FindsAgenciesById) {
  Registry r = samples::FullRegistry();
  const Registry& cr = r;
  ASSERT_NE(cr.Find("association-relais"), nullptr);
  EXPECT_EQ(cr.Find("association-relais")->kind, AgencyKind::kAssociation);
  Agency* mutable_agency = r.Find("aphp-hopital-nord");
  ASSERT_NE(mutable_agency, nullptr);
  mutable_agency->revoked = true;
  EXPECT_TRUE(r.agencies[0].revoked);
}

TEST(RegistryTest, FindReturnsNullForUnknownIds) {
  Registry r = samples::FullRegistry();
  EXPECT_EQ(r.Find("nobody"), nullptr);
  EXPECT_EQ(r.Find(""), nullptr);
  EXPECT_EQ(r.Find("APHP-HOPITAL-NORD"), nullptr);
  EXPECT_EQ(Registry{}.Find("aphp-hopital-nord"), nullptr);
}

}  // namespace
}  // namespace relais::schema
