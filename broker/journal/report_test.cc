// The auditor's metrics (report.h) on hand-made timelines, the timeline filter (timeline.h) and
// the signature audit (signature_audit.h) on a real journal with signed entries.
#include "broker/journal/report.h"

#include <gtest/gtest.h>

#include "broker/journal/signature_audit.h"
#include "broker/journal/testing/events.h"
#include "broker/journal/testing/fixture.h"
#include "crypto/seal.h"
#include "crypto/sign.h"
#include "schema/codec.h"

namespace relais::journal {
namespace {

using K = schema::EventKind;
constexpr base::TimeMs kHour = base::kMsPerHour;
constexpr base::TimeMs kT0 = 1'764'000'000'000;

TimelineEvent Ev(uint64_t seq, base::TimeMs at, K kind, const std::string& case_ref,
                 const std::string& emitter, std::vector<std::string> recipients = {}) {
  TimelineEvent e;
  e.seq = seq;
  e.received_at = at;
  e.header.kind = kind;
  e.header.case_ref = case_ref;
  e.header.emitter = emitter;
  e.header.recipients = std::move(recipients);
  return e;
}

TimelineEvent Referral(uint64_t seq, const std::string& case_ref, base::TimeMs due,
                       schema::ReferralKind kind = schema::ReferralKind::kPrisonRelease) {
  TimelineEvent e = Ev(seq, kT0, K::kReferral, case_ref, "spip", {"a", "b"});
  e.header.referral_kind = kind;
  e.header.due_at = due;
  return e;
}

ReportOptions Options() {
  ReportOptions o;
  o.accept_lead = [](schema::ReferralKind) { return 10 * kHour; };
  return o;
}

TEST(PercentileTest, NearestRank) {
  EXPECT_EQ(Percentile({}, 0.5), 0);
  EXPECT_EQ(Percentile({7}, 0.9), 7);
  EXPECT_EQ(Percentile({4, 1, 3, 2}, 0.5), 2);
  EXPECT_EQ(Percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9), 9);
  EXPECT_EQ(Percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 0.9), 10);
}

TEST(ReportBuilderTest, AcceptanceBeforeTheDeadlineUsesTheDueDateInForce) {
  ReportBuilder b(Options());
  b.Add(Referral(1, "c1", kT0 + 20 * kHour));
  // The deadline moves 5 h earlier: accept-by is now kT0 + 5 h; acceptance at kT0 + 6 h is late.
  TimelineEvent moved = Ev(2, kT0 + kHour, K::kDeadlineChanged, "c1", "spip");
  moved.header.due_at = kT0 + 15 * kHour;
  b.Add(moved);
  b.Add(Ev(3, kT0 + 6 * kHour, K::kAccepted, "c1", "a"));
  b.Add(Ev(4, kT0 + 17 * kHour, K::kPickedUp, "c1", "a"));
  Report r = b.Finish();
  ASSERT_FALSE(r.rows.empty());
  const ReportRow& all = r.rows[0];
  EXPECT_EQ(all.referrals, 1u);
  EXPECT_EQ(all.accepted, 1u);
  EXPECT_EQ(all.accepted_in_time, 0u);
  EXPECT_EQ(all.referral_to_acceptance, std::vector<base::TimeMs>{6 * kHour});
  EXPECT_EQ(all.exit_to_pickup, std::vector<base::TimeMs>{2 * kHour});
}

TEST(ReportBuilderTest, UnplacedRupturesPurgesAndRowsPerDimension) {
  ReportBuilder b(Options());
  b.Add(Referral(1, "c1", kT0 + 20 * kHour));
  b.Add(Referral(2, "c2", kT0 + 20 * kHour, schema::ReferralKind::kAseExit));
  b.Add(Ev(3, kT0 + kHour, K::kDeclined, "c1", "a"));
  b.Add(Ev(4, kT0 + kHour, K::kDeclined, "c1", "b"));
  b.Add(Ev(5, kT0 + kHour, K::kEscalation, "c1", "broker", {"siao"}));
  b.Add(Ev(6, kT0 + 2 * kHour, K::kAccepted, "c2", "b"));
  b.Add(Ev(7, kT0 + 3 * kHour, K::kConsentWithdrawn, "c2", "spip"));
  b.Add(Ev(8, kT0 + 3 * kHour, K::kPurgeRequest, "c2", "broker", {"a", "b"}));
  b.Add(Ev(9, kT0 + 4 * kHour, K::kPurgeReceipt, "c2", "b"));
  b.Add(Ev(10, kT0 + 4 * kHour, K::kPurgeReceipt, "c2", "x"));  // never asked: not counted
  b.Add(Ev(11, kT0 + 45 * kHour, K::kRupture, "c1", "broker", {"siao"}));
  b.Add(Ev(12, kT0, K::kRupture, "c-unknown", "broker"));  // no referral in the window
  Report r = b.Finish();
  ASSERT_EQ(r.rows.size(), 6u);  // all, 2 kinds, 1 emitter, 2 receivers
  const ReportRow& all = r.rows[0];
  EXPECT_EQ(all.referrals, 2u);
  EXPECT_EQ(all.unplaced, 1u);
  EXPECT_EQ(all.escalations, 1u);
  EXPECT_EQ(all.ruptures, 1u);
  EXPECT_EQ(all.consent_withdrawals, 1u);
  EXPECT_EQ(all.purge_requests, 2u);
  EXPECT_EQ(all.purge_receipts, 1u);
  EXPECT_EQ(r.rows[1].value, "ase_exit");  // values in name order within a dimension
  EXPECT_EQ(r.rows[2].value, "prison_release");
  EXPECT_EQ(r.rows[3].dimension, "emitter");
  EXPECT_EQ(r.rows[4].value, "a");
  EXPECT_EQ(r.rows[4].accepted, 0u);
  EXPECT_EQ(r.rows[4].purge_receipts, 0u);
  EXPECT_EQ(r.rows[5].value, "b");
  EXPECT_EQ(r.rows[5].accepted, 1u);
  EXPECT_EQ(r.rows[5].accepted_in_time, 1u);
  EXPECT_EQ(r.rows[5].purge_requests, 1u);
  EXPECT_EQ(r.rows[5].purge_receipts, 1u);
  EXPECT_EQ(r.ruptures_per_month.size(), 1u);
}

