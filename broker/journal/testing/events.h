// Test and benchmark support (not part of the journal library): well-formed append requests with
// real encoded headers, random or marked bodies, fake wraps and signatures (the journal never
// verifies signatures), and the test's own pure "derive" function.
#ifndef RELAIS_BROKER_JOURNAL_TESTING_EVENTS_H_
#define RELAIS_BROKER_JOURNAL_TESTING_EVENTS_H_

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/clock.h"
#include "broker/journal/derived.h"
#include "broker/journal/entry.h"
#include "schema/envelope.h"

namespace relais::journal::testing {

struct EventSpec {
  schema::EventKind kind = schema::EventKind::kReferral;
  std::string case_ref = "c-test-case";
  std::string emitter = "hopital-nord";
  std::vector<std::string> recipients = {"siao-75", "asso-abri"};
  base::TimeMs emitted_at = 1'764'000'000'000;
  base::TimeMs due_at = 1'765'000'000'000;
  size_t body_size = 700;
  std::string body_marker = {};  // non-empty: the body is this text repeated; else random bytes
  std::string consent_id = {};   // for consent_granted / consent_withdrawn
  base::Bytes event_id = {};     // empty: a fresh UUIDv7
};

// A request whose header, digests and sizes satisfy the journal's checks. `mutations` is empty.
AppendRequest MakeRequest(const EventSpec& spec);

// Bytes the journal stores for this request (header, signature, digests, body, wraps, ids).
size_t StoredBytes(const AppendRequest& request);

// A pure function of the entry, standing in for the broker's: deliveries to every recipient,
// the case state from the kind, consents granted/withdrawn, deliveries stopped on withdrawal.
std::vector<DerivedMutation> DeriveFromHeader(const schema::Header& header);
// The same, decoding the stored header (for Journal::Rebuild).
std::vector<DerivedMutation> DeriveFromEntry(const StoredEntry& entry);

// A fresh directory removed at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace relais::journal::testing

#endif  // RELAIS_BROKER_JOURNAL_TESTING_EVENTS_H_
