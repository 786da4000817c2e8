#include "broker/publish_check.h"

#include <set>

#include "crypto/seal.h"
#include "schema/codec.h"

namespace relais::broker {

namespace {

using base::Error;
using base::InvalidInput;
using base::NotAuthorised;
using base::Unauthenticated;

base::Status CheckRecipients(const RegistryView& registry, const schema::Header& header,
                             const schema::Envelope& envelope) {
  for (const auto& id : header.recipients) {
    const schema::Agency* r = registry.Find(id);
    if (r == nullptr) {
      return InvalidInput("unknown_recipient", "recipient '" + id + "' is not in the registry");
    }
    if (r->revoked || !r->may_receive) {
      return NotAuthorised("recipient_cannot_receive",
                           "recipient '" + id + "' is revoked or may not receive");
    }
  }
  std::set<std::string> expected(header.recipients.begin(), header.recipients.end());
  std::set<std::string> wrapped;
  for (const auto& w : envelope.wraps) {
    if (!expected.count(w.agency) || !wrapped.insert(w.agency).second) {
      return InvalidInput("wraps_mismatch",
                          "wrap for '" + w.agency + "' does not match exactly one recipient");
    }
  }
  // Events without a body (empty ciphertext) carry no wraps.
  if (!envelope.body.empty() && wrapped.size() != expected.size()) {
    for (const auto& id : expected) {
      if (!wrapped.count(id)) {
        return InvalidInput("wraps_mismatch", "recipient '" + id + "' has no wrap");
      }
    }
  }
  return base::Ok();
}

}  // namespace

bool IsBrokerOnlyKind(schema::EventKind kind) {
  switch (kind) {
    case schema::EventKind::kReminder:
    case schema::EventKind::kEscalation:
    case schema::EventKind::kRupture:
    case schema::EventKind::kOfferTaken:
    case schema::EventKind::kPurgeRequest:
      return true;
    default:
      return false;
  }
}

base::Result<schema::Header> CheckPublish(const RegistryView& registry, std::string_view agency,
                                          const schema::Envelope& envelope, base::TimeMs now) {
  auto decoded = schema::DecodeHeader(envelope.header);
  if (!decoded) return InvalidInput("malformed_header", decoded.error().message);
  schema::Header header = std::move(decoded).value();
  if (auto st = schema::ValidateHeader(header); !st) {
    return InvalidInput("malformed_header", st.error().message);
  }
  if (header.emitter != agency) {
    return NotAuthorised("emitter_mismatch", "header emitter '" + header.emitter +
                                                 "' is not the authenticated agency '" +
                                                 std::string(agency) + "'");
  }
  const schema::Agency* emitter = registry.Find(agency);
  if (emitter == nullptr || emitter->revoked) {
    return NotAuthorised("agency_revoked", "agency '" + std::string(agency) + "' is revoked");
  }
  bool broker_only = IsBrokerOnlyKind(header.kind) && emitter->kind != schema::AgencyKind::kBroker;
  if (broker_only || !registry.MayEmit(*emitter, header.kind)) {
    return NotAuthorised("kind_not_allowed", "agency '" + std::string(agency) + "' may not emit '" +
                                                 schema::EventKindName(header.kind) + "'");
  }
  const schema::AgencyKey* key = registry.ValidKey(*emitter, header.emitter_key_id, now);
  if (key == nullptr) {
    return Unauthenticated("unknown_key", "key '" + header.emitter_key_id + "' of '" +
                                              std::string(agency) + "' is not valid now");
  }
  RELAIS_RETURN_IF_ERROR(CheckRecipients(registry, header, envelope));
  if (auto st = crypto::VerifyEnvelope(envelope, key->sign_key); !st) {
    Error e = std::move(st).error();
    if (e.code != "digest_mismatch") e.code = "bad_signature";
    e.kind = base::ErrorKind::kUnauthenticated;
    return e;
  }
  return header;
}

}  // namespace relais::broker
