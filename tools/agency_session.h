// The common start of every command that talks to relaisd: load this agency's key file and the
// verified registry, find the broker's CURVE key in it, connect.
#ifndef RELAIS_TOOLS_AGENCY_SESSION_H_
#define RELAIS_TOOLS_AGENCY_SESSION_H_

#include <memory>
#include <string>
#include <vector>

#include "adapters/sdk/client.h"
#include "base/status.h"
#include "crypto/identity.h"
#include "schema/registry.h"
#include "tools/cli.h"

namespace relais::tools {

struct AgencySessionFlags {
  std::string key;
  std::string registry;
  std::string authority_pub;
  std::vector<std::string> brokers;
  std::string broker_id;
};

// Adds --key, --registry, --authority-pub, --broker (repeatable) and --broker-id to `options`.
void AddAgencySessionOptions(po::options_description& options, AgencySessionFlags& flags);

struct AgencySession {
  crypto::AgencyIdentity identity;
  schema::Registry registry;
  std::unique_ptr<sdk::Client> client;
};

// Loads and connects. The identity lives inside the returned session, which the client points to.
base::Result<std::unique_ptr<AgencySession>> OpenAgencySession(const AgencySessionFlags& flags);

}  // namespace relais::tools

#endif  // RELAIS_TOOLS_AGENCY_SESSION_H_
