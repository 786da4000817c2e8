#include "adapters/hospital/adt_processor.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "adapters/sdk/envelope_builder.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "schema/codec.h"

namespace relais::hospital {
namespace {

constexpr base::TimeMs kIssued = 1'890'000'000'000;  // 2029-11
constexpr base::TimeMs kNow = 1'893'456'000'000;     // 2030-01-01T00:00:00Z

schema::Agency MakeAgency(const crypto::AgencyIdentity& id, schema::AgencyKind kind) {
  schema::Agency a;
  a.id = id.pub.agency_id;
  a.display_name = id.pub.agency_id;
  a.kind = kind;
  a.keys.push_back(schema::AgencyKey{id.pub.key_id, id.pub.sign_public, id.pub.seal_public,
                                     id.pub.curve_public, kIssued, 0});
  return a;
}

std::string Seg(std::string name, std::map<int, std::string> values) {
  int last = values.empty() ? 0 : values.rbegin()->first;
  for (int i = 1; i <= last; ++i) name += "|" + (values.count(i) ? values[i] : std::string());
  return name + "\r";
}

std::string Adt(const std::string& trigger, const std::string& control, const std::string& ipp,
                std::map<int, std::string> pv1 = {}, std::map<int, std::string> pv2 = {},
                const std::string& status = "VALI", const std::string& facility = "CHU") {
  pv1[19] = "V1";
  return "MSH|^~\\&|SIH|" + facility + "|RELAIS|CHU|20300101||ADT^" + trigger + "|" + control +
         "|P|2.5\r" + Seg("EVN", {{1, trigger}}) +
         Seg("PID", {{3, ipp + "^^^CHU^PI~1700102123456^^^ASIP&1.2.250.1.213.1.4.8&ISO^INS"},
                     {5, "DUPONT^Jean^^^^^L"},
                     {7, "19700102"},
                     {32, status}}) +
         Seg("PV1", pv1) + Seg("PV2", pv2);
}

class ProcessorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    setenv("TZ", "UTC", 1);
    hospital_ = crypto::GenerateIdentity("hospital", kIssued);
    a_ = crypto::GenerateIdentity("assoc-a", kIssued);
    b_ = crypto::GenerateIdentity("assoc-b", kIssued);
    auto broker = crypto::GenerateIdentity("relaisd", kIssued);
    registry_.serial = 1;
    registry_.issued_at = kIssued;
    registry_.expires_at = kIssued + 365 * base::kMsPerDay;
    registry_.agencies.push_back(MakeAgency(hospital_, schema::AgencyKind::kHospital));
    using K = schema::EventKind;
    registry_.agencies.back().may_emit = {K::kReferral,   K::kCancelled, K::kDeadlineChanged,
                                          K::kHandedOver, K::kClosed,    K::kConsentGranted};
    for (const auto* r : {&a_, &b_}) {
      registry_.agencies.push_back(MakeAgency(*r, schema::AgencyKind::kAssociation));
      registry_.agencies.back().may_receive = true;
    }
    registry_.agencies.push_back(MakeAgency(broker, schema::AgencyKind::kBroker));
    std::string tmpl = (std::filesystem::path(::testing::TempDir()) / "hosp-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto store = LocalStore::Open(dir_ / "hospital.db");
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
    processor_ = std::make_unique<AdtProcessor>(
        *store_, Emitter{&registry_, &hospital_, &clock_, schema::Contact{"AS", "", "", "", ""}});
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  CaseRecord OpenCase(const std::string& ipp, bool consent = true) {
    CaseRecord c;
    c.case_ref = crypto::NewCaseRef();
    c.patient_id = ipp;
    EXPECT_TRUE(store_->InsertCase(c));
    if (consent) {
      c.consent_id = "consent-" + crypto::FormatUuid(crypto::RandomBytes(16));
      c.recipients = {"assoc-a", "assoc-b"};
      c.purposes = {"housing"};
      c.consent_collected_at = kNow;
      c.consent_valid_until = kNow + 365 * base::kMsPerDay;
      EXPECT_TRUE(store_->UpdateCase(c));
    }
    return c;
  }

  std::string Handle(const std::string& msg) { return processor_->HandleBatch({msg}).at(0); }
  static std::string MsaCode(const std::string& ack) {
    auto m = hl7::Parse(ack);
    return m ? m->Get("MSA", 1) : "unparsable";
  }

  std::vector<OutboxEntry> Outbox() {
    std::vector<OutboxEntry> all;
    // PendingHeads returns one per case; remove-and-reread to list everything in order.
    std::vector<int64_t> seen;
    while (true) {
      auto h = store_->PendingHeads(1000, {});
      if (!h || h->empty()) break;
      for (auto& e : *h) {
        all.push_back(e);
        EXPECT_TRUE(store_->RemoveFromOutbox(e.id));
      }
    }
    std::sort(all.begin(), all.end(), [](auto& x, auto& y) { return x.id < y.id; });
    return all;
  }

  schema::Header HeaderOf(const OutboxEntry& e) {
    auto env = schema::DecodeEnvelope(e.envelope);
    EXPECT_TRUE(env);
    auto h = schema::DecodeHeader(env->header);
    EXPECT_TRUE(h);
    return *h;
  }

  crypto::AgencyIdentity hospital_, a_, b_;
  schema::Registry registry_;
  base::ManualClock clock_{kNow};
  std::filesystem::path dir_;
  std::unique_ptr<LocalStore> store_;
  std::unique_ptr<AdtProcessor> processor_;
};

TEST_F(ProcessorTest, PatientWithoutACaseGetsAaAndNothingIsStored) {
  EXPECT_EQ(MsaCode(Handle(Adt("A16", "M1", "NOCASE", {}, {{9, "20300105"}}))), "AA");
  EXPECT_EQ(store_->CountOutbox()->pending, 0);
  EXPECT_FALSE(*store_->FindDedup("SIH", "CHU", "M1"));
  EXPECT_EQ(processor_->stats().ignored, 1u);
}

TEST_F(ProcessorTest, A16ForAConsentedCaseQueuesASealedReferral) {
  CaseRecord c = OpenCase("IPP1");
  c = **store_->FindCaseByRef(c.case_ref);
  EXPECT_EQ(MsaCode(Handle(Adt("A16", "M1", "IPP1", {{3, "CARDIO"}}, {{9, "20300105"}}))), "AA");
  auto out = Outbox();
  ASSERT_EQ(out.size(), 1u);
  schema::Header h = HeaderOf(out[0]);
  EXPECT_EQ(h.kind, schema::EventKind::kReferral);
  EXPECT_EQ(h.case_ref, c.case_ref);
  EXPECT_EQ(h.consent_ref, c.consent_id);
  EXPECT_EQ(h.due_at, *&ParseHl7Time("20300105")->ms);
  EXPECT_EQ(h.recipients, (std::vector<std::string>{"assoc-a", "assoc-b"}));
  std::string clear(out[0].envelope.begin(), out[0].envelope.end());
  EXPECT_EQ(clear.find("DUPONT"), std::string::npos) << "identity outside the sealed body";
  EXPECT_EQ(clear.find("IPP1"), std::string::npos);
  auto env = schema::DecodeEnvelope(out[0].envelope);
  auto opened = sdk::VerifyAndOpen(*env, registry_, b_, kNow);
  ASSERT_TRUE(opened) << opened.error().ToString();
  const auto& body = std::get<schema::ReferralBody>(opened->body);
  EXPECT_EQ(body.person.family_name, "DUPONT");
  EXPECT_EQ(body.person.birth_date, "1970-01-02");
  EXPECT_EQ(body.person.ins, "1700102123456");
  EXPECT_EQ(std::get<schema::HospitalDetails>(body.details).ward, "CARDIO");
  auto stored = store_->FindCaseByRef(c.case_ref);
  EXPECT_EQ((*stored)->state, ReferralState::kReferred);
}

TEST_F(ProcessorTest, AProvisionalInsIsNotForwarded) {
  OpenCase("IPP1");
  EXPECT_EQ(MsaCode(Handle(Adt("A16", "M1", "IPP1", {}, {{9, "20300105"}}, "PROV"))), "AA");
  auto out = Outbox();
  ASSERT_EQ(out.size(), 1u);
  auto opened = sdk::VerifyAndOpen(*schema::DecodeEnvelope(out[0].envelope), registry_, a_, kNow);
  ASSERT_TRUE(opened);
  const auto& body = std::get<schema::ReferralBody>(opened->body);
  EXPECT_EQ(body.person.ins, "");
  for (const auto& id : body.person.identifiers) EXPECT_NE(id.value, "1700102123456");
}

TEST_F(ProcessorTest, ResentMessageYieldsTheSameEventOnlyOncePerSenderAndFacility) {
  OpenCase("IPP1");
  std::string a16 = Adt("A16", "M1", "IPP1", {}, {{9, "20300105"}});
  EXPECT_EQ(MsaCode(Handle(a16)), "AA");
  auto first = store_->FindDedup("SIH", "CHU", "M1");
  ASSERT_TRUE(first && *first);
  EXPECT_EQ(MsaCode(Handle(a16)), "AA");
  EXPECT_EQ(processor_->stats().duplicates, 1u);
  EXPECT_EQ((*store_->FindDedup("SIH", "CHU", "M1"))->event_id, (*first)->event_id);
  auto out = Outbox();
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].event_id, (*first)->event_id);
  // The same MSH-10 from another facility is another message.
  EXPECT_EQ(MsaCode(Handle(Adt("A25", "M1", "IPP1", {}, {}, "VALI", "CLINIQUE"))), "AA");
  auto cancel = Outbox();
  ASSERT_EQ(cancel.size(), 1u);
  EXPECT_EQ(HeaderOf(cancel[0]).kind, schema::EventKind::kCancelled);
}

