// Hostile but authenticated clients against a real relaisd (issue 11, security): replayed
// envelopes, replays under a new event id, bit-flipped envelopes, oversized, deeply nested and
// cyclic Cap'n Proto frames on a raw DEALER, and a registered agency publishing as another. Each is
// refused with its code (docs/protocol.md §7) and nothing of it is journaled; the broker keeps
// serving.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

#include "crypto/seal.h"
#include "schema/codec.h"
#include "tests/security/security_fixture.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;

// The code of the broker's answer to one publish on a raw DEALER: "ok", "ok-duplicate", the fatal
// or transient code of a publishAck, "error:<code>" for an error frame, "" for no answer.
std::string Answer(RawDealer& dealer, std::chrono::milliseconds timeout = 5s) {
  auto frame = dealer.Receive(timeout);
  if (!frame) return "";
  if (auto* ack = std::get_if<schema::PublishAck>(&*frame)) {
    if (ack->status == schema::AckStatus::kOk) return ack->duplicate ? "ok-duplicate" : "ok";
    return ack->code;
  }
  if (auto* error = std::get_if<schema::ErrorFrame>(&*frame)) return "error:" + error->code;
  return "other-frame";
}

base::Bytes PublishFrame(const schema::Envelope& envelope) {
  return schema::EncodeFrame(schema::Frame(schema::Publish{envelope}));
}

