// Schema evolution: a peer built against an older envelope.capnp (schema/testdata/
// envelope_v0.capnp) and the current codec understand each other, as docs/schema.md promises.
#include <gtest/gtest.h>

#include "schema/codec.h"
#include "schema/codec_test_util.h"
#include "schema/sample_messages.h"
#include "schema/testdata/envelope_v0.capnp.h"

namespace relais::schema {
namespace {

using testing::Flatten;

// What an old emitter writes: every v0 field set.
base::Bytes OldHeaderBytes() {
  capnp::MallocMessageBuilder builder;
  auto h = builder.initRoot<wire_v0::Header>();
  Header sample = samples::ReferralHeader();
  h.setVersion(1);
  h.setEventId(capnp::Data::Reader(sample.event_id.data(), sample.event_id.size()));
  h.setKind(wire_v0::EventKind::REFERRAL);
  h.setReferralKind(wire_v0::ReferralKind::PRISON_RELEASE);
  h.setCaseRef("c-old");
  h.setEmitter("spip-75");
  h.setEmitterKeyId("0123456789abcdef");
  h.setActor("cpip-12");
  auto recipients = h.initRecipients(2);
  recipients.set(0, "siao-75");
  recipients.set(1, "association-relais");
  h.setConsentRef("consent-1");
  h.setLegalBasis(wire_v0::LegalBasis::LEGAL_OBLIGATION);
  h.setTier(wire_v0::Tier::NOTICE);
  return Flatten(builder);
}

TEST(EvolutionTest, OldHeaderDecodesWithNewFieldsAtTheirDefaults) {
  auto decoded = DecodeHeader(OldHeaderBytes());
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  const Header& h = *decoded;
  EXPECT_EQ(h.version, 1);
  EXPECT_EQ(h.event_id, samples::ReferralHeader().event_id);
  EXPECT_EQ(h.kind, EventKind::kReferral);
  EXPECT_EQ(h.referral_kind, ReferralKind::kPrisonRelease);
  EXPECT_EQ(h.case_ref, "c-old");
  EXPECT_EQ(h.emitter, "spip-75");
  EXPECT_EQ(h.emitter_key_id, "0123456789abcdef");
  EXPECT_EQ(h.actor, "cpip-12");
  EXPECT_EQ(h.recipients, (std::vector<std::string>{"siao-75", "association-relais"}));
  EXPECT_EQ(h.consent_ref, "consent-1");
  EXPECT_EQ(h.legal_basis, LegalBasis::kLegalObligation);
  EXPECT_EQ(h.tier, Tier::kNotice);
  // Fields the old schema did not have read as their Cap'n Proto defaults.
  EXPECT_EQ(h.purpose, Purpose::kUnspecified);
  EXPECT_EQ(h.emitted_at, 0);
  EXPECT_EQ(h.due_at, 0);
  EXPECT_TRUE(h.in_reply_to.empty());
  EXPECT_EQ(h.decline_reason, DeclineReason::kNone);
  EXPECT_FALSE(h.consent.has_value());
}

TEST(EvolutionTest, OldHeaderMissingARequiredNewFieldFailsValidationNotDecoding) {
  auto decoded = DecodeHeader(OldHeaderBytes());
  ASSERT_TRUE(decoded);
  base::Status s = ValidateHeader(*decoded);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message, "Header: emitted_at: must be positive");
}

// Reads `bytes` with the v0 generated reader (what an old receiver does).
template <typename Check>
void ReadAsOld(const base::Bytes& bytes, Check&& check) {
  kj::Array<capnp::word> words = kj::heapArray<capnp::word>(bytes.size() / 8);
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  capnp::FlatArrayMessageReader reader(words);
  check(reader.getRoot<wire_v0::Header>());
}

TEST(EvolutionTest, NewHeaderReadByOldReaderIgnoresNewFields) {
  Header full = samples::FullHeader();
  ReadAsOld(EncodeHeader(full), [&](wire_v0::Header::Reader old) {
    EXPECT_EQ(old.getVersion(), full.version);
    EXPECT_EQ(base::Bytes(old.getEventId().begin(), old.getEventId().end()), full.event_id);
    EXPECT_EQ(static_cast<int>(old.getKind()), static_cast<int>(full.kind));
    EXPECT_EQ(static_cast<int>(old.getReferralKind()), static_cast<int>(full.referral_kind));
    EXPECT_EQ(old.getCaseRef(), full.case_ref.c_str());
    EXPECT_EQ(old.getEmitter(), full.emitter.c_str());
    EXPECT_EQ(old.getEmitterKeyId(), full.emitter_key_id.c_str());
    EXPECT_EQ(old.getActor(), full.actor.c_str());
    ASSERT_EQ(old.getRecipients().size(), full.recipients.size());
    for (unsigned i = 0; i < full.recipients.size(); ++i) {
      EXPECT_EQ(old.getRecipients()[i], full.recipients[i].c_str());
    }
    EXPECT_EQ(old.getConsentRef(), full.consent_ref.c_str());
    EXPECT_EQ(static_cast<int>(old.getLegalBasis()), static_cast<int>(full.legal_basis));
    EXPECT_EQ(static_cast<int>(old.getTier()), static_cast<int>(full.tier));
  });
}

TEST(EvolutionTest, OldRelayCopyingANewHeaderKeepsTheNewFields) {
  // Cap'n Proto copies unknown fields along with the struct, so an old component that stores and
  // forwards a header does not strip what it cannot read.
  Header full = samples::FullHeader();
  base::Bytes relayed;
  ReadAsOld(EncodeHeader(full), [&](wire_v0::Header::Reader old) {
    capnp::MallocMessageBuilder builder;
    builder.setRoot(old);
    relayed = Flatten(builder);
  });
  auto decoded = DecodeHeader(relayed);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(*decoded, full);
}

TEST(EvolutionTest, KindAddedLaterIsOutOfRangeForTheOldReader) {
  // Why the codec range-checks enums: an old reader gets the raw ordinal of a kind it has no
  // enumerant for. Ours refuses such values (CodecRejectTest.UnknownHeaderEnumOrdinals).
  Header h = samples::ReferralHeader();
  h.kind = EventKind::kOfferTaken;
  h.referral_kind = ReferralKind::kNone;
  ReadAsOld(EncodeHeader(h), [](wire_v0::Header::Reader old) {
    EXPECT_EQ(static_cast<int>(old.getKind()), 16);
    EXPECT_GT(static_cast<int>(old.getKind()), static_cast<int>(wire_v0::EventKind::PURGE_RECEIPT));
  });
}

}  // namespace
}  // namespace relais::schema
