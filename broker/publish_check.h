// The registry and cryptographic checks of a publish (docs/protocol.md §3, step 4), up to and
// including the signature. The consent gate and lifecycle rules come after, in the case engine.
//
// Pure functions of their arguments; safe to call from the verify workers.
#ifndef RELAIS_BROKER_PUBLISH_CHECK_H_
#define RELAIS_BROKER_PUBLISH_CHECK_H_

#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "broker/registry_store.h"
#include "schema/envelope.h"

namespace relais::broker {

// True for the kinds only the broker emits (reminder, escalation, rupture, offer_taken,
// purge_request).
bool IsBrokerOnlyKind(schema::EventKind kind);

// Decodes and validates the header, then checks it against the registry and verifies digests and
// signature. `agency` is the ZAP-authenticated emitter. On success returns the decoded header.
// Every failure is a fatal code of docs/protocol.md §7 (Error::code) whose message names the field
// or agency but never case data.
base::Result<schema::Header> CheckPublish(const RegistryView& registry, std::string_view agency,
                                          const schema::Envelope& envelope, base::TimeMs now);

}  // namespace relais::broker

#endif  // RELAIS_BROKER_PUBLISH_CHECK_H_
