// HL7 v2 (2.3-2.6) message parsing, with the separators taken from MSH-1/MSH-2, escape sequences,
// repetitions, components and subcomponents, CR / LF / CRLF segment terminators, optional trailing
// fields and Z-segments. Untrusted input: explicit size limits, every value copied out and
// unescaped, errors name the segment and field, never a value.
//
// Thread-safety: pure functions and plain values.
#ifndef RELAIS_ADAPTERS_HOSPITAL_HL7_H_
#define RELAIS_ADAPTERS_HOSPITAL_HL7_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace relais::hospital::hl7 {

struct Separators {
  char field = '|';
  char component = '^';
  char repetition = '~';
  char escape = '\\';
  char subcomponent = '&';
};

// One field: repetitions, each made of components, each made of subcomponents; all unescaped.
using Component = std::vector<std::string>;  // subcomponents (at least one)
using Repetition = std::vector<Component>;   // components (at least one)
struct Field {
  std::vector<Repetition> repetitions;  // empty for an empty field
};

struct Segment {
  std::string name;           // "MSH", "PID", "ZBE", ...
  std::vector<Field> fields;  // fields[0] is field 1. For MSH, field 1 is MSH-1 (the separator)
                              // and field 2 is MSH-2 (the encoding characters, unsplit).
};

class Message {
 public:
  Message(Separators separators, std::vector<Segment> segments)
      : separators_(separators), segments_(std::move(segments)) {}

  const Separators& separators() const { return separators_; }
  const std::vector<Segment>& segments() const { return segments_; }

  // The `nth` (0-based) segment named `name`, or nullptr.
  const Segment* Find(std::string_view name, size_t nth = 0) const;

  // The value at SEG-field.component.subcomponent of repetition `rep` (all 1-based but rep,
  // which is 0-based), or "" when any part is absent. Only the first segment named `segment`.
  std::string Get(std::string_view segment, int field, int component = 1, int subcomponent = 1,
                  size_t rep = 0) const;
  // Number of repetitions of SEG-field (0 when absent or empty).
  size_t Repetitions(std::string_view segment, int field) const;

 private:
  Separators separators_;
  std::vector<Segment> segments_;
};

struct ParseLimits {
  size_t max_bytes = 1 << 20;
  size_t max_segments = 1000;
  size_t max_fields = 300;       // per segment
  size_t max_repetitions = 100;  // per field
  size_t max_components = 100;   // per repetition (and subcomponents per component)
};

// Parses one message (the payload of one MLLP frame). Errors (kInvalidInput): "not_hl7" (empty,
// no MSH first, bad encoding characters), "too_large", "bad_segment" (a segment name that is not
// three upper-case letters or digits), "too_many" (a limit); messages say which segment/field.
base::Result<Message> Parse(std::string_view text, const ParseLimits& limits = {});

// Escapes the separator and escape characters of `text` (\F\ \S\ \T\ \R\ \E\) and turns line
// breaks into \X0D\ / \X0A\, for writing a value into a message.
std::string Escape(std::string_view text, const Separators& separators);

// Removes escape sequences: \F\ \S\ \T\ \R\ \E\, \Xhh..\ (hex bytes), \.br\ (line break);
// formatting and character-set escapes (\H\ \N\ \Cxxyy\ \Mxxyyzz\ \Zxxx\) are dropped; an
// unterminated escape is kept literally.
std::string Unescape(std::string_view text, const Separators& separators);

}  // namespace relais::hospital::hl7

#endif  // RELAIS_ADAPTERS_HOSPITAL_HL7_H_
