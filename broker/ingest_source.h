// What the broker's I/O thread takes from the stream in JetStream mode with several instances:
// the other instances' events and delivery acknowledgements (implemented by StreamIngester,
// stream_ingester.h; the Broker sees only this interface).
#ifndef RELAIS_BROKER_INGEST_SOURCE_H_
#define RELAIS_BROKER_INGEST_SOURCE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/clock.h"
#include "broker/wake_queue.h"
#include "schema/envelope.h"

namespace relais::broker {

// A delivery acknowledgement given on another instance: `agency` holds event `event_id`.
struct StreamAck {
  std::string agency;
  base::Bytes event_id;
};

// One record read from the stream: an event (sealed part opened when its case key exists) or an
// acknowledgement.
struct IngestedRecord {
  uint64_t stream_seq = 0;
  base::TimeMs stored_at = 0;  // the stream's clock when it was stored
  std::optional<schema::Envelope> event;
  std::optional<StreamAck> ack;
};

class IngestSource {
 public:
  virtual ~IngestSource() = default;
  // Drained by the broker's I/O thread.
  virtual WakeQueue<IngestedRecord>& records() = 0;
  // The broker finished `stream_seq`: stored (or nothing to store) when ok, else it is read
  // again later. Any thread.
  virtual void Done(uint64_t stream_seq, bool ok) = 0;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_INGEST_SOURCE_H_
