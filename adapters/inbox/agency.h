// This agency's side of the bus for the inbox: its identity, the verified registry, the broker
// connection, and the answers it publishes (accepted, declined, picked_up, purge_receipt).
//
// Threading: an InboxAgency is read-only after Load and may be shared; each sdk::Client belongs to
// the thread that connected it (the web server connects one per action).
#ifndef RELAIS_ADAPTERS_INBOX_AGENCY_H_
#define RELAIS_ADAPTERS_INBOX_AGENCY_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "adapters/inbox/case_view.h"
#include "adapters/inbox/store.h"
#include "adapters/sdk/client.h"
#include "base/clock.h"
#include "crypto/identity.h"
#include "schema/registry.h"

namespace relais::inbox {

struct AgencyConfig {
  std::filesystem::path key_file;
  std::filesystem::path registry_file;
  std::filesystem::path authority_pub;
  std::vector<std::string> brokers;
  std::string broker_id;
  // The contact given to the referring professional in an acceptance.
  schema::Contact contact;
};

class InboxAgency {
 public:
  // Loads the key file and the verified registry. Errors: those of crypto::LoadIdentity,
  // sdk::LoadRegistry and sdk::BrokerCurveKey; kNotAuthorised "unknown_emitter" when this agency
  // is not in the registry.
  static base::Result<std::unique_ptr<InboxAgency>> Load(const AgencyConfig& config,
                                                         const base::Clock& clock);

  // A new connection to the broker (sdk::Client::Connect's errors).
  base::Result<std::unique_ptr<sdk::Client>> Connect() const;

  const std::string& id() const { return identity_.pub.agency_id; }
  // True for SIAO and coordinator agencies: the page shows the territory's alerts.
  bool coordinator() const { return coordinator_; }
  std::string display_name() const;
  const crypto::AgencyIdentity& identity() const { return identity_; }
  const schema::Registry& registry() const { return registry_; }
  const AgencyConfig& config() const { return config_; }

 private:
  InboxAgency() = default;
  AgencyConfig config_;
  crypto::AgencyIdentity identity_;
  schema::Registry registry_;
  base::Bytes broker_key_;
  bool coordinator_ = false;
};

struct Answer {
  schema::EventKind kind = schema::EventKind::kAccepted;  // accepted, declined or picked_up
  schema::DeclineReason reason = schema::DeclineReason::kNone;
  std::string note;
  std::string place;  // picked_up: where the person is now
};

struct AnswerOutcome {
  uint64_t seq = 0;
  bool duplicate = false;
  std::string event_id;  // canonical UUID text
};

// Checks the answer is possible (CanAnswer / CanPickUp: kInvalidInput "not_answerable"), builds
// it in reply to the case's referral, publishes it (waiting up to 30 s for the broker's ack) and
// records it in `store` once acknowledged. The broker's refusals come back as its codes
// (already_accepted, invalid_transition, ...).
base::Result<AnswerOutcome> SendAnswer(const InboxAgency& agency, sdk::Client& client, Store& store,
                                       const CaseView& c, const Answer& answer,
                                       const base::Clock& clock);

// Publishes the purge_receipt for `case_ref` and returns its seq.
base::Result<uint64_t> SendPurgeReceipt(const InboxAgency& agency, sdk::Client& client,
                                        const std::string& case_ref, const base::Clock& clock);

}  // namespace relais::inbox

#endif  // RELAIS_ADAPTERS_INBOX_AGENCY_H_
