#include "adapters/sdk/json_reader.h"

#include <cctype>
#include <charconv>
#include <limits>
#include <utility>

#include "crypto/random.h"

namespace relais::sdk::internal {

namespace {

// Keys are names, not values, but a hostile or mistaken document could put anything there: keep
// what we echo short and printable.
std::string SafeKey(std::string_view key) {
  std::string out;
  for (char c : key.substr(0, 64)) {
    unsigned char u = static_cast<unsigned char>(c);
    out.push_back(std::isprint(u) ? c : '?');
  }
  if (key.size() > 64) out += "...";
  return out;
}

// Reads the number after `label` in `text` ("at line 3" -> 3), or 0.
size_t NumberAfter(std::string_view text, std::string_view label) {
  size_t at = text.find(label);
  if (at == std::string_view::npos) return 0;
  std::string_view rest = text.substr(at + label.size());
  size_t n = 0;
  std::from_chars(rest.data(), rest.data() + rest.size(), n);
  return n;
}

// nlohmann's parse error text is "[json.exception.parse_error.101] parse error at line L,
// column C: syntax error while parsing X - REASON; last read: 'TEXT'". We keep the line, the
// column and the reason, and drop the "last read" part, which echoes the input.
base::Error SyntaxError(const nlohmann::json::parse_error& e) {
  std::string_view what = e.what();
  size_t line = NumberAfter(what, "at line ");
  size_t column = NumberAfter(what, ", column ");
  std::string_view reason;
  size_t colon = what.find(": ", what.find("parse error"));
  if (colon != std::string_view::npos) {
    reason = what.substr(colon + 2);
    size_t last_read = reason.find("; last read:");
    if (last_read != std::string_view::npos) reason = reason.substr(0, last_read);
  }
  std::string where = line > 0
                          ? "line " + std::to_string(line) + ", column " + std::to_string(column)
                          : "byte " + std::to_string(e.byte);
  return base::InvalidInput(kBadJson, "JSON syntax error at " + where +
                                          (reason.empty() ? "" : ": " + std::string(reason)));
}

}  // namespace

base::Result<Json> ParseJsonText(std::string_view text) {
  // Duplicate keys would silently keep the last value; track the keys of each open object.
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::string> duplicate;
  auto callback = [&](int /*depth*/, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open_objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string() &&
            !open_objects.back().insert(parsed.get<std::string>()).second && !duplicate) {
          duplicate = parsed.get<std::string>();
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    Json value = Json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true,
                             /*ignore_comments=*/false);
    if (duplicate) {
      return base::InvalidInput(
          kBadJson, "duplicate field \"" + SafeKey(*duplicate) + "\": each field may appear once");
    }
    return value;
  } catch (const nlohmann::json::parse_error& e) {
    return SyntaxError(e);
  } catch (const nlohmann::json::exception&) {
    return base::InvalidInput(kBadJson, "JSON input could not be read");
  }
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return SafeKey(key);
  return std::string(parent) + "." + SafeKey(key);
}

std::string IndexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

void JsonErrors::Fail(const char* code, std::string_view path, std::string_view what) {
  if (first_) return;
  std::string where = path.empty() ? "the document" : std::string(path);
  first_ = base::InvalidInput(code, where + ": " + std::string(what));
}

FieldReader::FieldReader(const Json& value, std::string path, JsonErrors& errors)
    : path_(std::move(path)), errors_(errors) {
  if (value.is_object()) {
    object_ = &value;
  } else {
    errors_.Fail(kBadField, path_, "expected an object");
  }
}

const Json* FieldReader::Get(std::string_view key) {
  known_.insert(std::string(key));
  if (object_ == nullptr || !errors_.ok()) return nullptr;
  auto it = object_->find(std::string(key));
  if (it == object_->end() || it->is_null()) return nullptr;
  return &*it;
}

bool FieldReader::Has(std::string_view key) { return Get(key) != nullptr; }

void FieldReader::Require(std::string_view key) {
  if (object_ != nullptr && !Has(key))
    errors_.Fail(kMissingField, JoinPath(path_, key), "required");
}

void FieldReader::Forbid(std::string_view key, std::string_view why) {
  if (Has(key)) errors_.Fail(kBadField, JoinPath(path_, key), why);
}

void FieldReader::Text(std::string_view key, std::string& out) {
  const Json* v = Get(key);
  if (v == nullptr) return;
  if (!v->is_string()) {
    errors_.Fail(kBadField, JoinPath(path_, key), "expected a string");
    return;
  }
  out = v->get<std::string>();
}

void FieldReader::Flag(std::string_view key, bool& out) {
  const Json* v = Get(key);
  if (v == nullptr) return;
  if (!v->is_boolean()) {
    errors_.Fail(kBadField, JoinPath(path_, key), "expected true or false");
    return;
  }
  out = v->get<bool>();
}

