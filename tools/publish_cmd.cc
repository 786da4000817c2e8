// relais publish: publishes one event described by a JSON document
// (docs/adapters/json-referral.md) and waits for the broker's acknowledgement.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "adapters/sdk/client.h"
#include "adapters/sdk/envelope_builder.h"
#include "adapters/sdk/json.h"
#include "base/clock.h"
#include "crypto/identity.h"
#include "crypto/random.h"
#include "schema/envelope.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace relais::tools {

namespace {

constexpr int kExitRefused = 3;
constexpr size_t kMaxDocumentBytes = 4u << 20;

// 3 when trying again would be refused again (the registry or the broker said no), else the
// usual codes of tools/cli.h.
int FailPublish(std::string_view command, const base::Error& error, bool refusal) {
  if (!refusal) return Fail(command, error);
  std::cerr << "relais " << command << ": " << error.ToString() << "\n";
  return kExitRefused;
}

bool IsLocalRefusal(const base::Error& error) {
  return error.kind == base::ErrorKind::kNotAuthorised ||
         error.kind == base::ErrorKind::kUnauthenticated;
}

// The options `relais publish` and `relais tail` share (tail_cmd.cc has the same).
struct BrokerConnectionArgs {
  std::vector<std::string> brokers;
  std::string broker_id;
  std::string key;
  std::string registry;
  std::string authority_pub;
  double timeout_s = 30;
};

void AddBrokerConnectionOptions(CommandSpec& spec, BrokerConnectionArgs& args) {
  spec.options.add_options()("key", po::value(&args.key)->required(),
                             "this agency's key file (ID.key, from relais keygen)")(
      "registry", po::value(&args.registry)->required(), "the signed registry file")(
      "authority-pub", po::value(&args.authority_pub)->required(),
      "the registry authority's public key file (.pub)")(
      "broker", po::value(&args.brokers)->required()->composing(), sdk::kBrokerFlagHelp)(
      "broker-id", po::value(&args.broker_id),
      "which registry agency of kind broker to trust, when the registry lists several (its CURVE "
      "key authenticates the broker)");
}

}  // namespace

int RunPublish(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "publish";
  spec.usage =
      "relais publish --from FILE.json --key ID.key --registry REG --authority-pub AUTH.pub\n"
      "                      --broker tcp://HOST:7411 [--broker ...] [--timeout S]";
  spec.description =
      "Reads one event from FILE.json (format: docs/adapters/json-referral.md), checks it against\n"
      "the verified registry, seals its body for its recipients, signs it with this agency's key\n"
      "and publishes it, waiting for the broker's acknowledgement (the event is then durably in\n"
      "the journal). Prints `ok seq=N event=UUID case=CASE_REF` (and ` duplicate` when the broker\n"
      "already had this event id). A transient refusal (overload) or a lost connection is retried\n"
      "with the same event id until --timeout. The broker's CURVE key is taken from the\n"
      "registry's agency of kind broker.\n\n"
      "Exit code 3 (in addition to those below): refused for good, by the registry or the broker\n"
      "(e.g. consent_missing, kind_not_allowed, recipient_cannot_receive, handshake_refused):\n"
      "publishing the same event again will be refused again. After a publish_timeout (exit 1)\n"
      "the event may or may not be stored: give the document an \"event_id\" to retry safely.";
  BrokerConnectionArgs args;
  std::string from;
  spec.options.add_options()("from", po::value(&from)->required(),
                             "the JSON document describing the event");
  AddBrokerConnectionOptions(spec, args);
  spec.options.add_options()("timeout", po::value(&args.timeout_s)->default_value(30),
                             "seconds to wait for the broker's acknowledgement");
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  if (!(args.timeout_s > 0) || args.timeout_s > 86400) {
    return UsageError(spec.name, "--timeout must be a number of seconds above 0");
  }

  base::SystemClock clock;
  auto text = ReadFileBytes(from);
  if (!text) return Fail(spec.name, text.error());
  if (text->size() > kMaxDocumentBytes) {
    return Fail(spec.name, base::InvalidInput("bad_json", from + ": larger than 4 MiB"));
  }
  auto input = sdk::ParsePublishInput(base::ToString(*text));
  if (!input) {
    base::Error e = std::move(input).error();
    e.message = from + ": " + e.message;
    return Fail(spec.name, e);
  }
  auto identity = crypto::LoadIdentity(args.key);
  if (!identity) return Fail(spec.name, identity.error());
  auto registry = sdk::LoadRegistry(args.registry, args.authority_pub, clock.NowMs());
  if (!registry) return Fail(spec.name, registry.error());
  auto broker_key = sdk::BrokerCurveKey(*registry, clock.NowMs(), args.broker_id);
  if (!broker_key) return Fail(spec.name, broker_key.error());

  schema::Header& header = input->header;
  bool had_event_id = !header.event_id.empty();
  if (!had_event_id) header.event_id = crypto::NewEventId(clock.NowMs());
  auto envelope = sdk::BuildEnvelope(header, input->body, *registry, *identity, clock);
  if (!envelope) return FailPublish(spec.name, envelope.error(), IsLocalRefusal(envelope.error()));

  auto timeout = std::chrono::milliseconds(std::llround(args.timeout_s * 1000));
  sdk::Deadline deadline = sdk::DeadlineAfter(timeout);
  sdk::ClientOptions options;
  options.endpoints = args.brokers;
  options.broker_curve_public = *broker_key;
  options.identity = &*identity;
  options.connect_timeout = std::min(timeout, std::chrono::milliseconds(10000));
  auto client = sdk::Client::Connect(options);
  if (!client) return FailPublish(spec.name, client.error(), sdk::IsRefusal(client.error()));
  auto outcome = (*client)->Publish(*envelope, deadline);
  if (!outcome) {
    bool refusal = sdk::IsRefusal(outcome.error());
    int code = FailPublish(spec.name, outcome.error(), refusal);
    if (!refusal && (!had_event_id || input->case_ref_generated)) {
      std::cerr << "relais publish: to publish this same event again, add \"event_id\": \""
                << crypto::FormatUuid(header.event_id) << "\", \"case_ref\": \"" << header.case_ref
                << "\" to the document\n";
    }
    return code;
  }

  if (outcome->duplicate && input->case_ref_generated) {
    std::cerr << "relais publish: the broker already had this event id: the case ref below was "
                 "drawn now and is not the stored event's; give \"case_ref\" in the document\n";
  }
  std::cout << "ok seq=" << outcome->seq << " event=" << crypto::FormatUuid(header.event_id)
            << " case=" << header.case_ref << (outcome->duplicate ? " duplicate" : "") << "\n";
  return kExitOk;
}

}  // namespace relais::tools
