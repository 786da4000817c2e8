// Reading one line of a JSON lines file into flat (key, text) pairs, for list importers
// (adapters/importer) that must not include a JSON library themselves.
//
// Thread-safety: pure, callable from any thread.
#ifndef RELAIS_ADAPTERS_SDK_JSON_LINES_H_
#define RELAIS_ADAPTERS_SDK_JSON_LINES_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace relais::sdk {

using FlatFields = std::vector<std::pair<std::string, std::string>>;

// Parses `text` as one JSON object whose values are scalars, in document order: strings as they
// are, numbers as JSON writes them, booleans as "true"/"false", null as "". Duplicate keys are
// refused. Errors (kInvalidInput): "bad_json" (syntax: the position, never the text; or not an
// object), "bad_field" (a nested object or array: names the key, never the value).
base::Result<FlatFields> ParseFlatJsonObject(std::string_view text);

}  // namespace relais::sdk

#endif  // RELAIS_ADAPTERS_SDK_JSON_LINES_H_