TEST_F(SecurityTest, ReplayIsAckedAsDuplicateAndAReplayUnderANewEventIdIsRefused) {
  auto hospital = Connect(hospital_);
  auto envelope = MakeReferral(*deployment_, hospital_, {"assoc-a"});
  auto first = hospital->Publish(envelope, sdk::DeadlineAfter(10s));
  ASSERT_TRUE(first) << first.error().ToString();
  // The same bytes again, on the same and on another connection of the emitter.
  auto again = hospital->Publish(envelope, sdk::DeadlineAfter(10s));
  ASSERT_TRUE(again) << again.error().ToString();
  EXPECT_TRUE(again->duplicate);
  EXPECT_EQ(again->seq, first->seq);
  auto raw = Raw(hospital_);
  ASSERT_TRUE(raw->Send(PublishFrame(envelope)));
  EXPECT_EQ(Answer(*raw), "ok-duplicate");

  // A replay dressed up as a new event: fresh event id, the old signature.
  auto header = schema::DecodeHeader(envelope.header);
  ASSERT_TRUE(header);
  header->event_id = crypto::NewEventId(base::SystemClock().NowMs());
  schema::Envelope renamed = envelope;
  renamed.header = schema::EncodeHeader(*header);
  auto r = hospital->Publish(renamed, sdk::DeadlineAfter(10s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "bad_signature");
  // Another registered agency replaying the hospital's envelope as its own.
  auto id_a = deployment_->Identity("assoc-a");
  auto a = Connect(id_a);
  auto stolen = a->Publish(envelope, sdk::DeadlineAfter(10s));
  ASSERT_FALSE(stolen);
  EXPECT_EQ(stolen.error().code, "emitter_mismatch");

  EXPECT_EQ(JournalRows(), 1u);  // journaled once
}

TEST_F(SecurityTest, BitFlippedEnvelopesAreAllRefusedAndNothingIsJournaled) {
  constexpr int kTrials = 300;
  auto envelope = MakeReferral(*deployment_, hospital_, {"assoc-a", "assoc-b"});
  auto raw = Raw(hospital_);
  std::mt19937 rng(20261125);
  std::map<std::string, int> codes;
  int accepted = 0;
  for (int i = 0; i < kTrials; ++i) {
    schema::Envelope e = envelope;
    std::vector<base::Bytes*> fields = {&e.header,
                                        &e.body,
                                        &e.body_digest,
                                        &e.wraps_digest,
                                        &e.signature,
                                        &e.wraps[0].sealed_key,
                                        &e.wraps[1].sealed_key};
    base::Bytes& field = *fields[rng() % fields.size()];
    size_t bit = rng() % (field.size() * 8);
    field[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    ASSERT_TRUE(raw->Send(PublishFrame(e)));
    std::string answer = Answer(*raw);
    ++codes[answer];
    if (answer.rfind("ok", 0) == 0 || answer.empty()) ++accepted;
  }
  std::string summary;
  for (const auto& [code, n] : codes)
    summary += (code.empty() ? "<none>" : code) + "=" + std::to_string(n) + " ";
  std::printf("bit flips: %d trials: %s\n", kTrials, summary.c_str());
  EXPECT_EQ(accepted, 0) << summary;
  // Each answer is a fatal refusal: a flip changes signed bytes (bad_signature), the sealed bytes
  // (digest_mismatch) or a header field checked before the signature (malformed_header, an unknown
  // recipient, another emitter, a tier now needing consent, ...). Never ok, never "retry later".
  for (const auto& [code, n] : codes) {
    EXPECT_TRUE(!code.empty() && code.rfind("ok", 0) != 0 && code.rfind("error:", 0) != 0 &&
                code != "other-frame" && code != "overloaded" && code != "disk_full" &&
                code != "shutting_down")
        << code;
  }
  EXPECT_GT(codes["digest_mismatch"], 0);
  EXPECT_GT(codes["bad_signature"], 0);
  EXPECT_EQ(JournalRows(), 0u);
  ExpectBrokerServes();
}

// A hand-made single-segment Cap'n Proto message: `depth` structs, each with one data word (zero:
// the union's first member) and one pointer to the next; the last pointer points back to the
// first struct when `cycle`, else is null.
base::Bytes NestedMessage(int depth, bool cycle) {
  const uint32_t words = 1 + 2 * static_cast<uint32_t>(depth);
  std::vector<uint64_t> w(1 + words, 0);
  w[0] = static_cast<uint64_t>(words) << 32;  // segment table: 1 segment of `words` words
  const uint64_t kStructOneDataOnePtr = (uint64_t{1} << 32) | (uint64_t{1} << 48);
  w[1] = kStructOneDataOnePtr;  // root pointer, offset 0: the struct right after it
  for (int i = 0; i < depth; ++i) {
    size_t ptr = 1 + 2 + 2 * static_cast<size_t>(i);  // this struct's pointer word (segment+1)
    if (i + 1 < depth) {
      w[ptr] = kStructOneDataOnePtr;  // offset 0: the next struct follows
    } else if (cycle) {
      // Back to the first struct (segment word 1): offset = 1 - (pointer index + 1).
      int64_t offset = 1 - static_cast<int64_t>(ptr);  // ptr is segment index + 1
      w[ptr] = kStructOneDataOnePtr | ((static_cast<uint64_t>(offset) << 2) & 0xffffffffu);
    }
  }
  base::Bytes bytes(w.size() * 8);
  std::memcpy(bytes.data(), w.data(), bytes.size());
  return bytes;
}

TEST_F(SecurityTest, OversizedNestedAndCyclicFramesAreRefusedAndTheBrokerKeepsServing) {
  auto raw = Raw(hospital_);
  // 5 MiB, under ZeroMQ's 8 MiB: the broker reads it and refuses the (padded) body.
  {
    auto e = MakeReferral(*deployment_, hospital_, {"assoc-a"});
    e.body.resize(5u << 20, 0x5a);
    ASSERT_TRUE(raw->Send(PublishFrame(e)));
    std::string answer = Answer(*raw);
    std::printf("5 MiB publish frame: %s\n", answer.c_str());
    EXPECT_TRUE(answer == "error:malformed" || answer == "malformed" || answer == "digest_mismatch")
        << answer;
  }
  // Deep and cyclic pointer chains: the codec refuses them before the broker looks at them.
  for (bool cycle : {false, true}) {
    auto bytes = NestedMessage(cycle ? 4 : 2000, cycle);
    auto local = schema::DecodeFrame(bytes);
    ASSERT_FALSE(local);
    EXPECT_EQ(local.error().code, "malformed");
    ASSERT_TRUE(raw->Send(bytes));
    std::string answer = Answer(*raw);
    EXPECT_TRUE(answer == "error:malformed" || answer == "malformed") << cycle << " " << answer;
  }
  // Garbage that is not Cap'n Proto at all, and an empty frame.
  for (const std::string& junk : {std::string("GET / HTTP/1.1\r\n\r\n"), std::string()}) {
    ASSERT_TRUE(
        raw->Send(base::ByteView(reinterpret_cast<const uint8_t*>(junk.data()), junk.size())));
    EXPECT_EQ(Answer(*raw), "error:malformed");
  }
  // Over 8 MiB: ZeroMQ closes the connection without an answer (no code: the frame is never read).
  {
    auto e = MakeReferral(*deployment_, hospital_, {"assoc-a"});
    e.body.resize(9u << 20, 0x5a);
    ASSERT_TRUE(raw->Send(PublishFrame(e)));
    EXPECT_EQ(Answer(*raw, 2s), "");
  }
  EXPECT_EQ(raw->undecodable(), 0);
  EXPECT_EQ(JournalRows(), 0u);
  ExpectBrokerServes();
}

// An envelope emitted (header.emitter) as `as`, signed with `signer`'s key (whose key id the
// header names), to `recipient`.
base::Result<schema::Envelope> Forge(const crypto::AgencyIdentity& as,
                                     const crypto::AgencyIdentity& signer,
                                     const crypto::AgencyIdentity& recipient) {
  base::SystemClock clock;
  schema::Header h;
  h.event_id = crypto::NewEventId(clock.NowMs());
  h.kind = schema::EventKind::kReferral;
  h.referral_kind = schema::ReferralKind::kHospitalDischarge;
  h.case_ref = crypto::NewCaseRef();
  h.emitter = as.pub.agency_id;
  h.emitter_key_id = signer.pub.key_id;
  h.recipients = {recipient.pub.agency_id};
  h.tier = schema::Tier::kNotice;
  h.legal_basis = schema::LegalBasis::kNoticeAllowed;
  h.emitted_at = clock.NowMs();
  h.due_at = clock.NowMs() + base::kMsPerDay;
  return crypto::SealEnvelope(
      h, schema::EventBody(schema::ReferralBody{}),
      {{recipient.pub.agency_id, recipient.pub.key_id, recipient.pub.seal_public}},
      signer.sign_secret);
}

TEST_F(SecurityTest, RegisteredAgencyPublishingAsAnotherIsRefused) {
  auto id_a = deployment_->Identity("assoc-a");
  auto id_b = deployment_->Identity("assoc-b");
  auto raw = Raw(id_a);
  // assoc-a claims to be the hospital and signs with its own key.
  auto own_key = Forge(hospital_, id_a, id_b);
  ASSERT_TRUE(own_key) << own_key.error().ToString();
  ASSERT_TRUE(raw->Send(PublishFrame(*own_key)));
  EXPECT_EQ(Answer(*raw), "emitter_mismatch");
  // assoc-a sends a genuine hospital envelope (say, intercepted) on its own session.
  auto genuine = Forge(hospital_, hospital_, id_b);
  ASSERT_TRUE(genuine);
  ASSERT_TRUE(raw->Send(PublishFrame(*genuine)));
  EXPECT_EQ(Answer(*raw), "emitter_mismatch");
  // Relayed through the hospital's own session, the forgery names a key that is not the
  // hospital's.
  auto hospital_raw = Raw(hospital_);
  ASSERT_TRUE(hospital_raw->Send(PublishFrame(*own_key)));
  EXPECT_EQ(Answer(*hospital_raw), "unknown_key");
  EXPECT_EQ(JournalRows(), 0u);
}

}  // namespace
}  // namespace relais::testing
