#include "tools/agency_session.h"

#include "adapters/sdk/envelope_builder.h"
#include "base/clock.h"

namespace relais::tools {

void AddAgencySessionOptions(po::options_description& options, AgencySessionFlags& flags) {
  options.add_options()("key", po::value(&flags.key)->required(),
                        "this agency's key file (ID.key, from relais keygen)")(
      "registry", po::value(&flags.registry)->required(), "the signed registry file")(
      "authority-pub", po::value(&flags.authority_pub)->required(),
      "the registry authority's public key file (.pub)")(
      "broker", po::value(&flags.brokers)->required()->composing(), sdk::kBrokerFlagHelp)(
      "broker-id", po::value(&flags.broker_id),
      "which registry agency of kind broker to trust, when the registry lists several");
}

base::Result<std::unique_ptr<AgencySession>> OpenAgencySession(const AgencySessionFlags& flags) {
  base::SystemClock clock;
  auto session = std::make_unique<AgencySession>();
  RELAIS_ASSIGN_OR_RETURN(session->identity, crypto::LoadIdentity(flags.key));
  RELAIS_ASSIGN_OR_RETURN(session->registry,
                          sdk::LoadRegistry(flags.registry, flags.authority_pub, clock.NowMs()));
  RELAIS_ASSIGN_OR_RETURN(auto broker_key,
                          sdk::BrokerCurveKey(session->registry, clock.NowMs(), flags.broker_id));
  sdk::ClientOptions options;
  options.endpoints = flags.brokers;
  options.broker_curve_public = broker_key;
  options.identity = &session->identity;
  RELAIS_ASSIGN_OR_RETURN(session->client, sdk::Client::Connect(options));
  return session;
}

}  // namespace relais::tools
