// libFuzzer target: relaisd's `--deadline KIND=ACCEPT_LEAD_HOURS:PICKUP_GRACE_HOURS` values
// (broker/case_engine.h ParsePolicyOverride). Besides not crashing (UBSan: no overflow in the
// hours → milliseconds conversion), checks that an accepted value sets exactly its kind to
// non-negative whole hours that its canonical text parses back to, and that a refused one leaves
// the policies unchanged.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "broker/case_engine.h"
#include "tests/fuzz/fuzz_die.h"

using relais::fuzz::Die;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::map<schema::ReferralKind, broker::DeadlinePolicy> policies;
  auto st = broker::ParsePolicyOverride(text, policies);
  if (!st) {
    if (st.error().code != "bad_deadline_policy") Die("unexpected error code");
    if (!policies.empty()) Die("a refused value changed the policies");
    return 0;
  }
  if (policies.size() != 1) Die("an accepted value did not set exactly one kind");
  const auto& [kind, policy] = *policies.begin();
  if (text.substr(0, text.find('=')) != schema::ReferralKindName(kind)) Die("wrong kind set");
  if (policy.accept_lead < 0 || policy.pickup_grace < 0) Die("negative duration");
  if (policy.accept_lead % base::kMsPerHour != 0 || policy.pickup_grace % base::kMsPerHour != 0) {
    Die("durations are not whole hours");
  }
  std::string again = std::string(schema::ReferralKindName(kind)) + "=" +
                      std::to_string(policy.accept_lead / base::kMsPerHour) + ":" +
                      std::to_string(policy.pickup_grace / base::kMsPerHour);
  std::map<schema::ReferralKind, broker::DeadlinePolicy> back;
  if (!broker::ParsePolicyOverride(again, back)) Die("the canonical form does not parse");
  if (back.size() != 1 || back.begin()->second.accept_lead != policy.accept_lead ||
      back.begin()->second.pickup_grace != policy.pickup_grace) {
    Die("the canonical form parses to another policy");
  }
  return 0;
}
