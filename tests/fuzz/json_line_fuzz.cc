// libFuzzer target: one JSON lines record read as flat fields (adapters/sdk/json_lines.h
// ParseFlatJsonObject), what the list importers read from operator-supplied files. Besides not
// crashing, checks that the fields, written back as a JSON object of strings (JsonString), parse
// to the same fields in the same order.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "adapters/sdk/json.h"
#include "adapters/sdk/json_lines.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto fields = sdk::ParseFlatJsonObject(text);
  if (!fields) {
    if (fields.error().kind != base::ErrorKind::kInvalidInput) std::abort();
    return 0;
  }
  std::string again = "{";
  for (const auto& [key, value] : *fields) {
    if (again.size() > 1) again += ",";
    again += sdk::JsonString(key) + ":" + sdk::JsonString(value);
  }
  again += "}";
  auto back = sdk::ParseFlatJsonObject(again);
  if (!back) {
    std::fprintf(stderr, "fuzz invariant broken: re-written object does not parse\n");
    std::abort();
  }
  if (*back != *fields) {
    std::fprintf(stderr, "fuzz invariant broken: fields differ after re-writing\n");
    std::abort();
  }
  return 0;
}
