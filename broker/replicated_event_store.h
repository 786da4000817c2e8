// The EventStore of relaisd's JetStream mode, first step (docs/scale-out.md section 9): the local
// journal store (the outbox: appends are acknowledged once durable locally) plus a
// StreamForwarder that replicates every entry to the stream. Appends wake the forwarder; an
// erasure erases locally, then destroys the case's stream key (crypto-shredding the stream
// copies) before reporting done. Everything else is the local store's.
#ifndef RELAIS_BROKER_REPLICATED_EVENT_STORE_H_
#define RELAIS_BROKER_REPLICATED_EVENT_STORE_H_

#include <memory>

#include "broker/event_store.h"
#include "broker/stream_forwarder.h"

namespace relais::broker {

class ReplicatedEventStore final : public EventStore {
 public:
  // `local` and `forwarder` must outlive this object.
  // `replicate_acks`: acknowledgements are also sent to the stream for the other instances
  // (several instances; false for an instance alone on its stream).
  ReplicatedEventStore(EventStore& local, StreamForwarder& forwarder, bool replicate_acks = true)
      : local_(local), forwarder_(forwarder), replicate_acks_(replicate_acks) {}

  void Append(schema::Envelope envelope, schema::Header header,
              std::vector<journal::DerivedMutation> mutations,
              std::function<void(base::Result<Appended>)> done) override;
  uint64_t HeadSeq() override { return local_.HeadSeq(); }
  base::Result<std::optional<Appended>> FindEvent(base::ByteView event_id) override {
    return local_.FindEvent(event_id);
  }
  base::Status Replay(
      uint64_t from_seq,
      const std::function<bool(uint64_t seq, const base::Bytes& header)>& visit) override {
    return local_.Replay(from_seq, visit);
  }
  std::optional<int64_t> CaseNumber(const std::string& case_ref) override {
    return local_.CaseNumber(case_ref);
  }
  base::Status ReplayCaseNumber(
      int64_t case_no, uint64_t from_seq,
      const std::function<bool(uint64_t seq, const base::Bytes& header)>& visit) override {
    return local_.ReplayCaseNumber(case_no, from_seq, visit);
  }
  base::Result<std::optional<std::string>> ConsentCase(const std::string& consent_id) override {
    return local_.ConsentCase(consent_id);
  }
  base::Status Erase(const std::string& case_ref) override;
  void EraseAsync(const std::string& case_ref, std::function<void(base::Status)> done) override;
  base::Result<std::vector<uint64_t>> Pending(const std::string& agency, uint64_t after,
                                              size_t limit) override {
    return local_.Pending(agency, after, limit);
  }
  base::Result<StoredEvent> Read(uint64_t seq) override { return local_.Read(seq); }
  // Recorded locally, then sent to the stream for the other instances.
  void RecordAck(const std::string& agency, uint64_t seq) override {
    local_.RecordAck(agency, seq);
    if (replicate_acks_) forwarder_.QueueAck(agency, seq);
  }
  void RecordAcks(const std::string& agency, const std::vector<uint64_t>& seqs) override {
    local_.RecordAcks(agency, seqs);
    if (replicate_acks_) {
      for (uint64_t seq : seqs) forwarder_.QueueAck(agency, seq);
    }
  }
  void RecordAckFromStream(const std::string& agency, uint64_t seq) override {
    local_.RecordAck(agency, seq);
  }
  void RecordDeadLetter(const std::string& agency, uint64_t seq, uint32_t attempts,
                        const std::string& reason) override {
    local_.RecordDeadLetter(agency, seq, attempts, reason);
  }
  base::Result<std::vector<DeadLetter>> DeadLetters() override { return local_.DeadLetters(); }
  base::Result<std::vector<std::string>> Requeue(uint64_t seq) override {
    return local_.Requeue(seq);
  }
  base::Result<std::vector<journal::DisclosureRow>> Disclosures(
      const std::string& case_ref) override {
    return local_.Disclosures(case_ref);
  }

 private:
  EventStore& local_;
  StreamForwarder& forwarder_;
  const bool replicate_acks_;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_REPLICATED_EVENT_STORE_H_
