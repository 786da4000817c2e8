// Failure paths of the codec: every input a hostile or broken peer can send is refused with
// kInvalidInput "malformed" naming the message type and the field, and nothing crashes.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

#include "schema/codec.h"
#include "schema/codec_internal.h"
#include "schema/codec_test_util.h"
#include "schema/envelope.capnp.h"
#include "schema/events.capnp.h"
#include "schema/registry.capnp.h"
#include "schema/sample_messages.h"
#include "schema/wire.capnp.h"

namespace relais::schema {
namespace {

using testing::IsMalformed;
using testing::Mutated;
using testing::SetDiscriminant;

// ---- Framing: empty, misaligned, truncated, oversize, trailing bytes ------------------------

TEST(CodecRejectTest, EmptyInputForEveryDecoder) {
  base::Bytes empty;
  EXPECT_TRUE(IsMalformed(DecodeHeader(empty), {"Header: empty input"}));
  EXPECT_TRUE(IsMalformed(DecodeEnvelope(empty), {"Envelope: empty input"}));
  EXPECT_TRUE(IsMalformed(DecodeEventBody(empty), {"EventBody: empty input"}));
  EXPECT_TRUE(IsMalformed(DecodeRegistry(empty), {"Registry: empty input"}));
  EXPECT_TRUE(IsMalformed(DecodeSignedRegistry(empty), {"SignedRegistry: empty input"}));
  EXPECT_TRUE(IsMalformed(DecodeFrame(empty), {"Frame: empty input"}));
}

// The error names the whole path, however deep: the first steps are held inline, the deeper
// ones beyond (a hostile nesting goes past the inline steps).
TEST(CodecRejectTest, AnErrorNamesItsPathAtAnyDepth) {
  DecodeLimits limits;
  internal::DecodeContext c("Deep", limits);
  std::string expected;
  for (size_t i = 0; i < 40; ++i) {
    c.Enter("f");
    c.EnterIndex(i);
    expected += (expected.empty() ? "f[" : ".f[") + std::to_string(i) + "]";
  }
  c.Enter("last");
  c.Leave();
  c.Leave();  // the last index
  const std::string shorter = expected.substr(0, expected.rfind(".f["));
  base::Error e = c.Fail("why");
  EXPECT_EQ(e.message, "Deep: " + shorter + ".f: why");
}

TEST(CodecRejectTest, LengthNotAMultipleOfEightBytes) {
  base::Bytes bytes = EncodeHeader(samples::ReferralHeader());
  bytes.push_back(0);
  EXPECT_TRUE(IsMalformed(DecodeHeader(bytes), {"Header: length", "multiple of 8"}));
}

TEST(CodecRejectTest, EveryTruncationOfAnEnvelope) {
  base::Bytes bytes = EncodeEnvelope(samples::FullEnvelope());
  for (size_t len = 0; len < bytes.size(); ++len) {
    auto decoded = DecodeEnvelope(base::ByteView(bytes).first(len));
    ASSERT_TRUE(IsMalformed(decoded, {"Envelope"})) << "length " << len;
  }
}

TEST(CodecRejectTest, EveryTruncationOfADeliverFrameAndARegistry) {
  base::Bytes frame = EncodeFrame(Deliver{1, 2, 3, samples::FullEnvelope()});
  for (size_t len = 0; len < frame.size(); ++len) {
    ASSERT_TRUE(IsMalformed(DecodeFrame(base::ByteView(frame).first(len)))) << len;
  }
  base::Bytes registry = EncodeRegistry(samples::FullRegistry());
  for (size_t len = 0; len < registry.size(); ++len) {
    ASSERT_TRUE(IsMalformed(DecodeRegistry(base::ByteView(registry).first(len)))) << len;
  }
}

TEST(CodecRejectTest, SegmentTableClaimingMoreThanSent) {
  base::Bytes bytes = EncodeHeader(samples::ReferralHeader());
  bytes[4] += 1;  // segment 0 one word longer than the input
  EXPECT_TRUE(IsMalformed(DecodeHeader(bytes), {"Header: invalid Cap'n Proto encoding"}));
  base::Bytes many = EncodeHeader(samples::ReferralHeader());
  many[0] = 0xff;  // 256 segments announced
  EXPECT_TRUE(IsMalformed(DecodeHeader(many), {"invalid Cap'n Proto encoding"}));
}

TEST(CodecRejectTest, OversizeInput) {
  base::Bytes bytes = EncodeEnvelope(samples::FullEnvelope());
  DecodeLimits limits;
  limits.max_bytes = bytes.size() - 8;
  EXPECT_TRUE(IsMalformed(DecodeEnvelope(bytes, limits), {"Envelope: message of", "exceeds"}));
  limits.max_bytes = bytes.size();
  EXPECT_TRUE(DecodeEnvelope(bytes, limits));
}

TEST(CodecRejectTest, DefaultLimitRefusesFourMebibytesPlusOneWord) {
  Envelope e;
  e.body.assign((4u << 20), 0x5a);
  base::Bytes bytes = EncodeEnvelope(e);
  ASSERT_GT(bytes.size(), DecodeLimits{}.max_bytes);
  EXPECT_TRUE(IsMalformed(DecodeEnvelope(bytes), {"exceeds the limit of 4194304"}));
}

TEST(CodecRejectTest, TrailingBytesAfterTheMessage) {
  base::Bytes bytes = EncodeFrame(Ack{7, {}});
  bytes.insert(bytes.end(), 8, 0);
  EXPECT_TRUE(IsMalformed(DecodeFrame(bytes), {"Frame: 8 trailing bytes"}));
  base::Bytes two = EncodeHeader(samples::ReferralHeader());
  base::Bytes second = EncodeHeader(samples::ConsentHeader());
  two.insert(two.end(), second.begin(), second.end());
  EXPECT_TRUE(IsMalformed(DecodeHeader(two), {"trailing bytes"}));
}

// ---- Traversal and nesting limits -----------------------------------------------------------

TEST(CodecRejectTest, NestingDeeperThanTheLimit) {
  // Frame -> Deliver -> Envelope -> wraps -> Wrap -> agency: five pointer levels.
  base::Bytes bytes = EncodeFrame(Deliver{1, 2, 3, samples::FullEnvelope()});
  DecodeLimits limits;
  limits.nesting_limit = 2;
  EXPECT_TRUE(IsMalformed(DecodeFrame(bytes, limits), {"Frame: deliver.envelope"}));
  limits.nesting_limit = 0;
  EXPECT_TRUE(IsMalformed(DecodeFrame(bytes, limits), {"Frame: "}));
  limits.nesting_limit = 16;
  EXPECT_TRUE(DecodeFrame(bytes, limits));
}

TEST(CodecRejectTest, TraversalLimitExceeded) {
  base::Bytes bytes = EncodeRegistry(samples::FullRegistry());
  DecodeLimits limits;
  limits.traversal_limit_words = 16;
  EXPECT_TRUE(
      IsMalformed(DecodeRegistry(bytes, limits), {"Registry: ", "invalid Cap'n Proto encoding"}));
}

TEST(CodecRejectTest, ZeroSizedStructListCannotAmplify) {
  // A list of zero-sized Identifier elements costs 16 bytes on the wire whatever its length; each
  // element would still become a C++ struct. The traversal budget is capped at the input's size
  // (plus 64 words), so a few hundred elements are already refused.
  auto make = [](unsigned count) {
    capnp::MallocMessageBuilder builder;
    auto person = builder.initRoot<wire::EventBody>().initReferral().initPerson();
    testing::AsAny(person).getPointerSection()[6].initAsListOfAnyStruct(0, 0, count);
    return testing::Flatten(builder);
  };
  base::Bytes many = make(1u << 19);
  ASSERT_LT(many.size(), 200u);
  EXPECT_TRUE(IsMalformed(
      DecodeEventBody(many),
      {"EventBody: referral.person.identifiers: invalid Cap'n Proto", "traversal limit"}));
  EXPECT_TRUE(IsMalformed(DecodeEventBody(make(200)), {"traversal limit"}));
  EXPECT_TRUE(DecodeEventBody(make(2)).has_value());
}

TEST(CodecRejectTest, AliasedPointersCannotAmplify) {
  // Two pointers to the same large Data: fine for Cap'n Proto's bounds checks, but it would make
  // the decoder read (and copy) the blob twice for the price of once.
  Envelope e;
  e.header.assign(4096, 0x11);  // 512 words: reading it twice overruns the 64-word slack
  base::Bytes bytes = EncodeEnvelope(e);
  ASSERT_TRUE(DecodeEnvelope(bytes));
  // Envelope pointers: header @0, body @1. Point body at header's blob: body's pointer sits one
  // word after header's, so its offset is header's offset minus one.
  const size_t root = 8;                     // root struct pointer (after the segment table)
  const size_t pointers = root + 8 + 8 * 0;  // the struct's data section is empty
  uint32_t header_ptr;
  std::memcpy(&header_ptr, &bytes[pointers], 4);
  int32_t offset = static_cast<int32_t>(header_ptr) >> 2;
  uint32_t body_ptr = (static_cast<uint32_t>(offset - 1) << 2) | (header_ptr & 3);
  std::memcpy(&bytes[pointers + 8], &body_ptr, 4);
  std::memcpy(&bytes[pointers + 12], &bytes[pointers + 4], 4);  // same list size
  EXPECT_TRUE(IsMalformed(DecodeEnvelope(bytes),
                          {"Envelope: body: invalid Cap'n Proto", "traversal limit"}));
}

// ---- Counts and sizes -----------------------------------------------------------------------

TEST(CodecRejectTest, TooManyRecipients) {
  Header h = samples::ReferralHeader();
  h.recipients.assign(257, "siao-75");
  EXPECT_TRUE(IsMalformed(DecodeHeader(EncodeHeader(h)),
                          {"Header: recipients: 257 elements exceed the limit of 256"}));
  h.recipients.resize(256);
  EXPECT_TRUE(DecodeHeader(EncodeHeader(h)));
}

TEST(CodecRejectTest, TooManyWraps) {
  Envelope e = samples::FullEnvelope();
  e.wraps.assign(5, e.wraps[0]);
  DecodeLimits limits;
  limits.max_recipients = 4;
  EXPECT_TRUE(IsMalformed(DecodeEnvelope(EncodeEnvelope(e), limits),
                          {"Envelope: wraps: 5 elements exceed the limit of 4"}));
}

TEST(CodecRejectTest, TooManyConsentRecipientAgencies) {
  Header h = samples::ConsentHeader();
  h.consent->recipient_agencies.assign(3, "siao-75");
  DecodeLimits limits;
  limits.max_recipients = 2;
  EXPECT_TRUE(IsMalformed(DecodeHeader(EncodeHeader(h), limits),
                          {"Header: consent.recipient_agencies: 3 elements"}));
}

TEST(CodecRejectTest, TooManyListElements) {
  ReferralBody r;
  r.person.languages.assign(11, "fr");
  DecodeLimits limits;
  limits.max_list_elements = 10;
  EXPECT_TRUE(IsMalformed(DecodeEventBody(EncodeEventBody(r), limits),
                          {"EventBody: referral.person.languages: 11 elements exceed"}));
  Registry reg = samples::FullRegistry();
  reg.agencies.resize(11, reg.agencies[0]);
  EXPECT_TRUE(IsMalformed(DecodeRegistry(EncodeRegistry(reg), limits),
                          {"Registry: agencies: 11 elements"}));
  AdminReply reply;
  reply.lines.assign(11, "x");
  EXPECT_TRUE(IsMalformed(DecodeFrame(EncodeFrame(reply), limits),
                          {"Frame: admin_reply.lines: 11 elements"}));
}

TEST(CodecRejectTest, TextOverTheLimitNamesTheFieldNotTheText) {
  const std::string secret = "Dupont-Secret-Identity";
  ReferralBody r;
  r.person.family_name = secret;
  DecodeLimits limits;
  limits.max_text_bytes = 8;
  auto decoded = DecodeEventBody(EncodeEventBody(r), limits);
  ASSERT_TRUE(IsMalformed(decoded, {"EventBody: referral.person.family_name: text of 22 bytes"}));
  EXPECT_EQ(decoded.error().message.find("Dupont"), std::string::npos);
}

TEST(CodecRejectTest, TextOverTheLimitInsideAListNamesTheElement) {
  Envelope e = samples::FullEnvelope();
  e.wraps[1].agency = std::string(100, 'a');
  DecodeLimits limits;
  limits.max_text_bytes = 64;
  EXPECT_TRUE(IsMalformed(DecodeEnvelope(EncodeEnvelope(e), limits),
                          {"Envelope: wraps[1].agency: text of 100 bytes"}));
  Header h = samples::ReferralHeader();
  h.recipients[1] = std::string(65, 'b');
  EXPECT_TRUE(IsMalformed(DecodeHeader(EncodeHeader(h), limits), {"Header: recipients[1]: "}));
}

TEST(CodecRejectTest, TextWithoutNulTerminator) {
  base::Bytes bytes =
      Mutated<wire::Header>(EncodeHeader(samples::ReferralHeader()), [](wire::Header::Builder h) {
        // Same bytes as the case ref, but as Data (no NUL).
        h.setCaseRef("");
        auto d = testing::AsAny(h).getPointerSection()[1].initAs<capnp::Data>(3);
        d[0] = 'a';
        d[1] = 'b';
        d[2] = 'c';
      });
  EXPECT_TRUE(IsMalformed(DecodeHeader(bytes), {"Header: case_ref: invalid Cap'n Proto"}));
}

TEST(CodecRejectTest, WrongSizeEventId) {
  for (size_t size : {0, 1, 15, 17, 32}) {
    Header h = samples::ReferralHeader();
    h.event_id.assign(size, 7);
    EXPECT_TRUE(IsMalformed(DecodeHeader(EncodeHeader(h)),
                            {"Header: event_id: must be 16 bytes, got " + std::to_string(size)}));
  }
}

TEST(CodecRejectTest, WrongSizeInReplyTo) {
  Header h = samples::ReferralHeader();
  h.in_reply_to.assign(8, 1);
  EXPECT_TRUE(IsMalformed(DecodeHeader(EncodeHeader(h)),
                          {"Header: in_reply_to: must be empty or 16 bytes, got 8"}));
}

TEST(CodecRejectTest, WrongSizeDigestsAndSignatureInEnvelope) {
  Envelope e = samples::FullEnvelope();
  e.body_digest.resize(31);
  EXPECT_TRUE(IsMalformed(DecodeEnvelope(EncodeEnvelope(e)), {"Envelope: body_digest"}));
  e = samples::FullEnvelope();
  e.wraps_digest.resize(64);
  EXPECT_TRUE(IsMalformed(DecodeEnvelope(EncodeEnvelope(e)), {"Envelope: wraps_digest"}));
  e = samples::FullEnvelope();
  e.signature.resize(63);
  EXPECT_TRUE(IsMalformed(DecodeEnvelope(EncodeEnvelope(e)),
                          {"Envelope: signature: must be empty or 64 bytes, got 63"}));
}

TEST(CodecRejectTest, WrongSizeEnvelopeInsideAFrame) {
  Envelope e = samples::FullEnvelope();
  e.signature.resize(10);
  EXPECT_TRUE(
      IsMalformed(DecodeFrame(EncodeFrame(Publish{e})), {"Frame: publish.envelope.signature"}));
  EXPECT_TRUE(IsMalformed(DecodeFrame(EncodeFrame(Deliver{1, 1, 1, e})),
                          {"Frame: deliver.envelope.signature"}));
}

TEST(CodecRejectTest, WrongSizePublishAckEventId) {
  PublishAck ack;
  ack.event_id.assign(5, 1);
  EXPECT_TRUE(IsMalformed(DecodeFrame(EncodeFrame(ack)), {"Frame: publish_ack.event_id"}));
}

TEST(CodecRejectTest, WrongSizeRegistryKeys) {
  const char* fields[] = {"sign_key", "seal_key", "curve_key"};
  for (int which = 0; which < 3; ++which) {
    Registry r = samples::FullRegistry();
    AgencyKey& key = r.agencies[0].keys[1];
    Bytes& bytes = which == 0 ? key.sign_key : which == 1 ? key.seal_key : key.curve_key;
    bytes.resize(which == 2 ? 0 : 33);
    EXPECT_TRUE(IsMalformed(
        DecodeRegistry(EncodeRegistry(r)),
        {std::string("Registry: agencies[0].keys[1].") + fields[which] + ": must be 32 bytes"}));
  }
}

TEST(CodecRejectTest, SignedRegistrySignatureMustBe64BytesOrEmpty) {
  SignedRegistry s = samples::FullSignedRegistry();
  for (size_t size : {1, 32, 63, 65}) {
    s.signature.assign(size, 0x5a);
    EXPECT_TRUE(IsMalformed(
        DecodeSignedRegistry(EncodeSignedRegistry(s)),
        {"SignedRegistry: signature: must be empty or 64 bytes, got " + std::to_string(size)}));
  }
  // Empty = an edited registry awaiting signature: it decodes, and crypto refuses it as unsigned.
  s.signature.clear();
  auto unsigned_registry = DecodeSignedRegistry(EncodeSignedRegistry(s));
  ASSERT_TRUE(unsigned_registry);
  EXPECT_TRUE(unsigned_registry->signature.empty());
}

TEST(CodecRejectTest, SignedRegistryWithoutRegistry) {
  SignedRegistry s = samples::FullSignedRegistry();
  s.registry.clear();
  EXPECT_TRUE(IsMalformed(DecodeSignedRegistry(EncodeSignedRegistry(s)),
                          {"SignedRegistry: registry: empty"}));
}

// ---- Values from a newer schema -------------------------------------------------------------

TEST(CodecRejectTest, UnknownHeaderEnumOrdinals) {
  base::Bytes valid = EncodeHeader(samples::FullHeader());
  struct Case {
    const char* field;
    void (*mutate)(wire::Header::Builder);
  };
  const Case cases[] = {
      {"kind", [](wire::Header::Builder h) { h.setKind(static_cast<wire::EventKind>(17)); }},
      {"referral_kind",
       [](wire::Header::Builder h) { h.setReferralKind(static_cast<wire::ReferralKind>(7)); }},
      {"legal_basis",
       [](wire::Header::Builder h) { h.setLegalBasis(static_cast<wire::LegalBasis>(4)); }},
      {"tier", [](wire::Header::Builder h) { h.setTier(static_cast<wire::Tier>(2)); }},
      {"purpose", [](wire::Header::Builder h) { h.setPurpose(static_cast<wire::Purpose>(6)); }},
      {"decline_reason",
       [](wire::Header::Builder h) { h.setDeclineReason(static_cast<wire::DeclineReason>(5)); }},
      {"consent.method",
       [](wire::Header::Builder h) {
         h.getConsent().setMethod(static_cast<wire::ConsentMethod>(3));
       }},
      {"consent.purposes[1]",
       [](wire::Header::Builder h) {
         h.getConsent().getPurposes().set(1, static_cast<wire::Purpose>(0xffff));
       }},
      {"consent.tier",
       [](wire::Header::Builder h) { h.getConsent().setTier(static_cast<wire::Tier>(9)); }},
      {"consent.legal_basis",
       [](wire::Header::Builder h) {
         h.getConsent().setLegalBasis(static_cast<wire::LegalBasis>(100));
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    auto decoded = DecodeHeader(Mutated<wire::Header>(valid, c.mutate));
    EXPECT_TRUE(IsMalformed(decoded, {std::string("Header: ") + c.field + ": unknown enum value"}));
  }
}

TEST(CodecRejectTest, UnknownRegistryEnumOrdinals) {
  base::Bytes valid = EncodeRegistry(samples::FullRegistry());
  EXPECT_TRUE(IsMalformed(
      DecodeRegistry(Mutated<wire::Registry>(
          valid, [](auto r) { r.getAgencies()[1].setKind(static_cast<wire::AgencyKind>(10)); })),
      {"Registry: agencies[1].kind: unknown enum value 10"}));
  EXPECT_TRUE(
      IsMalformed(DecodeRegistry(Mutated<wire::Registry>(valid,
                                                         [](auto r) {
                                                           r.getAgencies()[0].getMayEmit().set(
                                                               2, static_cast<wire::EventKind>(17));
                                                         })),
                  {"Registry: agencies[0].may_emit[2]: unknown enum value 17"}));
  EXPECT_TRUE(IsMalformed(
      DecodeRegistry(Mutated<wire::Registry>(valid,
                                             [](auto r) {
                                               r.getAgencies()[0].getNoticeWithoutConsent().set(
                                                   0, static_cast<wire::ReferralKind>(99));
                                             })),
      {"Registry: agencies[0].notice_without_consent[0]"}));
}

TEST(CodecRejectTest, UnknownAckStatus) {
  base::Bytes valid = EncodeFrame(PublishAck{});
  auto bytes = Mutated<wire::Frame>(
      valid, [](auto f) { f.getPublishAck().setStatus(static_cast<wire::AckStatus>(3)); });
  EXPECT_TRUE(IsMalformed(DecodeFrame(bytes), {"Frame: publish_ack.status: unknown enum value 3"}));
}

TEST(CodecRejectTest, UnknownEventBodyAlternative) {
  base::Bytes valid = EncodeEventBody(NoteBody{"x"});
  auto bytes =
      Mutated<wire::EventBody>(valid, [](auto b) { SetDiscriminant<wire::EventBody>(b, 8); });
  EXPECT_TRUE(IsMalformed(DecodeEventBody(bytes), {"EventBody: unknown union alternative 8"}));
}

TEST(CodecRejectTest, UnknownReferralDetailsAlternative) {
  base::Bytes valid = EncodeEventBody(samples::EventBodies()[1].second);
  auto bytes = Mutated<wire::EventBody>(
      valid, [](auto b) { SetDiscriminant<wire::ReferralBody::Details>(b.getReferral(), 5); });
  EXPECT_TRUE(IsMalformed(DecodeEventBody(bytes),
                          {"EventBody: referral.details: unknown union alternative 5"}));
}

TEST(CodecRejectTest, UnknownFrameAlternatives) {
  auto frame = Mutated<wire::Frame>(EncodeFrame(Ack{1, {}}),
                                    [](auto f) { SetDiscriminant<wire::Frame>(f, 10); });
  EXPECT_TRUE(IsMalformed(DecodeFrame(frame), {"Frame: unknown union alternative 10"}));
  auto subscribe = Mutated<wire::Frame>(EncodeFrame(Subscribe{}), [](auto f) {
    SetDiscriminant<wire::Subscribe::Resume>(f.getSubscribe(), 3);
  });
  EXPECT_TRUE(IsMalformed(DecodeFrame(subscribe),
                          {"Frame: subscribe.resume: unknown union alternative 3"}));
  auto admin = Mutated<wire::Frame>(EncodeFrame(AdminRequest{}), [](auto f) {
    SetDiscriminant<wire::AdminRequest>(f.getAdminRequest(), 0x7fff);
  });
  EXPECT_TRUE(IsMalformed(DecodeFrame(admin),
                          {"Frame: admin_request.op: unknown union alternative 32767"}));
}

// ---- Wrong pointer kinds and garbage --------------------------------------------------------

TEST(CodecRejectTest, ListWhereAStructIsExpected) {
  auto bytes = Mutated<wire::Frame>(EncodeFrame(Publish{samples::FullEnvelope()}), [](auto f) {
    testing::AsAny(f.getPublish())
        .getPointerSection()[0]
        .template setAs<capnp::Text>("not an envelope");
  });
  EXPECT_TRUE(
      IsMalformed(DecodeFrame(bytes), {"Frame: publish.envelope: invalid Cap'n Proto encoding"}));
}

TEST(CodecRejectTest, StructWhereTextIsExpected) {
  auto bytes = Mutated<wire::Header>(EncodeHeader(samples::ReferralHeader()), [](auto h) {
    testing::AsAny(h).getPointerSection()[2].template initAs<wire::Wrap>();
  });
  EXPECT_TRUE(IsMalformed(DecodeHeader(bytes), {"Header: emitter: invalid Cap'n Proto encoding"}));
}

TEST(CodecRejectTest, OutOfBoundsRootPointer) {
  base::Bytes bytes = EncodeHeader(samples::ReferralHeader());
  bytes[8] = 0xfc;  // struct pointer offset far past the segment
  bytes[9] = 0xff;
  bytes[10] = 0xff;
  bytes[11] = 0x0f;
  EXPECT_TRUE(IsMalformed(DecodeHeader(bytes), {"Header: invalid Cap'n Proto encoding"}));
}

TEST(CodecRejectTest, EveryBitFlipOfAFrameIsDecodedOrRefused) {
  base::Bytes valid = EncodeFrame(Publish{samples::FullEnvelope()});
  int refused = 0;
  for (size_t bit = 0; bit < valid.size() * 8; ++bit) {
    base::Bytes bytes = valid;
    bytes[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto decoded = DecodeFrame(bytes);
    if (!decoded) {
      ASSERT_TRUE(IsMalformed(decoded, {"Frame"})) << "bit " << bit;
      ++refused;
    } else {
      // Whatever decodes re-encodes to an equal value.
      auto again = DecodeFrame(EncodeFrame(*decoded));
      ASSERT_TRUE(again) << "bit " << bit;
      ASSERT_TRUE(*again == *decoded) << "bit " << bit;
    }
  }
  EXPECT_GT(refused, 0);
}

TEST(CodecRejectTest, RandomBytesAreRefusedWithoutCrashing) {
  std::mt19937_64 rng(20260401);
  for (int i = 0; i < 2000; ++i) {
    base::Bytes bytes(8 * (1 + rng() % 64));
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    // A plausible segment table half of the time, so the pointers get exercised.
    if (i % 2 == 0) {
      bytes[0] = bytes[1] = bytes[2] = bytes[3] = 0;
      uint32_t words = static_cast<uint32_t>(bytes.size() / 8 - 1);
      bytes[4] = static_cast<uint8_t>(words);
      bytes[5] = bytes[6] = bytes[7] = 0;
    }
    for (auto result : {DecodeHeader(bytes).has_value(), DecodeEnvelope(bytes).has_value(),
                        DecodeEventBody(bytes).has_value(), DecodeRegistry(bytes).has_value(),
                        DecodeSignedRegistry(bytes).has_value(), DecodeFrame(bytes).has_value()}) {
      (void)result;
    }
  }
  auto r = DecodeFrame(base::Bytes(16, 0xff));
  EXPECT_TRUE(IsMalformed(r, {"Frame"}));
}

}  // namespace
}  // namespace relais::schema
