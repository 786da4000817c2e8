// relaisd's options: the command line and the `--config FILE` file (`name = value` lines, Boost
// program_options syntax), parsed and validated into a RelaisdConfig. relaisd_main.cc wires it;
// tests/fuzz/relaisd_config_fuzz.cc fuzzes the config-text path.
//
// Errors (kInvalidInput unless noted): "bad_option" (unknown option, bad value, syntax error;
// the message is Boost's, it names the option; a shorter one of ours when the input holds a '%',
// see relaisd_options.cc), "missing_option" (--registry, --authority-pub or --key absent),
// kNotFound "no_config" (the --config file cannot be read).
//
// Thread-safety: pure functions (ParseRelaisdOptions reads the --config file).
#ifndef RELAIS_BROKER_RELAISD_OPTIONS_H_
#define RELAIS_BROKER_RELAISD_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace relais::broker {

struct RelaisdConfig {
  std::string listen;
  std::vector<std::string> allow_from;
  int ban_connections = 100;
  int ban_seconds = 60;
  size_t max_resident_cases = 10000;
  std::string journal;
  std::string registry;
  std::string authority_pub;
  std::string key;
  std::string metrics_listen;
  unsigned verify_threads = 0;
  int64_t ack_timeout_ms = 30000;
  uint32_t max_attempts = 10;
  uint32_t max_credit = 10000;
  int64_t session_timeout_ms = 15000;
  size_t max_pending = 20000;
  uint32_t checkpoint_every = 1000;
  int64_t checkpoint_interval_s = 60;
  std::string log_level;
  std::vector<std::string> deadlines;
  std::string test_clock_file;
  std::string test_fault_file;        // only with test_hooks (relaisd_test_hooks)
  std::string test_replay_hold_file;  // only with test_hooks (BrokerOptions)
  // JetStream mode (docs/scale-out.md section 9); embedded when stream_url is empty.
  std::string stream_url;
  std::string stream_name;
  int stream_replicas = 3;
  std::string deployment;
  std::string instance;
  std::string territory;
  std::string stream_secret_file;
  bool stream_ingest = true;
  // --help was given: `help_text` holds the option table and nothing was validated.
  bool help = false;
  std::string help_text;
};

// The command line (argv[0] is the program name). `test_hooks` adds --test-fault-file, in the
// library relaisd_options_hooks only (relaisd_test_hooks, tests, fuzzing); in relaisd_options,
// linked by the installed relaisd, the option does not exist.
base::Result<RelaisdConfig> ParseRelaisdOptions(int argc, const char* const* argv, bool test_hooks);
// The contents of a --config file alone, with the same validation (the required options must be
// in the text).
base::Result<RelaisdConfig> ParseRelaisdConfigText(std::string_view text, bool test_hooks);

}  // namespace relais::broker

#endif  // RELAIS_BROKER_RELAISD_OPTIONS_H_
