// Success paths of the codec: every message type, every union alternative, all fields populated.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "schema/codec.h"
#include "schema/codec_test_util.h"
#include "schema/envelope.capnp.h"
#include "schema/sample_messages.h"

namespace relais::schema {
namespace {

using testing::Flatten;

// Decodes `encoded` and checks value equality, then that encoding is deterministic.
template <typename T, typename Decode, typename Encode>
void ExpectRoundTrip(const T& value, Decode decode, Encode encode) {
  base::Bytes encoded = encode(value);
  ASSERT_EQ(encoded.size() % 8, 0u);
  auto decoded = decode(encoded, DecodeLimits{});
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_TRUE(*decoded == value);
  EXPECT_EQ(encode(*decoded), encoded);
}

TEST(CodecRoundTripTest, HeaderWithEveryFieldSet) {
  Header h = samples::FullHeader();
  ASSERT_TRUE(h.consent.has_value());
  ASSERT_FALSE(h.in_reply_to.empty());
  ExpectRoundTrip(h, DecodeHeader, EncodeHeader);
}

TEST(CodecRoundTripTest, ReferralAndConsentHeaders) {
  ExpectRoundTrip(samples::ReferralHeader(), DecodeHeader, EncodeHeader);
  ExpectRoundTrip(samples::ConsentHeader(), DecodeHeader, EncodeHeader);
}

TEST(CodecRoundTripTest, HeaderWithoutConsentDecodesWithoutConsent) {
  Header h = samples::ReferralHeader();
  ASSERT_FALSE(h.consent.has_value());
  auto decoded = DecodeHeader(EncodeHeader(h));
  ASSERT_TRUE(decoded);
  EXPECT_FALSE(decoded->consent.has_value());
}

TEST(CodecRoundTripTest, HeaderWithEmptyConsentTermsKeepsThemPresent) {
  Header h = samples::ReferralHeader();
  h.consent = ConsentTerms{};
  ExpectRoundTrip(h, DecodeHeader, EncodeHeader);
}

TEST(CodecRoundTripTest, HeaderWithEveryEnumValue) {
  for (int k = 0; k < kEventKindCount; ++k) {
    Header h = samples::ReferralHeader();
    h.kind = static_cast<EventKind>(k);
    h.referral_kind = static_cast<ReferralKind>(k % kReferralKindCount);
    h.purpose = static_cast<Purpose>(k % kPurposeCount);
    h.legal_basis = static_cast<LegalBasis>(k % kLegalBasisCount);
    h.decline_reason = static_cast<DeclineReason>(k % kDeclineReasonCount);
    h.tier = static_cast<Tier>(k % kTierCount);
    SCOPED_TRACE(EventKindName(h.kind));
    ExpectRoundTrip(h, DecodeHeader, EncodeHeader);
  }
}

TEST(CodecRoundTripTest, EnvelopeWithEveryFieldSet) {
  ExpectRoundTrip(samples::FullEnvelope(), DecodeEnvelope, EncodeEnvelope);
}

TEST(CodecRoundTripTest, EnvelopeWithOptionalFieldsEmpty) {
  Envelope e = samples::FullEnvelope();
  e.wraps.clear();
  e.body_digest.clear();
  e.wraps_digest.clear();
  e.signature.clear();
  ExpectRoundTrip(e, DecodeEnvelope, EncodeEnvelope);
}

TEST(CodecRoundTripTest, EnvelopeHeaderBytesAreKeptExactly) {
  Envelope e = samples::FullEnvelope();
  auto decoded = DecodeEnvelope(EncodeEnvelope(e));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->header, e.header);
  auto header = DecodeHeader(decoded->header);
  ASSERT_TRUE(header);
  EXPECT_EQ(*header, samples::ReferralHeader());
}

TEST(CodecRoundTripTest, EveryEventBodyAlternative) {
  auto bodies = samples::EventBodies();
  std::set<size_t> alternatives;
  std::set<size_t> details;
  for (const auto& [name, body] : bodies) {
    SCOPED_TRACE(name);
    alternatives.insert(body.index());
    if (auto* referral = std::get_if<ReferralBody>(&body))
      details.insert(referral->details.index());
    ExpectRoundTrip(body, DecodeEventBody, EncodeEventBody);
  }
  EXPECT_EQ(alternatives.size(), std::variant_size_v<EventBody>);
  EXPECT_EQ(details.size(), std::variant_size_v<decltype(ReferralBody::details)>);
}

TEST(CodecRoundTripTest, DefaultValuedBodiesRoundTrip) {
  ExpectRoundTrip(EventBody{ReferralBody{}}, DecodeEventBody, EncodeEventBody);
  ExpectRoundTrip(EventBody{NoteBody{}}, DecodeEventBody, EncodeEventBody);
  ExpectRoundTrip(EventBody{BrokerNoticeBody{}}, DecodeEventBody, EncodeEventBody);
}

TEST(CodecRoundTripTest, TextKeepsUtf8AndEmbeddedNul) {
  static constexpr char kText[] = "avant\0après — ü 🏠";
  NoteBody note{std::string(kText, sizeof(kText) - 1)};
  ASSERT_EQ(note.note.find('\0'), 5u);
  ExpectRoundTrip(EventBody{note}, DecodeEventBody, EncodeEventBody);
}

TEST(CodecRoundTripTest, RegistryWithEveryFieldSet) {
  ExpectRoundTrip(samples::FullRegistry(), DecodeRegistry, EncodeRegistry);
}

TEST(CodecRoundTripTest, SignedRegistryAndTheRegistryInside) {
  SignedRegistry s = samples::FullSignedRegistry();
  ExpectRoundTrip(s, DecodeSignedRegistry, EncodeSignedRegistry);
  auto decoded = DecodeSignedRegistry(EncodeSignedRegistry(s));
  ASSERT_TRUE(decoded);
  auto registry = DecodeRegistry(decoded->registry);
  ASSERT_TRUE(registry);
  EXPECT_EQ(*registry, samples::FullRegistry());
}

TEST(CodecRoundTripTest, EveryFrameAlternative) {
  std::set<size_t> alternatives;
  for (const auto& [name, frame] : samples::Frames()) {
    SCOPED_TRACE(name);
    alternatives.insert(frame.index());
    ExpectRoundTrip(frame, DecodeFrame, EncodeFrame);
  }
  EXPECT_EQ(alternatives.size(), std::variant_size_v<Frame>);
}

TEST(CodecRoundTripTest, PublishAckWithoutEventId) {
  // A publish too broken to yield an event id is still answered.
  PublishAck ack{{}, 0, AckStatus::kFatal, "malformed", "Envelope: empty input", false};
  ExpectRoundTrip(Frame{ack}, DecodeFrame, EncodeFrame);
}

// Found by fuzz_frame: an empty case ref used to leave the union on reloadRegistry.
TEST(CodecRoundTripTest, AdminRequestOfEveryOpWithEmptyArguments) {
  for (auto op : {AdminRequest::Op::kReloadRegistry, AdminRequest::Op::kListDeadLetters,
                  AdminRequest::Op::kRequeueDeadLetter, AdminRequest::Op::kCaseReceipt}) {
    AdminRequest request;
    request.request_id = 9;
    request.op = op;
    ExpectRoundTrip(Frame{request}, DecodeFrame, EncodeFrame);
  }
}

TEST(CodecRoundTripTest, LimitsAreInclusive) {
  DecodeLimits limits;
  limits.max_recipients = 3;
  limits.max_text_bytes = 14;  // "c-7f3a9e21b04d"
  Header h = samples::FullHeader();
  h.recipients = {"siao-75", "chrs-75", "lhss-93"};
  h.actor = "";
  h.emitter = "a";
  h.emitter_key_id = "k";
  h.consent_ref = "";
  h.consent = ConsentTerms{};
  base::Bytes bytes = EncodeHeader(h);
  limits.max_bytes = bytes.size();
  auto decoded = DecodeHeader(bytes, limits);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(*decoded, h);
}

TEST(CodecRoundTripTest, LargeMessagesAreStillOneSegment) {
  Envelope e = samples::FullEnvelope();
  e.body.assign(3u << 20, 0xab);  // far past MallocMessageBuilder's first segment
  base::Bytes bytes = EncodeEnvelope(e);
  // Segment table: u32 (segment count - 1) == 0, then the segment size in words.
  ASSERT_GE(bytes.size(), 8u);
  EXPECT_EQ(bytes[0] | bytes[1] | bytes[2] | bytes[3], 0);
  uint32_t words =
      bytes[4] | bytes[5] << 8 | bytes[6] << 16 | static_cast<uint32_t>(bytes[7]) << 24;
  EXPECT_EQ((words + 1) * 8u, bytes.size());
  auto decoded = DecodeEnvelope(bytes);
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(*decoded, e);
}

TEST(CodecRoundTripTest, AcceptsUnalignedInput) {
  base::Bytes bytes = EncodeEnvelope(samples::FullEnvelope());
  base::Bytes shifted(bytes.size() + 1);
  std::copy(bytes.begin(), bytes.end(), shifted.begin() + 1);
  auto decoded = DecodeEnvelope(base::ByteView(shifted).subspan(1));
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(*decoded, samples::FullEnvelope());
}

TEST(CodecRoundTripTest, AcceptsMultiSegmentInput) {
  // Other Cap'n Proto implementations may send several segments; they are valid input.
  capnp::MallocMessageBuilder builder(1, capnp::AllocationStrategy::FIXED_SIZE);
  auto root = builder.initRoot<wire::Header>();
  root.setVersion(1);
  root.setEventId(capnp::Data::Reader(samples::ReferralHeader().event_id.data(), kEventIdSize));
  root.setCaseRef("c-1");
  root.initRecipients(2).set(0, "siao-75");
  ASSERT_GT(builder.getSegmentsForOutput().size(), 1u);
  auto decoded = DecodeHeader(Flatten(builder));
  ASSERT_TRUE(decoded) << decoded.error().ToString();
  EXPECT_EQ(decoded->case_ref, "c-1");
  EXPECT_EQ(decoded->recipients, (std::vector<std::string>{"siao-75", ""}));
}

// The committed fuzz seeds (tests/fuzz/corpus) must stay valid as the schema evolves.
TEST(CodecRoundTripTest, FuzzSeedCorpusDecodes) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(RELAIS_SOURCE_DIR) / "tests/fuzz/corpus";
  auto check = [&](const char* target, auto decode) {
    SCOPED_TRACE(target);
    int files = 0;
    ASSERT_TRUE(fs::is_directory(root / target));
    for (const auto& entry : fs::directory_iterator(root / target)) {
      std::ifstream in(entry.path(), std::ios::binary);
      base::Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto decoded = decode(bytes, DecodeLimits{});
      EXPECT_TRUE(decoded) << entry.path() << ": " << decoded.error().ToString();
      ++files;
    }
    EXPECT_GT(files, 0);
  };
  check("header", DecodeHeader);
  check("envelope", DecodeEnvelope);
  check("event_body", DecodeEventBody);
  check("registry", DecodeRegistry);
  check("signed_registry", DecodeSignedRegistry);
  check("frame", DecodeFrame);
}

}  // namespace
}  // namespace relais::schema
