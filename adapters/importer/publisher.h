// The publishing pipeline of the list importers: envelopes are sealed and signed on worker
// threads (BuildEnvelope is thread-safe; sealing is the per-event CPU cost) while the calling
// thread submits them to the broker as they come, keeping a window of publishes in flight, and
// collects the acknowledgements. A terminal progress indicator is drawn on `progress` when given.
//
// Threading: call from the thread that owns `client`; the workers live only during the call.
#ifndef RELAIS_ADAPTERS_IMPORTER_PUBLISHER_H_
#define RELAIS_ADAPTERS_IMPORTER_PUBLISHER_H_

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "adapters/sdk/client.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/identity.h"
#include "schema/envelope.h"
#include "schema/events.h"
#include "schema/registry.h"

namespace relais::importer {

// One event to publish; header.event_id must be set (deterministic ids make retries safe).
struct OutgoingEvent {
  schema::Header header;
  schema::EventBody body;
};

struct PublishOptions {
  int sealing_threads = 2;
  size_t window = 1024;                       // publishes awaiting an ack
  std::chrono::milliseconds timeout{120000};  // for the whole batch
  std::FILE* progress = nullptr;              // a terminal: redrawn in place; nullptr: silent
  std::string label;                          // shown before the counters
};

// Seals, signs and publishes every event; one result per event, in input order: the broker's
// outcome, or the BuildEnvelope / publish error.
std::vector<base::Result<sdk::PublishOutcome>> SealAndPublish(
    sdk::Client& client, const std::vector<OutgoingEvent>& events, const schema::Registry& registry,
    const crypto::AgencyIdentity& me, const base::Clock& clock, const PublishOptions& options);

// Seals and signs only (the pipeline's first stage), on `threads` threads; for benchmarks.
std::vector<base::Result<schema::Envelope>> SealAll(const std::vector<OutgoingEvent>& events,
                                                    const schema::Registry& registry,
                                                    const crypto::AgencyIdentity& me,
                                                    const base::Clock& clock, int threads);

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_PUBLISHER_H_