TEST_F(ProcessorTest, PastOrMissingExpectedDateIsAnErrorAndQueuesNothing) {
  OpenCase("IPP1");
  std::string ack = Handle(Adt("A16", "M1", "IPP1", {}, {{9, "20291230"}}));
  EXPECT_EQ(MsaCode(ack), "AE");
  EXPECT_NE(ack.find("PV2-9"), std::string::npos);
  EXPECT_EQ(MsaCode(Handle(Adt("A16", "M2", "IPP1"))), "AE");
  EXPECT_EQ(store_->CountOutbox()->pending, 0);
  EXPECT_FALSE(*store_->FindDedup("SIH", "CHU", "M1"));
}

TEST_F(ProcessorTest, DateChangesBecomeDeadlineChangedFromA08AndZ99) {
  OpenCase("IPP1");
  Handle(Adt("A16", "M1", "IPP1", {}, {{9, "20300105"}}));
  Handle(Adt("A08", "M2", "IPP1", {}, {{9, "20300107"}}));
  std::string z99 = Adt("Z99", "M3", "IPP1", {}, {{9, "20300109"}}) +
                    Seg("ZBE", {{1, "MV1"}, {4, "UPDATE"}, {5, "N"}, {6, "A16"}});
  Handle(z99);
  Handle(Adt("A08", "M4", "IPP1", {}, {{9, "20300109"}}));  // same date: nothing
  auto out = Outbox();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(HeaderOf(out[1]).kind, schema::EventKind::kDeadlineChanged);
  EXPECT_EQ(HeaderOf(out[1]).due_at, ParseHl7Time("20300107")->ms);
  EXPECT_EQ(HeaderOf(out[2]).due_at, ParseHl7Time("20300109")->ms);
}

