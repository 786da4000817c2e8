#include "broker/journal/testing/events.h"

#include <stdlib.h>

#include "base/check.h"
#include "crypto/hash.h"
#include "crypto/random.h"
#include "crypto/seal.h"
#include "schema/codec.h"

namespace relais::journal::testing {

namespace {

base::Bytes MakeBody(const EventSpec& spec) {
  if (spec.body_marker.empty()) return crypto::RandomBytes(spec.body_size);
  base::Bytes body;
  body.reserve(spec.body_size);
  while (body.size() < spec.body_size) {
    body.push_back(static_cast<uint8_t>(spec.body_marker[body.size() % spec.body_marker.size()]));
  }
  return body;
}

}  // namespace

AppendRequest MakeRequest(const EventSpec& spec) {
  schema::Header h;
  h.event_id = spec.event_id.empty() ? crypto::NewEventId(spec.emitted_at) : spec.event_id;
  h.kind = spec.kind;
  if (spec.kind == schema::EventKind::kReferral) {
    h.referral_kind = schema::ReferralKind::kHospitalDischarge;
  }
  h.case_ref = spec.case_ref;
  h.emitter = spec.emitter;
  h.emitter_key_id = "a1b2c3d4e5f60718";
  h.actor = "pro-42";
  h.recipients = spec.recipients;
  h.consent_ref = spec.consent_id;
  h.purpose = schema::Purpose::kHousing;
  h.emitted_at = spec.emitted_at;
  h.due_at = spec.due_at;
  if (spec.kind == schema::EventKind::kConsentGranted) {
    schema::ConsentTerms terms;
    terms.consent_id = spec.consent_id;
    terms.purposes = {schema::Purpose::kHousing};
    terms.recipient_agencies = spec.recipients;
    terms.valid_from = spec.emitted_at;
    terms.collected_at = spec.emitted_at;
    h.consent = terms;
  }
  AppendRequest r;
  r.envelope.header = schema::EncodeHeader(h);
  r.envelope.body = MakeBody(spec);
  for (const std::string& agency : spec.recipients) {
    r.envelope.wraps.push_back(schema::Wrap{agency, "0011223344556677", crypto::RandomBytes(80)});
  }
  r.envelope.body_digest = crypto::ToBytes(crypto::Blake2b(r.envelope.body));
  r.envelope.wraps_digest = crypto::ToBytes(crypto::WrapsDigest(r.envelope.wraps));
  r.envelope.signature = crypto::RandomBytes(64);
  r.header = std::move(h);
  return r;
}

size_t StoredBytes(const AppendRequest& r) {
  return r.envelope.header.size() + r.envelope.signature.size() + r.envelope.body_digest.size() +
         r.envelope.wraps_digest.size() + r.envelope.body.size() +
         crypto::CanonicalWraps(r.envelope.wraps).size() + r.header.event_id.size() +
         r.header.case_ref.size() + r.header.emitter.size() + 32 /* entry hash */ +
         4 * 8 /* seq, receivedAt, kind, dueAt */;
}

std::vector<DerivedMutation> DeriveFromHeader(const schema::Header& h) {
  std::vector<DerivedMutation> out;
  using K = schema::EventKind;
  switch (h.kind) {
    case K::kConsentGranted:
      out.push_back(GrantConsent{h.consent_ref, base::ToBytes(h.consent_ref + ":terms")});
      break;
    case K::kConsentWithdrawn:
      out.push_back(WithdrawConsent{h.consent_ref});
      out.push_back(StopCaseDeliveries{"consent_withdrawn"});
      return out;
    default:
      break;
  }
  for (const std::string& agency : h.recipients) out.push_back(EnqueueDelivery{agency, 0});
  out.push_back(SetCaseState{schema::EventKindName(h.kind), h.due_at});
  return out;
}

std::vector<DerivedMutation> DeriveFromEntry(const StoredEntry& entry) {
  auto header = schema::DecodeHeader(entry.envelope.header);
  RELAIS_CHECK(header.has_value());
  return DeriveFromHeader(*header);
}

TempDir::TempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::filesystem::path root = base != nullptr ? base : std::filesystem::temp_directory_path();
  std::string templ = (root / "relais-journal-XXXXXX").string();
  RELAIS_CHECK(mkdtemp(templ.data()) != nullptr);
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

}  // namespace relais::journal::testing
