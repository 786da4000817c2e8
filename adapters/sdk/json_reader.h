// Internal to sdk/: strict, path-naming reading of JSON objects into plain structs.
// Not part of the SDK's public interface (it exposes nlohmann::json); only sdk/*.cc include it.
//
// Every error names the JSON path ("body.needs.animals") and what was expected, never the value
// found: input documents carry personal data. The first error wins; later reads are no-ops, so a
// whole object can be read field by field and checked once at the end.
#ifndef RELAIS_ADAPTERS_SDK_JSON_READER_H_
#define RELAIS_ADAPTERS_SDK_JSON_READER_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace relais::sdk::internal {

// Ordered so that output follows the order the fields are written in, and so that "the first
// unknown field" is the first in the document.
using Json = nlohmann::ordered_json;

// Error codes of JSON input (all kInvalidInput).
inline constexpr const char* kBadJson = "bad_json";            // syntax, with line and column
inline constexpr const char* kUnknownField = "unknown_field";  // a key we do not know (a typo?)
inline constexpr const char* kMissingField = "missing_field";  // a required key is absent
inline constexpr const char* kBadField = "bad_field";          // wrong type or value

// Parses `text` strictly: syntax errors give the line and column (never the text around them),
// duplicate keys in one object are refused. Error code kBadJson.
base::Result<Json> ParseJsonText(std::string_view text);

// "a.b" / "a[3]" path building; the root path is "".
std::string JoinPath(std::string_view parent, std::string_view key);
std::string IndexPath(std::string_view parent, size_t index);

// The sticky first error of one conversion.
class JsonErrors {
 public:
  void Fail(const char* code, std::string_view path, std::string_view what);
  bool ok() const { return !first_.has_value(); }
  base::Error TakeError() { return std::move(*first_); }

 private:
  std::optional<base::Error> first_;
};

// A table of enum names, for enums whose values are 0..count-1 with a Name() function.
template <typename E>
struct EnumNames {
  int count;
  const char* (*name)(E);
};

// Reads the fields of one JSON object. An absent key or a null value leaves the output unchanged
// (the default). Every key read is remembered; Finish() reports the first key never read.
class FieldReader {
 public:
  // If `value` is not an object, records "expected an object" and every read is a no-op.
  FieldReader(const Json& value, std::string path, JsonErrors& errors);

  bool Has(std::string_view key);  // present and not null; marks the key known
  void Require(std::string_view key);
  void Forbid(std::string_view key, std::string_view why);
  // Marks a key as known without reading it (handled elsewhere).
  void Allow(std::string_view key) { known_.insert(std::string(key)); }

  void Text(std::string_view key, std::string& out);
  void Flag(std::string_view key, bool& out);
  void Uint8(std::string_view key, uint8_t& out);
  void Uint16(std::string_view key, uint16_t& out);
  void Uint32(std::string_view key, uint32_t& out);
  void Uint64(std::string_view key, uint64_t& out);
  // ISO 8601 date-time (base::ParseIsoTime) into ms since the epoch.
  void Time(std::string_view key, base::TimeMs& out);
  // A calendar date "YYYY-MM-DD" (or "", none), kept as text.
  void Date(std::string_view key, std::string& out);
  // A UUID in canonical text into its 16 bytes.
  void Uuid(std::string_view key, base::Bytes& out);
  void TextList(std::string_view key, std::vector<std::string>& out);

  template <typename E>
  void Enum(std::string_view key, E& out, const EnumNames<E>& names) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    std::optional<E> parsed;
    if (v->is_string()) parsed = ParseEnumName(v->get_ref<const std::string&>(), names);
    if (!parsed) {
      errors_.Fail(kBadField, JoinPath(path_, key), ExpectedEnum(names));
      return;
    }
    out = *parsed;
  }
  template <typename E>
  void EnumList(std::string_view key, std::vector<E>& out, const EnumNames<E>& names) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_array()) {
      errors_.Fail(kBadField, JoinPath(path_, key), "expected an array of names");
      return;
    }
    std::vector<E> result;
    for (size_t i = 0; i < v->size(); ++i) {
      const Json& item = (*v)[i];
      std::optional<E> parsed;
      if (item.is_string()) parsed = ParseEnumName(item.get_ref<const std::string&>(), names);
      if (!parsed) {
        errors_.Fail(kBadField, IndexPath(JoinPath(path_, key), i), ExpectedEnum(names));
        return;
      }
      result.push_back(*parsed);
    }
    out = std::move(result);
  }

  // The child object at `key`, or nullptr when absent/null (or not an object: error recorded).
  const Json* Object(std::string_view key);
  // The child array at `key`, or nullptr when absent/null (or not an array: error recorded).
  const Json* Array(std::string_view key);

  // Records kUnknownField for the first key that was never read or allowed.
  void Finish();

  const std::string& path() const { return path_; }
  JsonErrors& errors() { return errors_; }

 private:
  // The value at `key` if present and not null, marking the key known; nullptr otherwise.
  const Json* Get(std::string_view key);

  template <typename E>
  static std::optional<E> ParseEnumName(const std::string& text, const EnumNames<E>& names) {
    for (int i = 0; i < names.count; ++i) {
      E e = static_cast<E>(i);
      if (text == names.name(e)) return e;
    }
    return std::nullopt;
  }
  template <typename E>
  static std::string ExpectedEnum(const EnumNames<E>& names) {
    std::string what = "expected one of:";
    for (int i = 0; i < names.count; ++i) {
      what += i == 0 ? " " : ", ";
      what += names.name(static_cast<E>(i));
    }
    return what;
  }
  void UnsignedField(std::string_view key, uint64_t max, uint64_t& out);

  const Json* object_ = nullptr;
  std::string path_;
  JsonErrors& errors_;
  std::set<std::string, std::less<>> known_;
};

// JSON output helpers: a time (null when 0), a UUID (null when empty).
Json TimeJson(base::TimeMs t);
Json UuidJson(const base::Bytes& id);

// Serializes compactly; invalid UTF-8 in strings (from hostile peers) is replaced, never thrown.
std::string DumpJson(const Json& value);

}  // namespace relais::sdk::internal

#endif  // RELAIS_ADAPTERS_SDK_JSON_READER_H_
