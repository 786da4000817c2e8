#include "broker/replicated_event_store.h"

#include <future>

namespace relais::broker {

void ReplicatedEventStore::Append(schema::Envelope envelope, schema::Header header,
                                  std::vector<journal::DerivedMutation> mutations,
                                  std::function<void(base::Result<Appended>)> done) {
  local_.Append(std::move(envelope), std::move(header), std::move(mutations),
                [this, done = std::move(done)](base::Result<Appended> r) {
                  const bool appended = r && !r->duplicate;
                  done(std::move(r));
                  if (appended) forwarder_.Notify();
                });
}

base::Status ReplicatedEventStore::Erase(const std::string& case_ref) {
  RELAIS_RETURN_IF_ERROR(local_.Erase(case_ref));
  std::promise<base::Status> shredded;
  auto f = shredded.get_future();
  forwarder_.Shred(case_ref, [&shredded](base::Status st) { shredded.set_value(std::move(st)); });
  return f.get();
}

void ReplicatedEventStore::EraseAsync(const std::string& case_ref,
                                      std::function<void(base::Status)> done) {
  local_.EraseAsync(case_ref, [this, case_ref, done = std::move(done)](base::Status st) mutable {
    if (!st) {
      done(std::move(st));
      return;
    }
    forwarder_.Shred(case_ref, std::move(done));
  });
}

}  // namespace relais::broker
