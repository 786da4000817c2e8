#include "adapters/sdk/envelope_builder.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "adapters/sdk/json.h"
#include "crypto/random.h"
#include "crypto/registry_sign.h"
#include "crypto/seal.h"
#include "schema/codec.h"

namespace relais::sdk {

namespace {

// Largest registry file we read (a registry of hundreds of agencies is a few hundred KiB).
constexpr std::uintmax_t kMaxRegistryFileBytes = 16u << 20;

// The key of `agency` valid at `now` with the latest valid_from, or nullptr.
const schema::AgencyKey* CurrentKey(const schema::Agency& agency, base::TimeMs now) {
  const schema::AgencyKey* best = nullptr;
  for (const schema::AgencyKey& key : agency.keys) {
    if (crypto::FindValidKey(agency, key.key_id, now) != &key) continue;
    if (best == nullptr || key.valid_from > best->valid_from) best = &key;
  }
  return best;
}

base::Status CheckEmitter(const schema::Header& h, const schema::Registry& registry,
                          const crypto::AgencyIdentity& me, base::TimeMs now) {
  if (h.emitter != me.pub.agency_id || h.emitter_key_id != me.pub.key_id) {
    return base::InvalidInput("emitter_mismatch", "the header names emitter " + h.emitter +
                                                      " key " + h.emitter_key_id +
                                                      " but the signing identity is " +
                                                      me.pub.agency_id + " key " + me.pub.key_id);
  }
  const schema::Agency* agency = registry.Find(me.pub.agency_id);
  if (agency == nullptr) {
    return base::NotAuthorised("unknown_emitter",
                               "agency " + me.pub.agency_id + " is not in the registry");
  }
  if (agency->revoked) {
    return base::NotAuthorised("agency_revoked",
                               "agency " + me.pub.agency_id + " is revoked in the registry");
  }
  if (std::find(agency->may_emit.begin(), agency->may_emit.end(), h.kind) ==
      agency->may_emit.end()) {
    return base::NotAuthorised("kind_not_allowed", "the registry does not allow agency " +
                                                       me.pub.agency_id + " to emit " +
                                                       schema::EventKindName(h.kind) + " events");
  }
  if (crypto::FindValidKey(*agency, me.pub.key_id, now) == nullptr) {
    return base::Unauthenticated("unknown_key", "key " + me.pub.key_id + " of agency " +
                                                    me.pub.agency_id +
                                                    " is not a registry key valid now");
  }
  return base::Ok();
}

base::Result<std::vector<crypto::RecipientKey>> RecipientKeys(const schema::Header& h,
                                                              const schema::Registry& registry,
                                                              base::TimeMs now) {
  std::vector<crypto::RecipientKey> keys;
  for (const std::string& id : h.recipients) {
    const schema::Agency* agency = registry.Find(id);
    if (agency == nullptr) {
      return base::InvalidInput("unknown_recipient", "recipient " + id + " is not in the registry");
    }
    if (agency->revoked || !agency->may_receive) {
      return base::NotAuthorised(
          "recipient_cannot_receive",
          "recipient " + id + (agency->revoked ? " is revoked" : " may not receive events"));
    }
    const schema::AgencyKey* key = CurrentKey(*agency, now);
    if (key == nullptr) {
      return base::NotAuthorised("recipient_cannot_receive",
                                 "recipient " + id + " has no registry key valid now");
    }
    keys.push_back(crypto::RecipientKey{id, key->key_id, key->seal_key});
  }
  return keys;
}

}  // namespace

base::Result<schema::Envelope> BuildEnvelope(schema::Header header, const schema::EventBody& body,
                                             const schema::Registry& registry,
                                             const crypto::AgencyIdentity& me,
                                             const base::Clock& clock) {
  base::TimeMs now = clock.NowMs();
  if (header.event_id.empty()) header.event_id = crypto::NewEventId(now);
  if (header.emitted_at == 0) header.emitted_at = now;
  if (header.emitter.empty()) header.emitter = me.pub.agency_id;
  if (header.emitter_key_id.empty()) header.emitter_key_id = me.pub.key_id;
  size_t expected = BodyIndexForKind(header.kind);
  bool empty_allowed = header.kind != schema::EventKind::kReferral && body.index() == 0;
  if (body.index() != expected && !empty_allowed) {
    return base::InvalidInput("body_mismatch", std::string("a ") +
                                                   schema::EventKindName(header.kind) +
                                                   " event does not carry this kind of body");
  }
  RELAIS_RETURN_IF_ERROR(schema::ValidateHeader(header));
  RELAIS_RETURN_IF_ERROR(CheckEmitter(header, registry, me, now));
  RELAIS_ASSIGN_OR_RETURN(auto recipients, RecipientKeys(header, registry, now));
  return crypto::SealEnvelope(header, body, recipients, me.sign_secret);
}

base::Result<Opened> VerifyAndOpen(const schema::Envelope& envelope,
                                   const schema::Registry& registry,
                                   const crypto::AgencyIdentity& me, base::TimeMs received_at) {
  RELAIS_ASSIGN_OR_RETURN(schema::Header header, schema::DecodeHeader(envelope.header));
  RELAIS_RETURN_IF_ERROR(schema::ValidateHeader(header));
  const schema::Agency* emitter = registry.Find(header.emitter);
  if (emitter == nullptr) {
    return base::Unauthenticated("unknown_emitter",
                                 "emitter " + header.emitter + " is not in the registry");
  }
  bool journaled_before_revocation =
      received_at != 0 && emitter->revoked_at != 0 && received_at < emitter->revoked_at;
  if (emitter->revoked && !journaled_before_revocation) {
    return base::NotAuthorised("agency_revoked",
                               "emitter " + header.emitter + " is revoked in the registry");
  }
  // FindValidKey treats a revoked agency's keys as invalid from revoked_at on.
  const schema::AgencyKey* key =
      crypto::FindValidKey(*emitter, header.emitter_key_id, header.emitted_at);
  if (key == nullptr) {
    return base::Unauthenticated("unknown_key", "key " + header.emitter_key_id + " of emitter " +
                                                    header.emitter +
                                                    " is not a registry key valid at emission");
  }
  RELAIS_RETURN_IF_ERROR(crypto::VerifyEnvelope(envelope, key->sign_key));
  if (std::find(header.recipients.begin(), header.recipients.end(), me.pub.agency_id) ==
      header.recipients.end()) {
    return base::NotAuthorised("not_a_recipient",
                               "agency " + me.pub.agency_id + " is not a recipient of this event");
  }
  RELAIS_ASSIGN_OR_RETURN(schema::EventBody body, crypto::OpenEnvelope(envelope, me));
  return Opened{std::move(header), std::move(body)};
}

base::Result<schema::Registry> LoadRegistry(const std::filesystem::path& registry_file,
                                            const std::filesystem::path& authority_pub_file,
                                            base::TimeMs now) {
  RELAIS_ASSIGN_OR_RETURN(crypto::PublicIdentity authority,
                          crypto::LoadPublicIdentity(authority_pub_file));
  std::error_code ec;
  std::uintmax_t size = std::filesystem::file_size(registry_file, ec);
  if (ec || size > kMaxRegistryFileBytes) {
    return base::NotFound("no_registry",
                          "cannot read the registry file " + registry_file.string() +
                              (ec ? ": " + ec.message() : std::string(": file too large")));
  }
  std::ifstream in(registry_file, std::ios::binary);
  if (!in) {
    return base::NotFound("no_registry", "cannot read the registry file " + registry_file.string());
  }
  base::Bytes bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  RELAIS_ASSIGN_OR_RETURN(schema::SignedRegistry signed_registry,
                          schema::DecodeSignedRegistry(bytes));
  return crypto::VerifySignedRegistry(signed_registry, authority.sign_public, now);
}

base::Result<base::Bytes> BrokerCurveKey(const schema::Registry& registry, base::TimeMs now,
                                         std::string_view broker_id) {
  const schema::Agency* broker = nullptr;
  for (const schema::Agency& agency : registry.agencies) {
    if (agency.kind != schema::AgencyKind::kBroker || agency.revoked) continue;
    if (!broker_id.empty() && agency.id != broker_id) continue;
    if (broker != nullptr) {
      return base::InvalidInput("ambiguous_broker", "the registry lists several brokers (" +
                                                        broker->id + ", " + agency.id +
                                                        "): say which one to use");
    }
    broker = &agency;
  }
  if (broker == nullptr) {
    return base::NotFound("no_broker_in_registry",
                          broker_id.empty()
                              ? std::string("the registry lists no agency of kind broker")
                              : "the registry lists no broker " + std::string(broker_id));
  }
  const schema::AgencyKey* key = CurrentKey(*broker, now);
  if (key == nullptr || key->curve_key.size() != 32) {
    return base::NotFound("no_broker_in_registry",
                          "broker " + broker->id + " has no registry key valid now");
  }
  return key->curve_key;
}

}  // namespace relais::sdk