TEST_F(ProcessorTest, A03AfterAcceptanceIsHandedOverToTheAcceptorOnly) {
  CaseRecord c = OpenCase("IPP1");
  Handle(Adt("A16", "M1", "IPP1", {}, {{9, "20300105"}}));
  auto rec = **store_->FindCaseByRef(c.case_ref);
  rec.state = ReferralState::kAccepted;
  rec.acceptor = "assoc-b";
  ASSERT_TRUE(store_->UpdateCase(rec));
  EXPECT_EQ(MsaCode(Handle(Adt("A03", "M2", "IPP1", {{36, "01"}, {37, "LHSS"}, {45, "20300105"}}))),
            "AA");
  auto out = Outbox();
  ASSERT_EQ(out.size(), 2u);
  schema::Header h = HeaderOf(out[1]);
  EXPECT_EQ(h.kind, schema::EventKind::kHandedOver);
  EXPECT_EQ(h.recipients, std::vector<std::string>{"assoc-b"});
  auto opened = sdk::VerifyAndOpen(*schema::DecodeEnvelope(out[1].envelope), registry_, b_, kNow);
  ASSERT_TRUE(opened);
  EXPECT_EQ(std::get<schema::HandedOverBody>(opened->body).discharged_to, "LHSS");
}

TEST_F(ProcessorTest, A03WithoutAcceptanceReferralIsDueNow) {
  OpenCase("IPP1");
  OpenCase("IPP2");
  Handle(Adt("A03", "M1", "IPP1"));  // never announced: an immediate referral
  Handle(Adt("A16", "M2", "IPP2", {}, {{9, "20300105"}}));
  Handle(Adt("A03", "M3", "IPP2"));  // announced, nobody accepted: due now
  auto out = Outbox();
  ASSERT_EQ(out.size(), 3u);
  std::map<schema::EventKind, base::TimeMs> due;
  for (auto& e : out) due[HeaderOf(e).kind] = HeaderOf(e).due_at;
  EXPECT_EQ(due[schema::EventKind::kDeadlineChanged], kNow);
}

