#include "adapters/sdk/json_lines.h"

#include "adapters/sdk/json_reader.h"

namespace relais::sdk {

base::Result<FlatFields> ParseFlatJsonObject(std::string_view text) {
  RELAIS_ASSIGN_OR_RETURN(internal::Json value, internal::ParseJsonText(text));
  if (!value.is_object()) {
    return base::InvalidInput(internal::kBadJson, "expected a JSON object on the line");
  }
  FlatFields out;
  out.reserve(value.size());
  for (auto it = value.begin(); it != value.end(); ++it) {
    const internal::Json& v = it.value();
    if (v.is_object() || v.is_array()) {
      return base::InvalidInput(internal::kBadField,
                                it.key() + ": expected a string, number, boolean or null");
    }
    std::string field;
    if (v.is_string()) {
      field = v.get<std::string>();
    } else if (!v.is_null()) {
      field = internal::DumpJson(v);
    }
    out.emplace_back(it.key(), std::move(field));
  }
  return out;
}

}  // namespace relais::sdk
