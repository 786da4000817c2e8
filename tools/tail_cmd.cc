// relais tail: subscribes as this agency, verifies and opens each delivery, prints it as one JSON
// object per line, and acknowledges it once printed.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "adapters/sdk/client.h"
#include "adapters/sdk/envelope_builder.h"
#include "adapters/sdk/json.h"
#include "base/clock.h"
#include "crypto/identity.h"
#include "tools/cli.h"
#include "tools/commands.h"

namespace relais::tools {

namespace {

constexpr int kExitRefused = 3;
constexpr size_t kRememberedEvents = 100000;

int FailTail(std::string_view command, const base::Error& error) {
  if (!sdk::IsRefusal(error)) return Fail(command, error);
  std::cerr << "relais " << command << ": " << error.ToString() << "\n";
  return kExitRefused;
}

// Event ids already printed, so that a redelivery (an ack lost or dropped in a reconnection or
// fail-over) is acknowledged again without being printed twice. By event id, not seq: after a
// fail-over to another relaisd instance the same event comes with another seq. Bounded: the
// oldest are forgotten first.
class PrintedEvents {
 public:
  bool Contains(const base::Bytes& event_id) const { return set_.contains(event_id); }
  void Add(const base::Bytes& event_id) {
    if (!set_.insert(event_id).second) return;
    order_.push_back(event_id);
    if (order_.size() > kRememberedEvents) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }

 private:
  std::set<base::Bytes> set_;
  std::deque<base::Bytes> order_;
};

std::string SecondsText(double seconds) {
  std::ostringstream out;
  out << seconds;
  return out.str();
}

// Prints, then acknowledges, each delivery until `count` were printed (0: no limit) or nothing
// came for `timeout_s` seconds (0: no limit). Returns the exit code.
int ReceiveLoop(sdk::Client& client, const schema::Registry& registry,
                const crypto::AgencyIdentity& identity, uint64_t count, double timeout_s) {
  using Clock = std::chrono::steady_clock;
  auto idle_limit = std::chrono::milliseconds(std::llround(timeout_s * 1000));
  Clock::time_point last_event = Clock::now();
  uint64_t printed = 0;
  PrintedEvents seen;
  while (count == 0 || printed < count) {
    auto next = client.Next(std::chrono::milliseconds(1000));
    if (!next) {
      if (sdk::IsRefusal(next.error())) return FailTail("tail", next.error());
      std::cerr << "relais tail: " << next.error().ToString() << "\n";
      continue;
    }
    if (!next->has_value()) {
      if (timeout_s > 0 && Clock::now() - last_event >= idle_limit) {
        if (count == 0) return kExitOk;
        return Fail("tail",
                    base::RetryLater("tail_timeout", std::to_string(printed) + " of " +
                                                         std::to_string(count) + " events within " +
                                                         SecondsText(timeout_s) + " s"));
      }
      continue;
    }
    sdk::Delivery& d = **next;
    last_event = Clock::now();
    auto opened = sdk::VerifyAndOpen(d.envelope, registry, identity, d.received_at);
    if (!opened) {
      std::cerr << "relais tail: seq " << d.seq << " not printed: " << opened.error().ToString()
                << "\n";
      (void)client.Nack(d, opened.error().code);
      continue;
    }
    if (seen.Contains(opened->header.event_id)) {  // a redelivery of what we printed
      (void)client.Ack(d);
      continue;
    }
    std::cout << sdk::DeliveryToJsonLine(d.seq, d.received_at, d.attempt, opened->header,
                                         opened->body)
              << "\n"
              << std::flush;
    if (!std::cout) {
      return Fail("tail", base::InvalidInput("cannot_write", "standard output is closed"));
    }
    seen.Add(opened->header.event_id);
    ++printed;
    if (auto st = client.Ack(d); !st) {
      std::cerr << "relais tail: seq " << d.seq << ": " << st.error().ToString() << "\n";
    }
  }
  return kExitOk;
}

}  // namespace

int RunTail(int argc, char** argv) {
  CommandSpec spec;
  spec.name = "tail";
  spec.usage =
      "relais tail --key ID.key --registry REG --authority-pub AUTH.pub --broker tcp://HOST:7411\n"
      "                   [--from-now | --from-seq N] [--credit N] [--count N] [--timeout S]";
  spec.description =
      "Subscribes as this agency and prints every event addressed to it, one JSON object per\n"
      "line: {\"seq\":N,\"received_at\":...,\"attempt\":N,\"header\":{...},\"body\":{...}}.\n"
      "Each delivery's signature is verified against the registry and its body opened with this\n"
      "agency's key before it is printed; it is acknowledged to the broker only once printed, so\n"
      "stopping at any point loses nothing (an event may then be printed again by the next run:\n"
      "deduplicate by header.event_id, since seq is the number given by the relaisd instance that\n"
      "delivered it and differs between instances). A delivery that does not verify or open is\n"
      "not printed: it is reported on stderr (without content) and nacked, and the broker\n"
      "dead-letters it after its maximum attempts.\n\n"
      "By default every event not yet acknowledged is delivered, oldest first. The output holds\n"
      "personal data: send it only where this agency's case files go.\n\n"
      "Exit code 3 (in addition to those below): the broker refused this agency (not a receiver,\n"
      "revoked, CURVE key refused).";
  std::vector<std::string> brokers;
  std::string broker_id, key, registry_path, authority_pub;
  uint64_t from_seq = 0;
  uint32_t credit = 100;
  uint64_t count = 0;
  double timeout_s = 0;
  spec.options.add_options()("key", po::value(&key)->required(),
                             "this agency's key file (ID.key, from relais keygen)")(
      "registry", po::value(&registry_path)->required(), "the signed registry file")(
      "authority-pub", po::value(&authority_pub)->required(),
      "the registry authority's public key file (.pub)")(
      "broker", po::value(&brokers)->required()->composing(), sdk::kBrokerFlagHelp)(
      "broker-id", po::value(&broker_id),
      "which registry agency of kind broker to trust, when the registry lists several")(
      "from-now", "only events journaled from now on")(
      "from-seq", po::value(&from_seq), "unacknowledged events from journal seq N on")(
      "credit", po::value(&credit)->default_value(100),
      "deliveries the broker may have outstanding, unacknowledged (1-10000)")(
      "count", po::value(&count), "exit after printing N events")(
      "timeout", po::value(&timeout_s),
      "exit after S seconds without a new event (exit 0, or 1 when --count is not reached)");
  int exit_code = kExitOk;
  auto vm = ParseArgs(spec, argc, argv, exit_code);
  if (!vm) return exit_code;
  if (vm->count("from-now") && vm->count("from-seq")) {
    return UsageError(spec.name, "--from-now and --from-seq exclude each other");
  }
  if (credit == 0 || credit > 10000) return UsageError(spec.name, "--credit must be 1-10000");
  if (vm->count("timeout") && (!(timeout_s > 0) || timeout_s > 86400 * 365)) {
    return UsageError(spec.name, "--timeout must be a number of seconds above 0");
  }
  if (vm->count("count") && count == 0) return UsageError(spec.name, "--count must be above 0");

  base::SystemClock clock;
  auto identity = crypto::LoadIdentity(key);
  if (!identity) return Fail(spec.name, identity.error());
  auto registry = sdk::LoadRegistry(registry_path, authority_pub, clock.NowMs());
  if (!registry) return Fail(spec.name, registry.error());
  auto broker_key = sdk::BrokerCurveKey(*registry, clock.NowMs(), broker_id);
  if (!broker_key) return Fail(spec.name, broker_key.error());

  sdk::ClientOptions options;
  options.endpoints = brokers;
  options.broker_curve_public = *broker_key;
  options.identity = &*identity;
  auto client = sdk::Client::Connect(options);
  if (!client) return FailTail(spec.name, client.error());

  schema::Subscribe subscribe;
  subscribe.credit = credit;
  if (vm->count("from-now")) {
    subscribe.resume = schema::Subscribe::Resume::kFromNow;
  } else if (vm->count("from-seq")) {
    subscribe.resume = schema::Subscribe::Resume::kFromSeq;
    subscribe.from_seq = from_seq;
  }
  if (auto st = (*client)->Subscribe(subscribe); !st) return FailTail(spec.name, st.error());

  return ReceiveLoop(**client, *registry, *identity, count, timeout_s);
}

}  // namespace relais::tools