TEST(ReportBuilderTest, WindowSelectsCasesByReferralReception) {
  ReportOptions o = Options();
  o.from = kT0 + 1;
  ReportBuilder b(o);
  b.Add(Referral(1, "c1", kT0 + 20 * kHour));  // received at kT0: outside
  b.Add(Ev(2, kT0 + 45 * kHour, K::kRupture, "c1", "broker"));
  Report r = b.Finish();
  EXPECT_EQ(r.rows[0].referrals, 0u);
  EXPECT_EQ(r.rows[0].ruptures, 0u);
  EXPECT_TRUE(r.ruptures_per_month.empty());
}

TEST(TimelineFilterTest, AgencyMatchesEmitterOrRecipient) {
  TimelineFilter f;
  f.agency = "a";
  EXPECT_TRUE(MatchesAgencyAndCase(f, Ev(1, 0, K::kAccepted, "c", "a").header));
  EXPECT_TRUE(MatchesAgencyAndCase(f, Ev(1, 0, K::kReferral, "c", "s", {"b", "a"}).header));
  EXPECT_FALSE(MatchesAgencyAndCase(f, Ev(1, 0, K::kReferral, "c", "s", {"b"}).header));
  f.case_ref = "d";
  EXPECT_FALSE(MatchesAgencyAndCase(f, Ev(1, 0, K::kAccepted, "c", "a").header));
}

class SignatureAuditTest : public testing::JournalFixture {
 protected:
  // Appends `n` entries of "hosp" signed with `keys` (key id from it) and returns their seqs.
  void AppendSigned(Journal& journal, int n, const crypto::SigningKeyPair& keys) {
    for (int i = 0; i < n; ++i) {
      testing::EventSpec spec;
      spec.emitter = "hosp";
      AppendRequest r = testing::MakeRequest(spec);
      r.header.emitter_key_id = crypto::KeyId(keys.public_key);
      r.envelope.header = schema::EncodeHeader(r.header);
      r.envelope.signature = crypto::Sign(
          keys.secret_key,
          crypto::EnvelopeSigningMessage(crypto::HeaderHash(r.envelope.header),
                                         r.envelope.body_digest, r.envelope.wraps_digest));
      AppendOk(journal, std::move(r));
    }
  }
  schema::Registry RegistryWith(const crypto::SigningKeyPair& keys, base::TimeMs from,
                                base::TimeMs until) {
    schema::Registry reg;
    schema::Agency a;
    a.id = "hosp";
    a.keys.push_back(schema::AgencyKey{crypto::KeyId(keys.public_key), keys.public_key,
                                       base::Bytes(32, 1), base::Bytes(32, 2), from, until});
    reg.agencies.push_back(a);
    return reg;
  }
  crypto::SigningKeyPair hosp_ = crypto::GenerateSigningKeyPair();
};

TEST_F(SignatureAuditTest, EveryEntryVerifiesOnSeveralThreadsAndFindingsKeepTheirSeq) {
  auto journal = Open();
  AppendSigned(*journal, 40, hosp_);
  ASSERT_TRUE(journal->Close());
  CorruptColumn(17, "signature");
  SignatureAuditOptions options;
  options.threads = 3;
  auto result = AuditSignatures(*Reader(), RegistryWith(hosp_, 0, 0), options);
  ASSERT_TRUE(result) << result.error().ToString();
  EXPECT_EQ(result->checked, 40u);
  ASSERT_EQ(result->findings.size(), 1u);
  EXPECT_EQ(result->findings[0].seq, 17u);
  EXPECT_EQ(result->findings[0].code, "bad_signature");
}

TEST_F(SignatureAuditTest, KeyOutsideItsValidityAtReceptionIsReported) {
  auto journal = Open();
  AppendSigned(*journal, 3, hosp_);
  ASSERT_TRUE(journal->Close());
  const base::TimeMs later = base::SystemClock().NowMs() + base::kMsPerDay;
  auto result = AuditSignatures(*Reader(), RegistryWith(hosp_, later, 0), {});
  ASSERT_TRUE(result);
  ASSERT_EQ(result->findings.size(), 3u);
  for (const auto& f : result->findings) EXPECT_EQ(f.code, "key_not_valid");
  auto other = AuditSignatures(*Reader(), RegistryWith(crypto::GenerateSigningKeyPair(), 0, 0), {});
  ASSERT_TRUE(other);
  ASSERT_EQ(other->findings.size(), 3u);
  EXPECT_EQ(other->findings[2].code, "unknown_key");
  EXPECT_EQ(other->findings[2].seq, 3u);
}

}  // namespace
}  // namespace relais::journal
