// The fixture shared by the security tests (issue 11): a deployment with a hospital and two
// associations served by a real relaisd, plus helpers to talk to it as a hostile client.
#ifndef RELAIS_TESTS_SECURITY_SECURITY_FIXTURE_H_
#define RELAIS_TESTS_SECURITY_SECURITY_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "adapters/sdk/envelope_builder.h"
#include "broker/journal/reader.h"
#include "crypto/random.h"
#include "tests/harness/harness.h"
#include "tests/security/raw_dealer.h"

namespace relais::testing {

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    deployment_ = std::make_unique<Deployment>(dir_.path());
    AddHospitalAndAssociations(*deployment_, {"assoc-a", "assoc-b"});
    deployment_->Sign();
    broker_ = std::make_unique<BrokerProcess>(*deployment_);
    broker_->Start();
    hospital_ = deployment_->Identity("hospital");
    registry_ = deployment_->Registry();
    broker_curve_ = *sdk::BrokerCurveKey(registry_, base::SystemClock().NowMs());
  }

  std::unique_ptr<sdk::Client> Connect(const crypto::AgencyIdentity& id) {
    return ConnectClient(*deployment_, id, broker_->endpoint());
  }

  // A raw authenticated DEALER for a registered agency.
  std::unique_ptr<RawDealer> Raw(const crypto::AgencyIdentity& id) {
    return std::make_unique<RawDealer>(broker_->endpoint(), broker_curve_, id.pub.curve_public,
                                       id.curve_secret.View());
  }

  // Rows in the journal (its head seq).
  uint64_t JournalRows() {
    auto reader = journal::JournalReader::Open({broker_->journal(), ""});
    EXPECT_TRUE(reader) << reader.error().ToString();
    if (!reader) return 0;
    auto head = (*reader)->GetHead();
    EXPECT_TRUE(head);
    return head ? head->seq : 0;
  }

  // The broker still serves: a fresh referral from the hospital is acked ok.
  void ExpectBrokerServes() {
    ASSERT_TRUE(broker_->process()->Running()) << "relaisd died";
    auto hospital = Connect(hospital_);
    auto ok = hospital->Publish(MakeReferral(*deployment_, hospital_, {"assoc-a"}),
                                sdk::DeadlineAfter(std::chrono::seconds(10)));
    ASSERT_TRUE(ok) << ok.error().ToString();
    EXPECT_FALSE(ok->duplicate);
  }

  TempDir dir_;
  std::unique_ptr<Deployment> deployment_;
  std::unique_ptr<BrokerProcess> broker_;
  crypto::AgencyIdentity hospital_;
  schema::Registry registry_;
  base::Bytes broker_curve_;
};

}  // namespace relais::testing

#endif  // RELAIS_TESTS_SECURITY_SECURITY_FIXTURE_H_