void FieldReader::UnsignedField(std::string_view key, uint64_t max, uint64_t& out) {
  const Json* v = Get(key);
  if (v == nullptr) return;
  bool fits = false;
  if (v->is_number_unsigned()) {
    fits = v->get<uint64_t>() <= max;
  } else if (v->is_number_integer()) {
    fits = v->get<int64_t>() >= 0 && static_cast<uint64_t>(v->get<int64_t>()) <= max;
  }
  if (!fits) {
    errors_.Fail(kBadField, JoinPath(path_, key), "expected an integer 0-" + std::to_string(max));
    return;
  }
  out = v->is_number_unsigned() ? v->get<uint64_t>() : static_cast<uint64_t>(v->get<int64_t>());
}

void FieldReader::Uint8(std::string_view key, uint8_t& out) {
  uint64_t v = out;
  UnsignedField(key, std::numeric_limits<uint8_t>::max(), v);
  out = static_cast<uint8_t>(v);
}

void FieldReader::Uint16(std::string_view key, uint16_t& out) {
  uint64_t v = out;
  UnsignedField(key, std::numeric_limits<uint16_t>::max(), v);
  out = static_cast<uint16_t>(v);
}

void FieldReader::Uint32(std::string_view key, uint32_t& out) {
  uint64_t v = out;
  UnsignedField(key, std::numeric_limits<uint32_t>::max(), v);
  out = static_cast<uint32_t>(v);
}

void FieldReader::Uint64(std::string_view key, uint64_t& out) {
  UnsignedField(key, std::numeric_limits<uint64_t>::max(), out);
}

void FieldReader::Time(std::string_view key, base::TimeMs& out) {
  const Json* v = Get(key);
  if (v == nullptr) return;
  base::Result<base::TimeMs> t = base::InvalidInput(kBadField, "");
  if (v->is_string()) t = base::ParseIsoTime(v->get_ref<const std::string&>());
  if (!t) {
    errors_.Fail(kBadField, JoinPath(path_, key),
                 "expected an ISO 8601 date-time such as \"2026-12-03T10:00:00+01:00\"");
    return;
  }
  out = *t;
}

void FieldReader::Date(std::string_view key, std::string& out) {
  const Json* v = Get(key);
  if (v == nullptr) return;
  bool ok = false;
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    ok = s.empty() || (s.size() == 10 && base::ParseIsoTime(s).has_value());
  }
  if (!ok) {
    errors_.Fail(kBadField, JoinPath(path_, key), "expected a date YYYY-MM-DD");
    return;
  }
  out = v->get<std::string>();
}

void FieldReader::Uuid(std::string_view key, base::Bytes& out) {
  const Json* v = Get(key);
  if (v == nullptr) return;
  base::Result<base::Bytes> id = base::InvalidInput(kBadField, "");
  if (v->is_string()) id = crypto::ParseUuid(v->get_ref<const std::string&>());
  if (!id) {
    errors_.Fail(kBadField, JoinPath(path_, key),
                 "expected a UUID (8-4-4-4-12 hexadecimal digits)");
    return;
  }
  out = std::move(id).value();
}

void FieldReader::TextList(std::string_view key, std::vector<std::string>& out) {
  const Json* v = Get(key);
  if (v == nullptr) return;
  if (!v->is_array()) {
    errors_.Fail(kBadField, JoinPath(path_, key), "expected an array of strings");
    return;
  }
  std::vector<std::string> result;
  for (size_t i = 0; i < v->size(); ++i) {
    if (!(*v)[i].is_string()) {
      errors_.Fail(kBadField, IndexPath(JoinPath(path_, key), i), "expected a string");
      return;
    }
    result.push_back((*v)[i].get<std::string>());
  }
  out = std::move(result);
}

const Json* FieldReader::Object(std::string_view key) {
  const Json* v = Get(key);
  if (v == nullptr) return nullptr;
  if (!v->is_object()) {
    errors_.Fail(kBadField, JoinPath(path_, key), "expected an object");
    return nullptr;
  }
  return v;
}

const Json* FieldReader::Array(std::string_view key) {
  const Json* v = Get(key);
  if (v == nullptr) return nullptr;
  if (!v->is_array()) {
    errors_.Fail(kBadField, JoinPath(path_, key), "expected an array");
    return nullptr;
  }
  return v;
}

void FieldReader::Finish() {
  if (object_ == nullptr || !errors_.ok()) return;
  for (const auto& [key, value] : object_->items()) {
    if (!known_.contains(key)) {
      errors_.Fail(kUnknownField, JoinPath(path_, key),
                   "unknown field (check its spelling against the documentation)");
      return;
    }
  }
}

Json TimeJson(base::TimeMs t) { return t == 0 ? Json(nullptr) : Json(base::FormatIsoUtc(t)); }

Json UuidJson(const base::Bytes& id) {
  return id.empty() ? Json(nullptr) : Json(crypto::FormatUuid(id));
}

std::string DumpJson(const Json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

}  // namespace relais::sdk::internal
