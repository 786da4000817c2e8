// Unit tests of the consent gate (suite ConsentGate, CTest label `consent`) and of the handover
// lifecycle and deadline watch (suite CaseLifecycle, label `lifecycle`), on a hand-built registry.
#include "broker/case_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

namespace relais::broker {
namespace {

using schema::EventKind;
using schema::LegalBasis;
using schema::ReferralKind;
using schema::Tier;

constexpr base::TimeMs kHour = base::kMsPerHour;
constexpr base::TimeMs kDay = base::kMsPerDay;
constexpr base::TimeMs kNow = 1'780'000'000'000;  // a fixed instant in 2026
constexpr base::TimeMs kDue = kNow + 5 * kDay;
const char kCase[] = "case-0001";

schema::Agency MakeAgency(const std::string& id, schema::AgencyKind kind,
                          const std::string& territory, bool may_receive) {
  schema::Agency a;
  a.id = id;
  a.kind = kind;
  a.territory = territory;
  a.may_receive = may_receive;
  return a;
}

// hospital (notice without consent for hospital_discharge), prison (no notice), two associations,
// the territory's SIAO, and a coordinator of another territory.
std::unique_ptr<RegistryView> MakeRegistry() {
  auto view = std::make_unique<RegistryView>();
  auto hospital = MakeAgency("hospital", schema::AgencyKind::kHospital, "75", true);
  hospital.notice_without_consent = {ReferralKind::kHospitalDischarge};
  view->registry.agencies = {hospital,
                             MakeAgency("prison", schema::AgencyKind::kPrisonService, "75", true),
                             MakeAgency("assoc-a", schema::AgencyKind::kAssociation, "75", true),
                             MakeAgency("assoc-b", schema::AgencyKind::kAssociation, "75", true),
                             MakeAgency("siao", schema::AgencyKind::kSiao, "75", true),
                             MakeAgency("coord-92", schema::AgencyKind::kCoordinator, "92", true)};
  for (const auto& a : view->registry.agencies) view->by_id[a.id] = &a;
  return view;
}

base::Bytes Id(uint8_t n) {
  base::Bytes id(schema::kEventIdSize, 0);
  id[0] = 0x01;
  id[15] = n;
  return id;
}

schema::Header Event(EventKind kind, const std::string& emitter, uint8_t id,
                     std::vector<std::string> recipients = {}) {
  schema::Header h;
  h.event_id = Id(id);
  h.kind = kind;
  h.case_ref = kCase;
  h.emitter = emitter;
  h.recipients = std::move(recipients);
  h.emitted_at = kNow;
  return h;
}

schema::Header Referral(std::vector<std::string> recipients, Tier tier = Tier::kReferral,
                        const std::string& emitter = "hospital",
                        ReferralKind kind = ReferralKind::kHospitalDischarge) {
  schema::Header h = Event(EventKind::kReferral, emitter, 1, std::move(recipients));
  h.referral_kind = kind;
  h.tier = tier;
  h.legal_basis = tier == Tier::kNotice ? LegalBasis::kNoticeAllowed : LegalBasis::kConsent;
  h.purpose = schema::Purpose::kHousing;
  h.due_at = kDue;
  return h;
}

schema::Header Consent(const std::string& consent_id, std::vector<std::string> agencies,
                       std::vector<std::string> kinds = {}, uint8_t id = 100) {
  schema::Header h = Event(EventKind::kConsentGranted, "hospital", id);
  schema::ConsentTerms t;
  t.consent_id = consent_id;
  t.purposes = {schema::Purpose::kHousing};
  t.recipient_agencies = std::move(agencies);
  t.recipient_kinds = std::move(kinds);
  t.tier = Tier::kReferral;
  t.valid_from = kNow - kDay;
  t.valid_until = kNow + 30 * kDay;
  t.collected_at = kNow - kHour;
  h.consent = t;
  return h;
}

// A broker event as it comes back from the journal (replay or live commit).
schema::Header AsJournaled(const Emission& e) {
  schema::Header h = e.header;
  h.emitter = "broker";
  h.emitted_at = kNow;
  return h;
}

class CaseEngineTest : public ::testing::Test {
 protected:
  // Admits and, when admitted, applies at the next seq. Returns the admission outcome.
  base::Status Publish(const schema::Header& h, base::TimeMs now = kNow) {
    auto admitted = engine_.Admit(h, *registry_, now);
    if (!admitted) return base::Unexpected(std::move(admitted).error());
    last_ = engine_.Apply(h, ++seq_, registry_.get(), now);
    return base::Ok();
  }
  std::string Code(const schema::Header& h, base::TimeMs now = kNow) {
    auto r = engine_.Admit(h, *registry_, now);
    return r ? "ok" : r.error().code;
  }
  void ReferToBoth() {
    ASSERT_TRUE(Publish(Consent("c1", {"assoc-a", "assoc-b"})));
    ASSERT_TRUE(Publish(Referral({"assoc-a", "assoc-b"})));
  }
  HandoverState State() const { return engine_.Case(kCase)->state; }
  std::vector<Emission> Due(base::TimeMs now) { return engine_.DueTimers(now, *registry_); }

