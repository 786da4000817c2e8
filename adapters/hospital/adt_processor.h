// Turns ADT messages into HL7 ACKs and outbox entries: validation, deduplication, the case
// lookup and the mapping of docs/adapters/hospital.md. A batch of messages is handled in ONE local
// transaction (group commit); every ACK of the batch is returned only after that transaction is
// durable, so an AA never precedes the durable outbox entry of its event.
//
// Threading: one AdtProcessor per thread; it uses the LocalStore it is given from that thread.
#ifndef RELAIS_ADAPTERS_HOSPITAL_ADT_PROCESSOR_H_
#define RELAIS_ADAPTERS_HOSPITAL_ADT_PROCESSOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/hospital/adt.h"
#include "adapters/hospital/case_events.h"
#include "adapters/hospital/store.h"

namespace relais::hospital {

struct ProcessorStats {
  uint64_t messages = 0;
  uint64_t events_queued = 0;
  uint64_t ignored = 0;     // AA without an event (no case, unmapped trigger, nothing changed)
  uint64_t duplicates = 0;  // AA again for a message already handled
  uint64_t errors = 0;      // AE or AR
};

class AdtProcessor {
 public:
  AdtProcessor(LocalStore& store, Emitter emitter) : store_(store), emitter_(emitter) {}

  // One ACK per message, in order. When the local transaction fails, every message of the batch
  // gets AE 207 (the sender retries; nothing was acknowledged).
  std::vector<std::string> HandleBatch(const std::vector<std::string>& messages);

  // An AR for a broken MLLP frame (no message to read a control id from).
  std::string FramingError(const base::Error& error);

  const ProcessorStats& stats() const { return stats_; }

 private:
  struct Outcome {
    AckCode code = AckCode::kAccept;
    std::optional<AdtError> error;
  };
  base::Result<Outcome> HandleOne(const AdtResult& read);
  // One message for one case: the decisions of docs/adapters/hospital.md §3.
  struct Step {
    const AdtMessage& adt;
    CaseRecord& c;
    base::Bytes& event_id;  // the first event queued (for deduplication)
  };
  base::Result<Outcome> Apply(const AdtMessage& adt, CaseRecord& c, base::Bytes& event_id_out);
  base::Result<Outcome> Ignore(const Step& s, const char* reason);
  base::Result<Outcome> Refer(Step& s, base::TimeMs due);
  base::Result<Outcome> MoveDeadline(Step& s, base::TimeMs due);
  base::Result<Outcome> Cancel(Step& s, const char* note);
  base::Result<Outcome> Discharge(Step& s, base::TimeMs now);
  base::Status Queue(base::Result<OutboxEntry> entry, base::Bytes& event_id_out);
  std::string NextAckId();

  LocalStore& store_;
  Emitter emitter_;
  ProcessorStats stats_;
  uint64_t ack_counter_ = 0;
};

}  // namespace relais::hospital

#endif  // RELAIS_ADAPTERS_HOSPITAL_ADT_PROCESSOR_H_
