#include "adapters/inbox/fhir.h"

#include <gtest/gtest.h>

#include "adapters/inbox/test_events.h"
#include "adapters/sdk/json.h"
#include "crypto/secret.h"

namespace relais::inbox {
namespace {

using testing::kT0;
using testing::MakeEvent;
using testing::MakeReferral;

TEST(FhirTest, BundleHoldsServiceRequestAndTaskWithMappedStatus) {
  crypto::Init();
  auto referral = MakeReferral("c-one", 1, kT0 + 100 * base::kMsPerHour);
  auto accepted = MakeEvent(schema::EventKind::kAccepted, "c-one", 2, kT0 + 1, Direction::kOut);
  auto cases = BuildCases({referral, accepted});
  auto bundle = FhirBundle(cases[0], "assoc-a");
  ASSERT_TRUE(bundle) << bundle.error().ToString();
  // It is JSON (PrettyJson re-parses it).
  EXPECT_TRUE(sdk::PrettyJson(*bundle));
  for (const char* needle :
       {"\"resourceType\": \"Bundle\"", "\"type\": \"collection\"",
        "\"resourceType\": \"ServiceRequest\"", "\"resourceType\": \"Task\"",
        "\"status\": \"accepted\"", "\"status\": \"active\"", "\"intent\": \"order\"",
        "\"value\": \"c-one\"", "\"display\": \"Karim Durand\"", "\"display\": \"assoc-a\"",
        "Hôpital <Nord>"}) {
    EXPECT_NE(bundle->find(needle), std::string::npos) << needle << "\n" << *bundle;
  }
  std::string focus = "\"reference\": \"urn:uuid:" + crypto::FormatUuid(referral.header.event_id);
  EXPECT_NE(bundle->find(focus), std::string::npos);
}

TEST(FhirTest, StatusMapping) {
  EXPECT_STREQ(FhirTaskStatus(CaseState::kToAnswer), "requested");
  EXPECT_STREQ(FhirTaskStatus(CaseState::kDeclined), "rejected");
  EXPECT_STREQ(FhirTaskStatus(CaseState::kTakenByOther), "cancelled");
  EXPECT_STREQ(FhirTaskStatus(CaseState::kHandedOver), "in-progress");
  EXPECT_STREQ(FhirTaskStatus(CaseState::kPickedUp), "completed");
  EXPECT_STREQ(FhirServiceRequestStatus(CaseState::kCancelled), "revoked");
  EXPECT_STREQ(FhirServiceRequestStatus(CaseState::kClosed), "completed");
  EXPECT_STREQ(FhirServiceRequestStatus(CaseState::kAccepted), "active");
}

TEST(FhirTest, CaseWithoutReferralIsNotExported) {
  crypto::Init();
  auto cases = BuildCases({MakeEvent(schema::EventKind::kEscalation, "c-far", 1, kT0)});
  auto bundle = FhirBundle(cases[0], "siao");
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error().code, "no_referral");
}

}  // namespace
}  // namespace relais::inbox
