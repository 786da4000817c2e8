// What the broker needs from its durable store: "append durably, idempotently, in order" and
// "per-agency delivery state with ack, redelivery and replay". The embedded implementation sits on
// the SQLite journal (journal_event_store.h); a replicated one can sit on another engine without
// changing anything above this interface.
#ifndef RELAIS_BROKER_EVENT_STORE_H_
#define RELAIS_BROKER_EVENT_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "broker/journal/derived.h"
#include "schema/envelope.h"

namespace relais::broker {

struct Appended {
  uint64_t seq = 0;
  base::TimeMs received_at = 0;
  bool duplicate = false;  // the event id was already stored; seq is the original
  // Append only: the envelope given to it, handed back (the caller keeps no copy meanwhile).
  std::optional<schema::Envelope> envelope;
};

struct StoredEvent {
  uint64_t seq = 0;
  base::TimeMs received_at = 0;
  schema::Envelope envelope;  // body and wraps are empty once the case was erased
};

struct DeadLetter {
  std::string agency;
  uint64_t seq = 0;
  uint32_t attempts = 0;
  std::string reason;
};

class EventStore {
 public:
  virtual ~EventStore() = default;

  // Appends durably. `done` runs on a store thread once the event is durable (or failed): never
  // before. Failures: kRetryLater "disk_full"; kFailStop "journal_failed" (after which every
  // append fails). Thread-safe.
  // `mutations` (derived state computed by the case engine) commit in the same transaction;
  // a pending delivery is enqueued for every recipient of the header.
  virtual void Append(schema::Envelope envelope, schema::Header header,
                      std::vector<journal::DerivedMutation> mutations,
                      std::function<void(base::Result<Appended>)> done) = 0;

  // The following are called by the broker's I/O thread only.
  virtual uint64_t HeadSeq() = 0;
  // The stored event with this id, if any (duplicate detection before the lifecycle rules).
  virtual base::Result<std::optional<Appended>> FindEvent(base::ByteView event_id) = 0;
  // The stored events with seq >= from_seq in seq order, metadata only (header bytes, no sealed
  // bytes), until `visit` returns false: start-up recovery of the case engine, in chunks.
  virtual base::Status Replay(
      uint64_t from_seq,
      const std::function<bool(uint64_t seq, const base::Bytes& header)>& visit) = 0;
  // The number the store gave `case_ref` (a compact handle of a case, stable for the store's
  // life), nullopt when it has no event of that case.
  virtual std::optional<int64_t> CaseNumber(const std::string& case_ref) = 0;
  // The same as Replay restricted to the events of case number `case_no` (a case loaded on
  // demand: while the replay runs, or after the case engine evicted it).
  virtual base::Status ReplayCaseNumber(
      int64_t case_no, uint64_t from_seq,
      const std::function<bool(uint64_t seq, const base::Bytes& header)>& visit) = 0;
  // By case ref; none when the store has no event of that case.
  base::Status ReplayCase(
      const std::string& case_ref, uint64_t from_seq,
      const std::function<bool(uint64_t seq, const base::Bytes& header)>& visit) {
    std::optional<int64_t> case_no = CaseNumber(case_ref);
    return case_no ? ReplayCaseNumber(*case_no, from_seq, visit) : base::Ok();
  }
  // The case a consent id was granted for (derived state), nullopt when no stored grant has it.
  virtual base::Result<std::optional<std::string>> ConsentCase(const std::string& consent_id) = 0;
  // Crypto-shreds the sealed bytes of every stored event of `case_ref` (blocking).
  virtual base::Status Erase(const std::string& case_ref) = 0;
  // The same without waiting: ordered after every Append already submitted; `done` runs on a
  // store thread.
  virtual void EraseAsync(const std::string& case_ref, std::function<void(base::Status)> done) = 0;
  // Seqs addressed to `agency` with seq > after that are neither acknowledged nor dead-lettered,
  // ascending, at most `limit`.
  virtual base::Result<std::vector<uint64_t>> Pending(const std::string& agency, uint64_t after,
                                                      size_t limit) = 0;
  virtual base::Result<StoredEvent> Read(uint64_t seq) = 0;
  // The events of `seqs` (ascending) that exist, in seq order: a delivery read-ahead. The default
  // reads them one by one; a store may answer in one query.
  virtual base::Result<std::vector<StoredEvent>> ReadMany(const std::vector<uint64_t>& seqs) {
    std::vector<StoredEvent> out;
    for (uint64_t seq : seqs) {
      auto e = Read(seq);
      if (e) {
        out.push_back(std::move(e).value());
      } else if (e.error().kind != base::ErrorKind::kNotFound) {
        return std::move(e).error();
      }
    }
    return out;
  }
  // Records durably (possibly batched with other writes) that `agency` has `seq`, stamped with the
  // store's clock.
  virtual void RecordAck(const std::string& agency, uint64_t seq) = 0;
  // The same for several seqs acknowledged together (an ack frame): one write where the store
  // can (by default, one RecordAck each).
  virtual void RecordAcks(const std::string& agency, const std::vector<uint64_t>& seqs) {
    for (uint64_t seq : seqs) RecordAck(agency, seq);
  }
  // The same for an acknowledgement given on another relaisd instance and read from the stream
  // (JetStream mode): recorded here only, never sent back.
  virtual void RecordAckFromStream(const std::string& agency, uint64_t seq) {
    RecordAck(agency, seq);
  }
  virtual void RecordDeadLetter(const std::string& agency, uint64_t seq, uint32_t attempts,
                                const std::string& reason) = 0;
  virtual base::Result<std::vector<DeadLetter>> DeadLetters() = 0;
  // Makes the dead letters of `seq` pending again; returns the agencies concerned.
  // kNotFound "no_dead_letter".
  virtual base::Result<std::vector<std::string>> Requeue(uint64_t seq) = 0;
  // Every entry of `case_ref` with its deliveries (metadata only): the disclosure receipt.
  virtual base::Result<std::vector<journal::DisclosureRow>> Disclosures(
      const std::string& case_ref) = 0;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_EVENT_STORE_H_
