// libFuzzer target: the publish input document of `relais publish --from FILE.json`
// (adapters/sdk/json.h ParsePublishInput). Besides not crashing and failing only with
// kInvalidInput, checks that a parsed header and body survive the JSON writers: HeaderToJson →
// HeaderFromJson and EventBodyToJson → EventBodyFromJson give equal values, and PrettyJson of
// the input accepts exactly what the parser could read as JSON.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "adapters/sdk/json.h"
#include "tests/fuzz/fuzz_die.h"

using relais::fuzz::Die;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto in = sdk::ParsePublishInput(text);
  if (!in) {
    if (in.error().kind != base::ErrorKind::kInvalidInput) Die("error kind is not kInvalidInput");
    return 0;
  }
  if (!sdk::PrettyJson(text)) Die("a parsed document is not JSON for PrettyJson");
  if (sdk::BodyIndexForKind(in->header.kind) != in->body.index()) Die("body does not fit kind");
  auto header = sdk::HeaderFromJson(sdk::HeaderToJson(in->header));
  if (!header) Die("HeaderToJson output does not parse");
  if (!(*header == in->header)) Die("header does not round-trip through JSON");
  auto body = sdk::EventBodyFromJson(sdk::EventBodyToJson(in->body));
  if (!body) Die("EventBodyToJson output does not parse");
  if (!(*body == in->body)) Die("body does not round-trip through JSON");
  return 0;
}
