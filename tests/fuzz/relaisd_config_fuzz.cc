// libFuzzer target: relaisd's `--config FILE` text (broker/relaisd_options.h
// ParseRelaisdConfigText, Boost program_options' config file parser underneath), with and
// without the test-hook options. Besides not crashing or leaking an exception, checks that the
// only errors are "bad_option" and "missing_option", that an accepted config has the required
// options, that every accepted --deadline value either parses or is refused cleanly, and that
// every accepted allow-from value the kernel filter takes (transport::ParseIpv4Network) is a
// masked network that contains its own address.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string_view>

#include "broker/case_engine.h"
#include "broker/relaisd_options.h"
#include "broker/transport/listen_filter.h"
#include "tests/fuzz/fuzz_die.h"

using relais::fuzz::Die;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (bool hooks : {false, true}) {
    auto config = broker::ParseRelaisdConfigText(text, hooks);
    if (!config) {
      const std::string& code = config.error().code;
      if (code != "bad_option" && code != "missing_option") Die("unexpected error code");
      continue;
    }
    if (config->registry.empty() || config->authority_pub.empty() || config->key.empty()) {
      Die("accepted a config without a required option");
    }
    if (!hooks && !config->test_fault_file.empty()) Die("test hook option without test hooks");
    for (const auto& network : config->allow_from) {
      auto n = transport::ParseIpv4Network(network);
      if (n && ((n->address & n->mask) != n->address || !n->Contains(n->address))) {
        Die("an allow-from network that does not contain itself");
      }
    }
    std::map<schema::ReferralKind, broker::DeadlinePolicy> policies;
    for (const auto& d : config->deadlines) {
      auto st = broker::ParsePolicyOverride(d, policies);
      if (!st && st.error().code != "bad_deadline_policy") Die("unexpected deadline error");
    }
  }
  return 0;
}