  std::unique_ptr<RegistryView> registry_ = MakeRegistry();
  CaseEngine engine_{CaseEngineOptions{}};
  Effects last_;
  uint64_t seq_ = 0;
};

using ConsentGate = CaseEngineTest;
using CaseLifecycle = CaseEngineTest;

// --- Consent gate ---------------------------------------------------------------------------

TEST_F(ConsentGate, RejectsReferralWithoutConsentNamingTheUncoveredRecipient) {
  ASSERT_TRUE(Publish(Consent("c1", {"assoc-a"})));
  auto r = engine_.Admit(Referral({"assoc-a", "assoc-b"}), *registry_, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "consent_missing");
  EXPECT_EQ(r.error().kind, base::ErrorKind::kNotAuthorised);
  EXPECT_NE(r.error().message.find("assoc-b"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("assoc-a"), std::string::npos) << r.error().message;
}

TEST_F(ConsentGate, RejectsReferralWithNoConsentAtAll) {
  EXPECT_EQ(Code(Referral({"assoc-a"})), "consent_missing");
  EXPECT_EQ(engine_.Case(kCase), nullptr);
}

TEST_F(ConsentGate, ConsentByAgencyIdCoversThatAgency) {
  ASSERT_TRUE(Publish(Consent("c1", {"assoc-a", "assoc-b"})));
  EXPECT_TRUE(Publish(Referral({"assoc-a", "assoc-b"})));
  ASSERT_NE(engine_.Case(kCase), nullptr);
  EXPECT_EQ(State(), HandoverState::kReferred);
}

TEST_F(ConsentGate, ConsentByAgencyKindCoversEveryAgencyOfThatKindOnly) {
  ASSERT_TRUE(Publish(Consent("c1", {}, {"association"})));
  EXPECT_EQ(Code(Referral({"assoc-a", "assoc-b"})), "ok");
  auto r = engine_.Admit(Referral({"assoc-a", "siao"}), *registry_, kNow);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "consent_missing");
  EXPECT_NE(r.error().message.find("siao"), std::string::npos);
}

TEST_F(ConsentGate, ExpiredOrNotYetValidConsentDoesNotCover) {
  ASSERT_TRUE(Publish(Consent("c1", {"assoc-a"})));
  EXPECT_EQ(Code(Referral({"assoc-a"}), kNow + 31 * kDay), "consent_missing");
  EXPECT_EQ(Code(Referral({"assoc-a"}), kNow - 2 * kDay), "consent_missing");
  EXPECT_EQ(Code(Referral({"assoc-a"}), kNow), "ok");
}

TEST_F(ConsentGate, AConsentStartingAFewMinutesAheadOfTheBrokersClockCovers) {
  // valid_from = kNow - kDay: an emitter clock 4 minutes ahead is tolerated, 6 minutes is not.
  ASSERT_TRUE(Publish(Consent("c1", {"assoc-a"})));
  EXPECT_EQ(Code(Referral({"assoc-a"}), kNow - kDay - 4 * 60 * 1000), "ok");
  EXPECT_EQ(Code(Referral({"assoc-a"}), kNow - kDay - 6 * 60 * 1000), "consent_missing");
}

TEST_F(ConsentGate, WithdrawnConsentNoLongerCovers) {
  ASSERT_TRUE(Publish(Consent("c1", {"assoc-a"})));
  auto withdraw = Event(EventKind::kConsentWithdrawn, "hospital", 101);
  withdraw.consent_ref = "c1";
  ASSERT_TRUE(Publish(withdraw));
  EXPECT_EQ(Code(Referral({"assoc-a"})), "consent_missing");
  EXPECT_EQ(Code(withdraw), "unknown_consent");  // cannot be withdrawn twice
}

TEST_F(ConsentGate, ConsentOfAnotherCaseOrPurposeDoesNotCover) {
  auto other_case = Consent("c1", {"assoc-a"});
  other_case.case_ref = "case-other";
  ASSERT_TRUE(Publish(other_case));
  EXPECT_EQ(Code(Referral({"assoc-a"})), "consent_missing");
  auto health_only = Consent("c2", {"assoc-a"}, {}, 102);
  health_only.consent->purposes = {schema::Purpose::kHealthContinuity};
  ASSERT_TRUE(Publish(health_only));
  EXPECT_EQ(Code(Referral({"assoc-a"})), "consent_missing");  // the referral is for housing
}

TEST_F(ConsentGate, NoticeTierNeedsNoConsentWhereTheRegistryAllowsIt) {
  EXPECT_TRUE(Publish(Referral({"assoc-a", "assoc-b"}, Tier::kNotice)));
}

TEST_F(ConsentGate, NoticeTierNeedsConsentWhereTheRegistryDoesNotAllowIt) {
  // The prison service has no noticeWithoutConsent; the hospital has it for discharges only.
  EXPECT_EQ(Code(Referral({"assoc-a"}, Tier::kNotice, "prison", ReferralKind::kPrisonRelease)),
            "consent_missing");
  EXPECT_EQ(Code(Referral({"assoc-a"}, Tier::kNotice, "hospital", ReferralKind::kPrisonRelease)),
            "consent_missing");
  auto as_consent = Referral({"assoc-a"}, Tier::kNotice);
  as_consent.legal_basis = LegalBasis::kConsent;  // claims consent: the consent must exist
  EXPECT_EQ(Code(as_consent), "consent_missing");
}

TEST_F(ConsentGate, ReferralTierNeedsConsentEvenWhereNoticeIsAllowed) {
  EXPECT_EQ(Code(Referral({"assoc-a"}, Tier::kReferral)), "consent_missing");
  auto notice_consent = Consent("c1", {"assoc-a"});
  notice_consent.consent->tier = Tier::kNotice;
  ASSERT_TRUE(Publish(notice_consent));
  EXPECT_EQ(Code(Referral({"assoc-a"}, Tier::kReferral)), "consent_missing");
}

TEST_F(ConsentGate, ConsentGrantedWithoutTermsIsMalformed) {
  auto h = Consent("c1", {"assoc-a"});
  h.consent.reset();
  EXPECT_EQ(Code(h), "malformed_header");
  h = Consent("", {"assoc-a"});
  EXPECT_EQ(Code(h), "malformed_header");
}

TEST_F(ConsentGate, ConsentIdCannotBeReusedForAnotherCase) {
  ASSERT_TRUE(Publish(Consent("c1", {"assoc-a"})));
  auto h = Consent("c1", {"assoc-a"}, {}, 102);
  h.case_ref = "case-other";
  EXPECT_EQ(Code(h), "invalid_transition");
}

TEST_F(ConsentGate, OnlyTheCollectorWithdrawsAKnownConsent) {
  ASSERT_TRUE(Publish(Consent("c1", {"assoc-a"})));
  auto by_other = Event(EventKind::kConsentWithdrawn, "assoc-a", 101);
  by_other.consent_ref = "c1";
  EXPECT_EQ(Code(by_other), "not_collector");
  auto unknown = Event(EventKind::kConsentWithdrawn, "hospital", 102);
  unknown.consent_ref = "c-nope";
  EXPECT_EQ(Code(unknown), "unknown_consent");
}

TEST_F(ConsentGate, WithdrawalBeforeAnyReferralErasesWhatWasRecorded) {
  ASSERT_TRUE(Publish(Consent("c1", {"assoc-a"})));
  auto withdraw = Event(EventKind::kConsentWithdrawn, "hospital", 3);
  withdraw.consent_ref = "c1";
  ASSERT_TRUE(Publish(withdraw));
  EXPECT_EQ(last_.withhold, (std::vector<uint64_t>{1, 2}));
  ASSERT_TRUE(last_.erase.has_value());
  EXPECT_EQ(*last_.erase, kCase);
  // The consent is gone: a referral now needs a new one.
  EXPECT_EQ(Code(Referral({"assoc-a"})), "consent_missing");
}

TEST_F(ConsentGate, WithdrawalWithholdsErasesAndAsksInformedAgenciesToPurge) {
  ReferToBoth();
  auto accept = Event(EventKind::kAccepted, "assoc-a", 2, {"hospital"});
  accept.in_reply_to = Id(1);
  ASSERT_TRUE(Publish(accept));
  auto withdraw = Event(EventKind::kConsentWithdrawn, "hospital", 3);
  withdraw.consent_ref = "c1";
  auto admitted = engine_.Admit(withdraw, *registry_, kNow);
  ASSERT_TRUE(admitted);
  EXPECT_TRUE(std::any_of(admitted->begin(), admitted->end(), [](const auto& m) {
    return std::holds_alternative<journal::StopCaseDeliveries>(m);
  }));
  ASSERT_TRUE(Publish(withdraw));
  // Every journal entry of the case is withheld: the consent recorded before the referral, the
  // referral, the acceptance and the withdrawal.
  EXPECT_EQ(last_.withhold, (std::vector<uint64_t>{1, 2, 3, 4}));
  ASSERT_TRUE(last_.erase.has_value());
  EXPECT_EQ(*last_.erase, kCase);
  std::vector<Emission> purge;
  for (const auto& e : last_.emissions) {
    if (e.header.kind == EventKind::kPurgeRequest) purge.push_back(e);
  }
  ASSERT_EQ(purge.size(), 1u);
  std::vector<std::string> to = purge[0].header.recipients;
  std::sort(to.begin(), to.end());
  EXPECT_EQ(to, (std::vector<std::string>{"assoc-a", "assoc-b"}));  // not the hospital itself
  EXPECT_EQ(purge[0].header.tier, Tier::kNotice);
  EXPECT_TRUE(engine_.Case(kCase)->withdrawn);
  EXPECT_TRUE(Due(kDue + 10 * kDay).empty());  // a withdrawn case arms no timer
}

TEST_F(ConsentGate, NothingMoreIsAdmittedForACaseAfterWithdrawalButPurgeReceipts) {
  ReferToBoth();
  auto withdraw = Event(EventKind::kConsentWithdrawn, "hospital", 3);
  withdraw.consent_ref = "c1";
  ASSERT_TRUE(Publish(withdraw));
  EXPECT_EQ(Code(Event(EventKind::kAccepted, "assoc-a", 4, {"hospital"})), "invalid_transition");
  auto moved = Event(EventKind::kDeadlineChanged, "hospital", 5, {"assoc-a"});
  moved.due_at = kDue + kDay;
  EXPECT_EQ(Code(moved), "invalid_transition");
  EXPECT_EQ(Code(Event(EventKind::kClosed, "hospital", 6)), "invalid_transition");
  ASSERT_TRUE(Publish(AsJournaled(last_.emissions.at(0))));
  EXPECT_EQ(Code(Event(EventKind::kPurgeReceipt, "assoc-b", 7, {"broker"})), "ok");
}

TEST_F(ConsentGate, PurgeReceiptIsAcceptedOnlyFromAnAgencyWithAPendingRequest) {
  ReferToBoth();
  auto withdraw = Event(EventKind::kConsentWithdrawn, "hospital", 3);
  withdraw.consent_ref = "c1";
  ASSERT_TRUE(Publish(withdraw));
  auto receipt_a = Event(EventKind::kPurgeReceipt, "assoc-a", 4, {"broker"});
  EXPECT_EQ(Code(receipt_a), "invalid_transition");  // the request is not journaled yet
  ASSERT_EQ(last_.emissions.size(), 1u);
  ASSERT_TRUE(Publish(AsJournaled(last_.emissions[0])));
  EXPECT_EQ(Code(Event(EventKind::kPurgeReceipt, "siao", 5, {"broker"})), "invalid_transition");
  ASSERT_TRUE(Publish(receipt_a));
  EXPECT_EQ(Code(Event(EventKind::kPurgeReceipt, "assoc-a", 6, {"broker"})),
            "invalid_transition");  // already answered
  EXPECT_EQ(Code(Event(EventKind::kPurgeReceipt, "assoc-b", 7, {"broker"})), "ok");
}

// --- Lifecycle --------------------------------------------------------------------------------

TEST_F(CaseLifecycle, EventForAnUnknownCaseIsRefused) {
  EXPECT_EQ(Code(Event(EventKind::kAccepted, "assoc-a", 2, {"hospital"})), "unknown_case");
  EXPECT_EQ(Code(Event(EventKind::kCancelled, "hospital", 2)), "unknown_case");
}

TEST_F(CaseLifecycle, ReferralNeedsADueDateAndComesOncePerCase) {
  auto no_due = Referral({"assoc-a"}, Tier::kNotice);
  no_due.due_at = 0;
  EXPECT_EQ(Code(no_due), "malformed_header");
  ASSERT_TRUE(Publish(Referral({"assoc-a"}, Tier::kNotice)));
  auto again = Referral({"assoc-b"}, Tier::kNotice);
  again.event_id = Id(9);
  EXPECT_EQ(Code(again), "invalid_transition");
}

TEST_F(CaseLifecycle, OnlyTheEmitterCancelsOrMovesTheDeadline) {
  ReferToBoth();
  auto moved = Event(EventKind::kDeadlineChanged, "assoc-a", 2);
  moved.due_at = kDue + kDay;
  EXPECT_EQ(Code(moved), "not_emitter");
  EXPECT_EQ(Code(Event(EventKind::kCancelled, "assoc-b", 3)), "not_emitter");
  EXPECT_EQ(Code(Event(EventKind::kHandedOver, "siao", 3)), "not_emitter");
  moved.emitter = "hospital";
  ASSERT_TRUE(Publish(moved));
  EXPECT_EQ(engine_.Case(kCase)->due_at, kDue + kDay);
  ASSERT_TRUE(Publish(Event(EventKind::kCancelled, "hospital", 3)));
  EXPECT_EQ(State(), HandoverState::kCancelled);
  EXPECT_EQ(Code(Event(EventKind::kCancelled, "hospital", 4)), "invalid_transition");
  EXPECT_TRUE(Due(kDue + 10 * kDay).empty());  // a cancelled case arms no timer
}

TEST_F(CaseLifecycle, DeadlineChangeWithoutDueDateIsMalformed) {
  ReferToBoth();
  EXPECT_EQ(Code(Event(EventKind::kDeadlineChanged, "hospital", 2)), "malformed_header");
}

TEST_F(CaseLifecycle, OnlyCandidatesAcceptOrDecline) {
  ReferToBoth();
  EXPECT_EQ(Code(Event(EventKind::kAccepted, "siao", 2, {"hospital"})), "not_candidate");
  auto decline = Event(EventKind::kDeclined, "siao", 3, {"hospital"});
  decline.decline_reason = schema::DeclineReason::kNoCapacity;
  EXPECT_EQ(Code(decline), "not_candidate");
  EXPECT_EQ(Code(Event(EventKind::kAccepted, "hospital", 4)), "not_candidate");
}

TEST_F(CaseLifecycle, DeclineWithoutReasonIsMalformed) {
  ReferToBoth();
  EXPECT_EQ(Code(Event(EventKind::kDeclined, "assoc-a", 2, {"hospital"})), "malformed_header");
}

TEST_F(CaseLifecycle, FirstAcceptanceWinsAndTheOthersGetOfferTaken) {
  ReferToBoth();
  auto accept_a = Event(EventKind::kAccepted, "assoc-a", 2, {"hospital"});
  ASSERT_TRUE(Publish(accept_a));
  EXPECT_EQ(State(), HandoverState::kAccepted);
  EXPECT_EQ(engine_.Case(kCase)->acceptor, "assoc-a");
  ASSERT_EQ(last_.emissions.size(), 1u);
  const Emission& taken = last_.emissions[0];
  EXPECT_EQ(taken.header.kind, EventKind::kOfferTaken);
  EXPECT_EQ(taken.header.recipients, std::vector<std::string>{"assoc-b"});
  EXPECT_EQ(taken.header.in_reply_to, Id(2));
  EXPECT_EQ(taken.body.stage, "offer_taken");
  EXPECT_EQ(Code(Event(EventKind::kAccepted, "assoc-b", 3, {"hospital"})), "already_accepted");
  auto decline = Event(EventKind::kDeclined, "assoc-b", 4, {"hospital"});
  decline.decline_reason = schema::DeclineReason::kNoCapacity;
  EXPECT_EQ(Code(decline), "already_accepted");
  EXPECT_EQ(engine_.counts().accepted_in_time, 1u);
}

TEST_F(CaseLifecycle, AllDeclinedLeavesTheCaseUnplacedAndEscalates) {
  ReferToBoth();
  auto decline_a = Event(EventKind::kDeclined, "assoc-a", 2, {"hospital"});
  decline_a.decline_reason = schema::DeclineReason::kNoCapacity;
  ASSERT_TRUE(Publish(decline_a));
  EXPECT_EQ(State(), HandoverState::kReferred);
  EXPECT_TRUE(last_.emissions.empty());
  auto decline_b = Event(EventKind::kDeclined, "assoc-b", 3, {"hospital"});
  decline_b.decline_reason = schema::DeclineReason::kNotEligible;
  ASSERT_TRUE(Publish(decline_b));
  EXPECT_EQ(State(), HandoverState::kUnplaced);
  ASSERT_EQ(last_.emissions.size(), 1u);
  const Emission& e = last_.emissions[0];
  EXPECT_EQ(e.header.kind, EventKind::kEscalation);
  EXPECT_EQ(e.body.stage, "unplaced");
  // The territory's SIAO and the emitter; not the coordinator of another territory.
  EXPECT_EQ(e.header.recipients, (std::vector<std::string>{"siao", "hospital"}));
  EXPECT_EQ(Code(Event(EventKind::kAccepted, "assoc-a", 4, {"hospital"})), "invalid_transition");
  EXPECT_EQ(Code(Event(EventKind::kCancelled, "hospital", 5)), "invalid_transition");
  // No second escalation for the same arming at the accept-by time.
  EXPECT_TRUE(Due(kDue - 48 * kHour).empty());
}

TEST_F(CaseLifecycle, OnlyTheAcceptorConfirmsPickup) {
  ReferToBoth();
  EXPECT_EQ(Code(Event(EventKind::kPickedUp, "assoc-a", 2, {"hospital"})), "not_acceptor");
  EXPECT_EQ(Code(Event(EventKind::kHandedOver, "hospital", 2, {"assoc-a"})), "invalid_transition");
  ASSERT_TRUE(Publish(Event(EventKind::kAccepted, "assoc-a", 3, {"hospital"})));
  EXPECT_EQ(Code(Event(EventKind::kPickedUp, "assoc-b", 4, {"hospital"})), "not_acceptor");
  EXPECT_EQ(Code(Event(EventKind::kPickedUp, "hospital", 4, {"assoc-a"})), "not_acceptor");
  ASSERT_TRUE(Publish(Event(EventKind::kHandedOver, "hospital", 5, {"assoc-a"})));
  EXPECT_EQ(State(), HandoverState::kHandedOver);
  ASSERT_TRUE(Publish(Event(EventKind::kPickedUp, "assoc-a", 6, {"hospital"})));
  EXPECT_EQ(State(), HandoverState::kPickedUp);
  EXPECT_EQ(Code(Event(EventKind::kPickedUp, "assoc-a", 7, {"hospital"})), "invalid_transition");
  EXPECT_TRUE(Due(kDue + 10 * kDay).empty());  // picked up: no rupture
}

TEST_F(CaseLifecycle, OnlyEmitterOrAcceptorCloses) {
  ReferToBoth();
  ASSERT_TRUE(Publish(Event(EventKind::kAccepted, "assoc-a", 2, {"hospital"})));
  EXPECT_EQ(Code(Event(EventKind::kClosed, "assoc-b", 3)), "not_emitter");
  ASSERT_TRUE(Publish(Event(EventKind::kClosed, "assoc-a", 3)));
  EXPECT_EQ(State(), HandoverState::kClosed);
  EXPECT_EQ(Code(Event(EventKind::kClosed, "hospital", 4)), "invalid_transition");
}

TEST_F(CaseLifecycle, ReminderEscalationAndRuptureEachFireExactlyOnce) {
  ReferToBoth();
  // Hospital discharge defaults: accept by dueAt-48h, reminder at dueAt-72h, pickup by dueAt+24h.
  EXPECT_EQ(engine_.NextTimer(), kDue - 72 * kHour);
  EXPECT_TRUE(Due(kDue - 72 * kHour - 1).empty());
  auto reminder = Due(kDue - 72 * kHour);
  ASSERT_EQ(reminder.size(), 1u);
  EXPECT_EQ(reminder[0].header.kind, EventKind::kReminder);
  EXPECT_EQ(reminder[0].header.recipients, (std::vector<std::string>{"assoc-a", "assoc-b"}));
  EXPECT_TRUE(Due(kDue - 72 * kHour).empty());
  EXPECT_TRUE(Due(kDue - 49 * kHour).empty());
  auto escalation = Due(kDue - 48 * kHour);
  ASSERT_EQ(escalation.size(), 1u);
  EXPECT_EQ(escalation[0].header.kind, EventKind::kEscalation);
  EXPECT_EQ(escalation[0].body.stage, "not_accepted");
  EXPECT_EQ(escalation[0].body.accept_by, kDue - 48 * kHour);
  EXPECT_EQ(escalation[0].body.pickup_by, kDue + 24 * kHour);
  EXPECT_EQ(escalation[0].header.recipients, (std::vector<std::string>{"siao", "hospital"}));
  EXPECT_EQ(escalation[0].header.in_reply_to, Id(1));
  EXPECT_TRUE(Due(kDue - 48 * kHour).empty());
  EXPECT_TRUE(Due(kDue + 24 * kHour - 1).empty());
  auto rupture = Due(kDue + 24 * kHour);
  ASSERT_EQ(rupture.size(), 1u);
  EXPECT_EQ(rupture[0].header.kind, EventKind::kRupture);
  EXPECT_TRUE(Due(kDue + 24 * kHour).empty());
  EXPECT_TRUE(Due(kDue + 100 * kDay).empty());
  EXPECT_EQ(engine_.NextTimer(), std::numeric_limits<base::TimeMs>::max());
}

TEST_F(CaseLifecycle, AcceptedInTimeGetsNoEscalationButARuptureIfNeverPickedUp) {
  ReferToBoth();
  ASSERT_TRUE(Publish(Event(EventKind::kAccepted, "assoc-b", 2, {"hospital"})));
  EXPECT_TRUE(Due(kDue - 48 * kHour).empty());
  EXPECT_TRUE(Due(kDue).empty());
  auto rupture = Due(kDue + 24 * kHour);
  ASSERT_EQ(rupture.size(), 1u);
  EXPECT_EQ(rupture[0].header.kind, EventKind::kRupture);
  const auto& to = rupture[0].header.recipients;
  EXPECT_NE(std::find(to.begin(), to.end(), "assoc-b"), to.end());  // the acceptor is told too
  EXPECT_NE(std::find(to.begin(), to.end(), "siao"), to.end());
}

TEST_F(CaseLifecycle, AnEscalatedCaseIsPendingUntilSomeoneAccepts) {
  ReferToBoth();
  auto escalation = Due(kDue - 48 * kHour);
  ASSERT_EQ(escalation.size(), 1u);
  EXPECT_EQ(engine_.EscalationsPending(), 0u);  // fired, not journaled yet
  ASSERT_TRUE(Publish(AsJournaled(escalation[0])));
  EXPECT_EQ(engine_.EscalationsPending(), 1u);
  EXPECT_EQ(engine_.counts().escalations, 1u);
  ASSERT_TRUE(Publish(Event(EventKind::kAccepted, "assoc-b", 2, {"hospital"})));
  EXPECT_EQ(engine_.EscalationsPending(), 0u);
  EXPECT_EQ(engine_.counts().escalations, 1u);  // the total stays
}

TEST_F(CaseLifecycle, DeadlineChangeRearmsTheTimersForTheNewDateOnce) {
  ReferToBoth();
  // First checked at the accept-by time: the reminder window has passed, only the escalation.
  ASSERT_EQ(Due(kDue - 48 * kHour).size(), 1u);
  auto moved = Event(EventKind::kDeadlineChanged, "hospital", 7, {"assoc-a", "assoc-b"});
  const base::TimeMs new_due = kDue + 10 * kDay;
  moved.due_at = new_due;
  ASSERT_TRUE(Publish(moved));
  EXPECT_TRUE(Due(kDue - 47 * kHour).empty());
  EXPECT_TRUE(Due(kDue + 24 * kHour).empty());  // the old pickup-by no longer counts
  auto escalation = Due(new_due - 48 * kHour);
  // The reminder window has passed by then: only the escalation, answering the change.
  ASSERT_EQ(escalation.size(), 1u);
  EXPECT_EQ(escalation[0].header.kind, EventKind::kEscalation);
  EXPECT_EQ(escalation[0].header.in_reply_to, Id(7));
  EXPECT_EQ(escalation[0].header.due_at, new_due);
  EXPECT_TRUE(Due(new_due - 48 * kHour).empty());
  EXPECT_TRUE(Due(new_due - 47 * kHour).empty());
}

TEST_F(CaseLifecycle, ReplayOfJournaledBrokerEventsMarksTimersFired) {
  ReferToBoth();
  auto fired = Due(kDue - 72 * kHour);  // reminder
  auto escalation = Due(kDue - 48 * kHour);
  ASSERT_EQ(fired.size(), 1u);
  ASSERT_EQ(escalation.size(), 1u);
  fired.push_back(escalation[0]);
  // A restarted broker replays the journal: consent, referral, then the broker's own events.
  CaseEngine replayed{CaseEngineOptions{}};
  uint64_t seq = 0;
  replayed.Apply(Consent("c1", {"assoc-a", "assoc-b"}), ++seq, nullptr, kNow);
  replayed.Apply(Referral({"assoc-a", "assoc-b"}), ++seq, nullptr, kNow);
  for (const auto& e : fired) {
    Effects fx = replayed.Apply(AsJournaled(e), ++seq, nullptr, kNow);
    EXPECT_TRUE(fx.emissions.empty());
  }
  EXPECT_TRUE(replayed.DueTimers(kDue - 48 * kHour, *registry_).empty());
  EXPECT_EQ(replayed.counts().escalations, 1u);
  ASSERT_EQ(replayed.DueTimers(kDue + 24 * kHour, *registry_).size(), 1u);  // rupture still armed
}

TEST_F(CaseLifecycle, ReplayWithoutTheBrokerEventFiresItAgainWithTheSameId) {
  ReferToBoth();
  auto fired = Due(kDue - 72 * kHour);  // reminder
  auto escalation = Due(kDue - 48 * kHour);
  ASSERT_EQ(fired.size(), 1u);
  ASSERT_EQ(escalation.size(), 1u);
  fired.push_back(escalation[0]);
  CaseEngine replayed{CaseEngineOptions{}};
  replayed.Apply(Consent("c1", {"assoc-a", "assoc-b"}), 1, nullptr, kNow);
  replayed.Apply(Referral({"assoc-a", "assoc-b"}), 2, nullptr, kNow);
  auto again = replayed.DueTimers(kDue - 48 * kHour, *registry_);
  ASSERT_EQ(again.size(), 1u);  // past the accept-by time: escalation only
  EXPECT_EQ(again[0].header.kind, EventKind::kEscalation);
  EXPECT_EQ(again[0].header.event_id, fired[1].header.event_id);  // the journal deduplicates
}

TEST_F(CaseLifecycle, StaleBrokerEventDoesNotMarkTheRearmedTimer) {
  ReferToBoth();
  auto fired = Due(kDue - 72 * kHour);  // reminder
  auto escalation = Due(kDue - 48 * kHour);
  ASSERT_EQ(fired.size(), 1u);
  ASSERT_EQ(escalation.size(), 1u);
  fired.push_back(escalation[0]);
  auto moved = Event(EventKind::kDeadlineChanged, "hospital", 7);
  moved.due_at = kDue + 10 * kDay;
  ASSERT_TRUE(Publish(moved));
  ASSERT_TRUE(Publish(AsJournaled(fired[1])));  // the old escalation commits after the change
  EXPECT_EQ(Due(kDue + 8 * kDay).size(), 1u);
}

TEST_F(CaseLifecycle, UnfireLetsAFailedEmissionFireAgain) {
  ReferToBoth();
  auto fired = Due(kDue - 72 * kHour);  // reminder
  auto escalation = Due(kDue - 48 * kHour);
  ASSERT_EQ(fired.size(), 1u);
  ASSERT_EQ(escalation.size(), 1u);
  fired.push_back(escalation[0]);
  engine_.Unfire(fired[1]);
  auto again = Due(kDue - 48 * kHour);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].header.kind, EventKind::kEscalation);
}

