// The embedded EventStore: the SQLite journal (broker/journal) with its derived delivery tables.
//
// Append enqueues a pending delivery for every recipient in the same transaction as the entry.
// Reads (Pending, Read, DeadLetters) go through a JournalReader owned by the I/O thread.
#ifndef RELAIS_BROKER_JOURNAL_EVENT_STORE_H_
#define RELAIS_BROKER_JOURNAL_EVENT_STORE_H_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "base/clock.h"
#include "broker/event_store.h"
#include "broker/journal/journal.h"
#include "broker/journal/reader.h"
#include "crypto/identity.h"

namespace relais::broker {

struct JournalStoreOptions {
  std::filesystem::path path;
  uint64_t checkpoint_every = 1000;
  base::TimeMs checkpoint_interval_ms = 60'000;
  std::string vfs;  // SQLite VFS of the writer; empty for the default (tests inject faults)
  // Called when the journal finds a damaged page after Open (a read that fails its checksum, or
  // the background scrub of a large journal): the owner fail-stops. Any thread; may be empty.
  std::function<void(const base::Error&)> on_corruption;
  // Called by the writer thread after each transaction (metrics); may be empty.
  std::function<void(const journal::BatchStats&)> on_batch;
};

class JournalEventStore final : public EventStore {
 public:
  JournalEventStore(std::unique_ptr<journal::Journal> journal,
                    std::unique_ptr<journal::JournalReader> reader, const base::Clock& clock,
                    std::function<void(const base::Error&)> on_corruption = {});
  ~JournalEventStore() override;

  void Append(schema::Envelope envelope, schema::Header header,
              std::vector<journal::DerivedMutation> mutations,
              std::function<void(base::Result<Appended>)> done) override;
  uint64_t HeadSeq() override;
  base::Result<std::optional<Appended>> FindEvent(base::ByteView event_id) override;
  base::Status Replay(
      uint64_t from_seq,
      const std::function<bool(uint64_t seq, const base::Bytes& header)>& visit) override;
  std::optional<int64_t> CaseNumber(const std::string& case_ref) override;
  base::Status ReplayCaseNumber(
      int64_t case_no, uint64_t from_seq,
      const std::function<bool(uint64_t seq, const base::Bytes& header)>& visit) override;
  base::Result<std::optional<std::string>> ConsentCase(const std::string& consent_id) override;
  base::Status Erase(const std::string& case_ref) override;
  void EraseAsync(const std::string& case_ref, std::function<void(base::Status)> done) override;
  base::Result<std::vector<uint64_t>> Pending(const std::string& agency, uint64_t after,
                                              size_t limit) override;
  base::Result<StoredEvent> Read(uint64_t seq) override;
  base::Result<std::vector<StoredEvent>> ReadMany(const std::vector<uint64_t>& seqs) override;
  void RecordAck(const std::string& agency, uint64_t seq) override;
  void RecordAcks(const std::string& agency, const std::vector<uint64_t>& seqs) override;
  void RecordDeadLetter(const std::string& agency, uint64_t seq, uint32_t attempts,
                        const std::string& reason) override;
  base::Result<std::vector<DeadLetter>> DeadLetters() override;
  base::Result<std::vector<std::string>> Requeue(uint64_t seq) override;
  base::Result<std::vector<journal::DisclosureRow>> Disclosures(
      const std::string& case_ref) override;

  journal::Journal& journal() { return *journal_; }

 private:
  // Passes a kCorruption error of a read to on_corruption_.
  template <typename T>
  T Checked(T result) {
    if (!result && result.error().kind == base::ErrorKind::kCorruption && on_corruption_) {
      on_corruption_(result.error());
    }
    return result;
  }

  std::unique_ptr<journal::Journal> journal_;
  std::unique_ptr<journal::JournalReader> reader_;
  const base::Clock& clock_;
  std::function<void(const base::Error&)> on_corruption_;
  // Acks handed to the journal writer but not yet committed. Pending() must not return them:
  // it copies this set *before* reading, so an ack committed after the read's snapshot is still
  // in the copy (it is erased only after its commit). By agency; an agency's entry stays once
  // made (one per subscribing agency), so an ack copies no name.
  std::mutex acks_mu_;
  std::map<std::string, std::multiset<uint64_t>, std::less<>> acks_in_flight_;
};

// Opens (creating if needed) and verifies the journal; checkpoints are signed with the broker's
// identity. Refuses a journal whose chain does not verify (kCorruption naming the first bad seq).
base::Result<std::unique_ptr<JournalEventStore>> OpenJournalEventStore(
    const JournalStoreOptions& options, const base::Clock& clock,
    const crypto::AgencyIdentity& broker);

}  // namespace relais::broker

#endif  // RELAIS_BROKER_JOURNAL_EVENT_STORE_H_
