#include "broker/journal_event_store.h"

#include "base/log.h"

namespace relais::broker {

namespace {

void LogUpdateFailure(const char* what, const base::Status& st) {
  if (!st && st.error().code != "no_delivery") {
    base::LogError("delivery_update_failed", {{"update", what}, {"code", st.error().code}});
  }
}

}  // namespace

JournalEventStore::JournalEventStore(std::unique_ptr<journal::Journal> journal,
                                     std::unique_ptr<journal::JournalReader> reader,
                                     const base::Clock& clock,
                                     std::function<void(const base::Error&)> on_corruption)
    : journal_(std::move(journal)),
      reader_(std::move(reader)),
      clock_(clock),
      on_corruption_(std::move(on_corruption)) {}

JournalEventStore::~JournalEventStore() {
  reader_.reset();
  if (journal_) (void)journal_->Close();
}

void JournalEventStore::Append(schema::Envelope envelope, schema::Header header,
                               std::vector<journal::DerivedMutation> mutations,
                               std::function<void(base::Result<Appended>)> done) {
  journal::AppendRequest request;
  request.mutations = std::move(mutations);
  for (const auto& agency : header.recipients) {
    request.mutations.push_back(journal::EnqueueDelivery{agency, 0});
  }
  request.envelope = std::move(envelope);
  request.header = std::move(header);
  request.hand_back = true;
  journal_->Append(std::move(request),
                   [done = std::move(done)](base::Result<journal::AppendResult> r) {
                     if (!r) {
                       done(std::move(r).error());
                       return;
                     }
                     done(Appended{r->seq, r->received_at, r->duplicate, std::move(r->envelope)});
                   });
}

uint64_t JournalEventStore::HeadSeq() { return journal_->head_seq(); }

base::Result<std::optional<Appended>> JournalEventStore::FindEvent(base::ByteView event_id) {
  RELAIS_ASSIGN_OR_RETURN(auto found, Checked(reader_->FindEvent(event_id)));
  if (!found) return std::optional<Appended>();
  return std::optional<Appended>(Appended{found->seq, found->received_at, true, std::nullopt});
}

base::Status JournalEventStore::Replay(
    uint64_t from_seq, const std::function<bool(uint64_t seq, const base::Bytes& header)>& visit) {
  base::Bytes header;  // one buffer for every entry
  return Checked(reader_->ForEachHeader(from_seq, [&](uint64_t seq, base::ByteView bytes) {
    header.assign(bytes.begin(), bytes.end());
    return visit(seq, header);
  }));
}

std::optional<int64_t> JournalEventStore::CaseNumber(const std::string& case_ref) {
  // The writer's in-memory case numbers, because case_keys has no index on case_ref.
  return journal_->CaseNumber(case_ref);
}

base::Status JournalEventStore::ReplayCaseNumber(
    int64_t case_no, uint64_t from_seq,
    const std::function<bool(uint64_t seq, const base::Bytes& header)>& visit) {
  base::Bytes header;
  return Checked(
      reader_->ForEachHeaderOfCase(case_no, from_seq, [&](uint64_t seq, base::ByteView bytes) {
        header.assign(bytes.begin(), bytes.end());
        return visit(seq, header);
      }));
}

base::Result<std::optional<std::string>> JournalEventStore::ConsentCase(
    const std::string& consent_id) {
  return Checked(reader_->ConsentCase(consent_id));
}

base::Status JournalEventStore::Erase(const std::string& case_ref) {
  auto st = journal_->Erase(case_ref);
  if (!st && st.error().code == "journal_busy") {
    // The bodies are gone; only the WAL truncation waited on a reader. Try once more.
    st = journal_->Erase(case_ref);
  }
  return st;
}

void JournalEventStore::EraseAsync(const std::string& case_ref,
                                   std::function<void(base::Status)> done) {
  journal_->EraseAsync(case_ref, std::move(done));
}

base::Result<std::vector<uint64_t>> JournalEventStore::Pending(const std::string& agency,
                                                               uint64_t after, size_t limit) {
  std::set<uint64_t> acking;
  {
    std::lock_guard lock(acks_mu_);
    if (auto of = acks_in_flight_.find(agency); of != acks_in_flight_.end()) {
      acking.insert(of->second.lower_bound(after + 1), of->second.end());
    }
  }
  // Page until `limit` survive the filter or the store has no more, so that a short result
  // still means "nothing more pending" to the caller.
  std::vector<uint64_t> seqs;
  while (seqs.size() < limit) {
    size_t want = limit - seqs.size();
    RELAIS_ASSIGN_OR_RETURN(auto page, Checked(reader_->Pending(agency, after, want)));
    for (uint64_t seq : page) {
      if (!acking.count(seq)) seqs.push_back(seq);
    }
    if (page.size() < want) break;  // the store ran dry
    after = page.back();
  }
  return seqs;
}

base::Result<StoredEvent> JournalEventStore::Read(uint64_t seq) {
  RELAIS_ASSIGN_OR_RETURN(auto entry, Checked(reader_->Get(seq, journal::ReadScope::kWithSealed)));
  if (!entry) return base::NotFound("no_event", "no journal entry " + std::to_string(seq));
  return StoredEvent{entry->seq, entry->received_at, std::move(entry->envelope)};
}

base::Result<std::vector<StoredEvent>> JournalEventStore::ReadMany(
    const std::vector<uint64_t>& seqs) {
  if (seqs.empty()) return std::vector<StoredEvent>();
  const uint64_t first = seqs.front(), last = seqs.back();
  // One range read when the seqs are dense; sparse ones (an agency receiving few of the events)
  // would read many bodies for nothing.
  if (last < first || last - first >= 4 * seqs.size()) return EventStore::ReadMany(seqs);
  std::vector<StoredEvent> out;
  out.reserve(seqs.size());
  size_t next = 0;
  RELAIS_RETURN_IF_ERROR(Checked(reader_->ForEachFrom(
      first,
      [&](const journal::StoredEntry& e) {
        while (next < seqs.size() && seqs[next] < e.seq) ++next;
        if (next == seqs.size()) return false;
        if (seqs[next] == e.seq) out.push_back(StoredEvent{e.seq, e.received_at, e.envelope});
        return e.seq < last;
      },
      journal::ReadScope::kWithSealed)));
  return out;
}

void JournalEventStore::RecordAck(const std::string& agency, uint64_t seq) {
  RecordAcks(agency, {seq});
}

void JournalEventStore::RecordAcks(const std::string& agency, const std::vector<uint64_t>& seqs) {
  if (seqs.empty()) return;
  {
    std::lock_guard lock(acks_mu_);
    std::multiset<uint64_t>& of = acks_in_flight_[agency];
    of.insert(seqs.begin(), seqs.end());
  }
  journal::AckDelivery ack{agency, seqs.front(), clock_.NowMs()};
  ack.more.assign(seqs.begin() + 1, seqs.end());
  journal_->Update(std::move(ack), [this, agency, seqs](base::Status st) {
    LogUpdateFailure("ack", st);
    std::lock_guard lock(acks_mu_);
    std::multiset<uint64_t>& of = acks_in_flight_.find(agency)->second;
    for (uint64_t seq : seqs) of.erase(of.find(seq));
  });
}

void JournalEventStore::RecordDeadLetter(const std::string& agency, uint64_t seq, uint32_t attempts,
                                         const std::string& reason) {
  journal_->Update(journal::DeadLetter{agency, seq, attempts, reason},
                   [](base::Status st) { LogUpdateFailure("dead_letter", st); });
}

base::Result<std::vector<DeadLetter>> JournalEventStore::DeadLetters() {
  RELAIS_ASSIGN_OR_RETURN(auto rows, reader_->DeadLetters());
  std::vector<DeadLetter> out;
  for (const auto& r : rows) out.push_back(DeadLetter{r.agency, r.seq, r.attempts, r.reason});
  return out;
}

base::Result<std::vector<std::string>> JournalEventStore::Requeue(uint64_t seq) {
  RELAIS_ASSIGN_OR_RETURN(auto rows, reader_->DeadLetters());
  std::vector<std::string> agencies;
  for (const auto& r : rows) {
    if (r.seq == seq) agencies.push_back(r.agency);
  }
  if (agencies.empty()) {
    return base::NotFound("no_dead_letter", "seq " + std::to_string(seq) + " is no dead letter");
  }
  RELAIS_RETURN_IF_ERROR(journal_->UpdateAsync(journal::RequeueDelivery{"", seq}).get());
  return agencies;
}

base::Result<std::vector<journal::DisclosureRow>> JournalEventStore::Disclosures(
    const std::string& case_ref) {
  return reader_->Disclosures(case_ref);
}

base::Result<std::unique_ptr<JournalEventStore>> OpenJournalEventStore(
    const JournalStoreOptions& options, const base::Clock& clock,
    const crypto::AgencyIdentity& broker) {
  journal::JournalOptions jo;
  jo.path = options.path;
  jo.checkpoint_every_rows = options.checkpoint_every;
  jo.checkpoint_every_ms = options.checkpoint_interval_ms;
  jo.vfs = options.vfs;
  jo.on_corruption = options.on_corruption;
  jo.on_batch = options.on_batch;
  // The broker appends what a verification thread checked (publish_check.cc: the signature over
  // these header bytes and digests, the digests over this body and these wraps) or what it sealed
  // itself; the journal does not hash and decode it all again on the I/O thread. Events read from
  // the stream are still checked by the journal.
  jo.check_appends = false;
  RELAIS_ASSIGN_OR_RETURN(auto journal, journal::Journal::Open(jo, clock, &broker.sign_secret));
  RELAIS_ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open({options.path, ""}));
  return std::make_unique<JournalEventStore>(std::move(journal), std::move(reader), clock,
                                             options.on_corruption);
}

}  // namespace relais::broker