TEST_F(ProcessorTest, NewA16AfterCancellationStartsANewCaseRefWithItsConsent) {
  CaseRecord c = OpenCase("IPP1");
  Handle(Adt("A16", "M1", "IPP1", {}, {{9, "20300105"}}));
  Handle(Adt("A25", "M2", "IPP1"));
  Handle(Adt("A16", "M3", "IPP1", {}, {{9, "20300110"}}));
  auto out = Outbox();
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(HeaderOf(out[1]).kind, schema::EventKind::kCancelled);
  EXPECT_EQ(HeaderOf(out[1]).case_ref, c.case_ref);
  schema::Header consent = HeaderOf(out[2]), referral = HeaderOf(out[3]);
  EXPECT_EQ(consent.kind, schema::EventKind::kConsentGranted);
  EXPECT_EQ(referral.kind, schema::EventKind::kReferral);
  EXPECT_NE(referral.case_ref, c.case_ref);
  EXPECT_EQ(consent.case_ref, referral.case_ref);
  EXPECT_EQ(referral.consent_ref, consent.consent->consent_id);
  // The case is still found by the ref printed at opening.
  EXPECT_EQ((*store_->FindCaseByRef(c.case_ref))->case_ref, referral.case_ref);
}

TEST_F(ProcessorTest, CaseWithoutConsentIsAcknowledgedAndNothingSent) {
  OpenCase("IPP1", /*consent=*/false);
  EXPECT_EQ(MsaCode(Handle(Adt("A16", "M1", "IPP1", {}, {{9, "20300105"}}))), "AA");
  EXPECT_EQ(store_->CountOutbox()->pending, 0);
}

TEST_F(ProcessorTest, AnEventTheRegistryRefusesGetsAeWhileTheRestOfTheBatchPasses) {
  CaseRecord bad = OpenCase("IPP1");
  bad.recipients = {"nobody"};
  ASSERT_TRUE(store_->UpdateCase(bad));
  OpenCase("IPP2");
  auto acks = processor_->HandleBatch({Adt("A16", "M1", "IPP1", {}, {{9, "20300105"}}),
                                       Adt("A16", "M2", "IPP2", {}, {{9, "20300105"}}), "garbage"});
  ASSERT_EQ(acks.size(), 3u);
  EXPECT_EQ(MsaCode(acks[0]), "AE");
  EXPECT_NE(acks[0].find("unknown_recipient"), std::string::npos);
  EXPECT_EQ(MsaCode(acks[1]), "AA");
  EXPECT_EQ(MsaCode(acks[2]), "AR");
  EXPECT_EQ((*store_->FindCaseByRef(bad.case_ref))->state, ReferralState::kNone);
  EXPECT_EQ(store_->CountOutbox()->pending, 1);
}

TEST_F(ProcessorTest, ClosedCaseForgetsThePatientId) {
  CaseRecord c = OpenCase("IPP1");
  c = **store_->FindCaseByRef(c.case_ref);
  c.open = false;
  ASSERT_TRUE(store_->UpdateCase(c));
  EXPECT_FALSE(*store_->FindOpenCase("IPP1", "V1"));
  EXPECT_EQ((*store_->FindCaseByRef(c.case_ref))->patient_id, "");
  EXPECT_EQ(MsaCode(Handle(Adt("A16", "M1", "IPP1", {}, {{9, "20300105"}}))), "AA");
  EXPECT_EQ(store_->CountOutbox()->pending, 0);
}

TEST_F(ProcessorTest, OneOpenCasePerPatientAndVisit) {
  OpenCase("IPP1");
  CaseRecord again;
  again.case_ref = crypto::NewCaseRef();
  again.patient_id = "IPP1";
  auto st = store_->InsertCase(again);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "case_exists");
}

}  // namespace
}  // namespace relais::hospital