TEST_F(CaseLifecycle, EmissionIdsAreDeterministicUuidV8) {
  auto a = CaseEngine::EmissionId(kCase, EventKind::kEscalation, Id(1), "not_accepted");
  EXPECT_EQ(a, CaseEngine::EmissionId(kCase, EventKind::kEscalation, Id(1), "not_accepted"));
  EXPECT_NE(a, CaseEngine::EmissionId(kCase, EventKind::kEscalation, Id(2), "not_accepted"));
  EXPECT_NE(a, CaseEngine::EmissionId(kCase, EventKind::kRupture, Id(1), "not_accepted"));
  EXPECT_NE(a, CaseEngine::EmissionId(kCase, EventKind::kEscalation, Id(1), "unplaced"));
  ASSERT_EQ(a.size(), schema::kEventIdSize);
  EXPECT_EQ(a[6] >> 4, 8);
  EXPECT_EQ(a[8] >> 6, 2);
}

TEST_F(CaseLifecycle, PolicyOverridesParseAndApply) {
  std::map<ReferralKind, DeadlinePolicy> policies;
  ASSERT_TRUE(ParsePolicyOverride("prison_release=720:168", policies));
  EXPECT_EQ(policies[ReferralKind::kPrisonRelease].accept_lead, 720 * kHour);
  EXPECT_EQ(policies[ReferralKind::kPrisonRelease].pickup_grace, 168 * kHour);
  for (const char* bad :
       {"prison_release", "prison_release=720", "nope=1:2", "prison_release=-1:2",
        "prison_release=x:2", "prison_release=87841:1", "prison_release=99999999999999999:1",
        "prison_release=1:87841", "prison_release=720h:1", "prison_release=1:2 "}) {
    auto st = ParsePolicyOverride(bad, policies);
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code, "bad_deadline_policy");
  }
  EXPECT_EQ(DefaultPolicy(ReferralKind::kPrisonRelease).accept_lead, 30 * kDay);
  EXPECT_EQ(DefaultPolicy(ReferralKind::kAseExit).accept_lead, 90 * kDay);
  CaseEngine custom{CaseEngineOptions{{{ReferralKind::kHospitalDischarge, {2 * kHour, kHour}}}}};
  EXPECT_EQ(custom.Policy(ReferralKind::kHospitalDischarge).accept_lead, 2 * kHour);
  EXPECT_EQ(custom.Policy(ReferralKind::kTreveEnd).accept_lead, 31 * kDay);
}

}  // namespace
}  // namespace relais::broker
