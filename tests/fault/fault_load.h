// The load and the checker shared by the fault tests (crash loop, crash points, disk full,
// partitions): a pipelined publisher and acking subscribers driven by the SDK, and the checks run
// on the journal a broker left behind. Test-only code.
#ifndef RELAIS_TESTS_FAULT_FAULT_LOAD_H_
#define RELAIS_TESTS_FAULT_FAULT_LOAD_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/journal/reader.h"
#include "tests/harness/harness.h"

namespace relais::testing {

// relaisd_test_hooks (crash points, --test-fault-file), built with RELAIS_CRASH_POINTS.
const std::string& RelaisdTestHooksBin();

// What an agency needs to connect: its key, the signed registry, the authority's key, the broker.
struct AgencyFiles {
  std::filesystem::path key;
  std::filesystem::path registry;
  std::filesystem::path authority_pub;
  std::string endpoint;
};
AgencyFiles FilesOf(const Deployment& deployment, const std::string& agency,
                    const std::string& endpoint);

// What the publisher saw acknowledged.
struct PublisherLog {
  std::map<std::string, uint64_t> ok;  // hex event id -> seq of every `ok` ack
  uint64_t submitted = 0;
  uint64_t timeouts = 0;
  uint64_t resends = 0;            // publishes re-sent by the SDK (after a crash, a transient ack)
  uint64_t transient_acks = 0;     // `transient` acks the SDK received (and retried)
  std::vector<std::string> fatal;  // codes of fatal acks (must stay empty)
};

struct PublisherOptions {
  std::vector<std::string> recipients;
  size_t window = 32;
  std::chrono::milliseconds publish_deadline{120'000};
  std::chrono::milliseconds drain{150'000};  // how long to wait for acks once `stop` is set
  // Called on the publisher's thread for every `ok` ack (hex event id, seq), e.g. to write it out.
  std::function<void(const std::string& hex_id, uint64_t seq)> on_ok;
  // Guards `log` when another thread reads it while the publisher runs; may be null.
  std::mutex* mu = nullptr;
};

// Publishes fresh notice-tier referrals from `files`' agency to the recipients, pipelined, until
// `stop`; then waits up to `drain` for every publish still in flight (each is retried by the SDK
// across restarts until acked or its deadline passes).
void RunPublisher(const AgencyFiles& files, const PublisherOptions& options,
                  const std::atomic<bool>& stop, PublisherLog& log);

// Receives and acks everything addressed to `agency` until `stop`; `on_seq` gets every delivered
// seq (redeliveries too) under `mu`; a refusal by the broker is appended to `errors`.
void RunSubscriber(const AgencyFiles& files, const std::string& agency,
                   const std::atomic<bool>& stop, std::mutex& mu,
                   const std::function<void(uint64_t seq)>& on_seq,
                   std::vector<std::string>& errors);

// A hospital publisher thread and one subscriber thread per recipient, running from construction
// (RunPublisher, RunSubscriber). The caller stops the publisher, reads the journal, waits for the
// subscribers to catch up, then stops them; the destructor stops and joins whatever still runs.
class LoadRun {
 public:
  LoadRun(const Deployment& deployment, const std::string& endpoint,
          std::vector<std::string> recipients);
  ~LoadRun();
  LoadRun(const LoadRun&) = delete;
  LoadRun& operator=(const LoadRun&) = delete;

  size_t Acked();
  // Waits until at least `n` publishes are acked ok; false after `timeout`.
  bool WaitAcked(size_t n, std::chrono::milliseconds timeout);
  // Stops submitting and waits for the publishes in flight (acked, or timed out).
  void StopPublishing();
  // Waits until every seq of `referral_seqs` reached every recipient; returns what is missing.
  size_t CatchUp(const std::set<uint64_t>& referral_seqs, std::chrono::milliseconds timeout);
  void StopReceiving();
  // Valid once StopPublishing returned.
  const PublisherLog& log() const { return log_; }
  const std::vector<std::string>& subscriber_errors() const { return errors_; }

 private:
  std::vector<std::string> recipients_;
  std::mutex mu_;
  std::atomic<bool> stop_publishing_{false};
  std::atomic<bool> stop_receiving_{false};
  PublisherOptions options_;
  PublisherLog log_;
  std::map<std::string, std::set<uint64_t>> seen_;
  std::vector<std::string> errors_;
  std::thread publisher_;
  std::vector<std::thread> subscribers_;
};

uint64_t Percentile(std::vector<uint64_t> v, double p);

// What the checker reads back from the journal.
struct JournalScan {
  uint64_t rows = 0;
  bool gap = false;  // a seq missing between 1 and the head
  size_t unique_event_ids = 0;
  std::set<uint64_t> referral_seqs;
};
JournalScan ScanJournal(journal::JournalReader& reader);

// Every publish acked ok is journaled at the seq its ack named.
void ExpectAckedAreJournaled(journal::JournalReader& reader, const PublisherLog& log);

// No seq gap, no event id twice, the chain verifies from genesis over every row, SQLite's
// integrity check passes.
void ExpectJournalSound(journal::JournalReader& reader, const JournalScan& scan);

// Journaled referrals that `seen[agency]` lacks, summed over the recipients.
size_t MissingDeliveries(const std::set<uint64_t>& referral_seqs,
                         const std::map<std::string, std::set<uint64_t>>& seen,
                         const std::vector<std::string>& recipients);

}  // namespace relais::testing

#endif  // RELAIS_TESTS_FAULT_FAULT_LOAD_H_
