#include "broker/relaisd_options.h"

#include <boost/program_options.hpp>
#include <fstream>
#include <sstream>
#include <string_view>

namespace relais::broker {
namespace {

namespace po = boost::program_options;
constexpr size_t npos = std::string_view::npos;

po::options_description Options(RelaisdConfig& c, bool test_hooks) {
  po::options_description d("relaisd options (also accepted as `name = value` lines in --config)");
  d.add_options()("listen", po::value(&c.listen)->default_value("tcp://127.0.0.1:7411"),
                  "ZeroMQ endpoint the broker binds (CURVE server)")(
      "allow-from", po::value(&c.allow_from)->composing(),
      "a source network allowed to connect, IPv4 address or CIDR (repeatable); on an IPv4 "
      "endpoint the kernel drops other addresses' connection requests, before any handshake "
      "work (docs/operations.md, \"Exposure\"). Absent: every address")(
      "ban-connections", po::value(&c.ban_connections)->default_value(100),
      "a source address opening more connections than this within 10 s is dropped by the kernel "
      "for --ban-seconds (a flood of handshakes; 0: never)")(
      "ban-seconds", po::value(&c.ban_seconds)->default_value(60),
      "how long such a source stays banned")(
      "journal", po::value(&c.journal)->default_value("relais-journal.db"),
      "path of the SQLite journal (created if absent)")("registry", po::value(&c.registry),
                                                        "signed agency registry file (required)")(
      "authority-pub", po::value(&c.authority_pub),
      "public key file (.pub) of the registry authority (required)")(
      "key", po::value(&c.key),
      "the broker's own identity key file (.key, mode 0600; its agency must be of kind broker "
      "in the registry) (required)")("metrics-listen",
                                     po::value(&c.metrics_listen)->default_value("127.0.0.1:9464"),
                                     "HOST:PORT for /metrics and /healthz; 'off' disables")(
      "verify-threads", po::value(&c.verify_threads)->default_value(0),
      "signature verification threads (0: one per core)")(
      "ack-timeout-ms", po::value(&c.ack_timeout_ms)->default_value(30000),
      "redeliver a delivery not acked within this time (doubling back-off)")(
      "max-attempts", po::value(&c.max_attempts)->default_value(10),
      "deliveries attempted this many times go to the dead-letter list")(
      "max-credit", po::value(&c.max_credit)->default_value(10000),
      "upper bound of a subscriber's credit")(
      "session-timeout-ms", po::value(&c.session_timeout_ms)->default_value(15000),
      "a connection silent this long is considered gone")(
      "max-pending", po::value(&c.max_pending)->default_value(20000),
      "publishes being verified or committed at once; beyond: transient 'overloaded'")(
      "max-resident-cases", po::value(&c.max_resident_cases)->default_value(10000),
      "cases kept in memory once the start-up replay is over; the least recently used others "
      "are read back from the journal when an event, a deadline or a receipt concerns them "
      "(0: keep every case)")("checkpoint-every",
                              po::value(&c.checkpoint_every)->default_value(1000),
                              "append a signed checkpoint every N journal rows")(
      "checkpoint-interval-s", po::value(&c.checkpoint_interval_s)->default_value(60),
      "... or every S seconds, whichever comes first")(
      "log-level", po::value(&c.log_level)->default_value("info"), "debug, info, warn, error")(
      "deadline", po::value(&c.deadlines)->composing(),
      "KIND=ACCEPT_LEAD_HOURS:PICKUP_GRACE_HOURS, e.g. prison_release=720:168 (repeatable; "
      "docs/lifecycle.md)")("test-clock-file", po::value(&c.test_clock_file),
                            "TEST ONLY: read the time from this file (ISO 8601 or integer ms), "
                            "re-read when it changes");
  d.add_options()("stream-url", po::value(&c.stream_url),
                  "JetStream mode: comma-separated NATS URLs of the cluster "
                  "(nats://h1:4222,nats://h2:4222,...); the local journal is then replicated to "
                  "the stream (docs/scale-out.md). Absent: embedded mode")(
      "stream-name", po::value(&c.stream_name),
      "JetStream mode: the stream (default RELAIS_<DEPLOYMENT>); its case key bucket is "
      "<stream-name>_KEYS")("stream-replicas", po::value(&c.stream_replicas)->default_value(3),
                            "JetStream mode: replicas of the stream and key bucket (1 or 3)")(
      "deployment", po::value(&c.deployment),
      "JetStream mode: deployment name, subject token (required with --stream-url)")(
      "instance", po::value(&c.instance),
      "JetStream mode: this relaisd's name, unique in the deployment (required with "
      "--stream-url)")("territory", po::value(&c.territory)->default_value("all"),
                       "JetStream mode: territory token of the subjects")(
      "stream-secret-file", po::value(&c.stream_secret_file),
      "JetStream mode: at-rest key file (0600) keying the hash that names case keys; the same "
      "file on every instance of the deployment; created if absent (default "
      "<journal>.stream-secret)")(
      "stream-ingest", po::value(&c.stream_ingest)->default_value(true),
      "JetStream mode: several relaisd instances share the stream (docs/scale-out.md section "
      "12): read the others' events and acknowledgements from it to serve their recipients here, "
      "and send this instance's acknowledgements to it. false: an instance alone on its stream");
#ifdef RELAIS_CRASH_POINTS
  if (test_hooks) {
    d.add_options()("test-fault-file", po::value(&c.test_fault_file),
                    "TEST ONLY (relaisd_test_hooks): open the journal through the fault-injecting "
                    "VFS, whose mode (ok, full, eio, fsync_error) is the first word of this file")(
        "test-replay-hold-file", po::value(&c.test_replay_hold_file),
        "TEST ONLY (relaisd_test_hooks): while this file exists, the start-up replay does not "
        "go past the seq written in it");
  }
#else
  (void)test_hooks;  // the installed relaisd has no test options at all
#endif
  return d;
}

// Boost 1.74's error_with_option_name::what() replaces placeholders such as
// "%canonical_option%" in a loop that never ends when the offending option name or value holds
// the placeholder itself (found by fuzz_relaisd_config). Inputs without '%' cannot hold one;
// for the others the message is built from the option name alone.
base::Error BadOption(const po::error& e, bool input_has_percent) {
  if (!input_has_percent) return base::InvalidInput("bad_option", e.what());
  const auto* named = dynamic_cast<const po::error_with_option_name*>(&e);
  if (named != nullptr && !named->get_option_name().empty()) {
    return base::InvalidInput("bad_option", "unknown option, bad value or syntax error at '" +
                                                named->get_option_name() + "'");
  }
  return base::InvalidInput("bad_option", "unknown option, bad value or syntax error");
}

base::Status RequireOptions(const RelaisdConfig& c) {
  for (auto [name, value] :
       {std::pair{"registry", &c.registry}, std::pair{"authority-pub", &c.authority_pub},
        std::pair{"key", &c.key}}) {
    if (value->empty())
      return base::InvalidInput("missing_option", std::string("--") + name + " is required");
  }
  return {};
}

}  // namespace

base::Result<RelaisdConfig> ParseRelaisdOptions(int argc, const char* const* argv,
                                                bool test_hooks) {
  RelaisdConfig c;
  po::options_description general("general");
  std::string config_file;
  general.add_options()("help,h", "show this help")(
      "config", po::value(&config_file), "read options from this file (`name = value` lines)");
  po::options_description all;
  all.add(general).add(Options(c, test_hooks));
  po::variables_map vm;
  bool has_percent = false;
  for (int i = 0; i < argc; ++i) has_percent |= std::string_view(argv[i]).find('%') != npos;
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
    if (vm.count("config")) {
      std::ifstream file(vm["config"].as<std::string>());
      if (!file) {
        return base::NotFound("no_config",
                              "cannot read config file " + vm["config"].as<std::string>());
      }
      std::stringstream text;
      text << file.rdbuf();
      has_percent |= text.str().find('%') != npos;
      po::store(po::parse_config_file(text, Options(c, test_hooks)), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return BadOption(e, has_percent);
  }
  if (vm.count("help")) {
    c.help = true;
    std::ostringstream text;
    text << all;
    c.help_text = text.str();
    return c;
  }
  RELAIS_RETURN_IF_ERROR(RequireOptions(c));
  return c;
}

base::Result<RelaisdConfig> ParseRelaisdConfigText(std::string_view text, bool test_hooks) {
  RelaisdConfig c;
  po::variables_map vm;
  try {
    std::istringstream in{std::string(text)};
    po::store(po::parse_config_file(in, Options(c, test_hooks)), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return BadOption(e, text.find('%') != npos);
  }
  RELAIS_RETURN_IF_ERROR(RequireOptions(c));
  return c;
}

}  // namespace relais::broker
