#include "adapters/hospital/hl7.h"

#include <cctype>

namespace relais::hospital::hl7 {

namespace {

bool IsSegmentName(std::string_view name) {
  if (name.size() != 3) return false;
  for (char c : name) {
    if (!(std::isupper(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c))))
      return false;
  }
  return true;
}

std::string Where(size_t index, std::string_view name) {
  return "segment " + std::to_string(index + 1) + " (" + std::string(name) + ")";
}

// Splits on `sep` without copying.
std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = text.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

base::Result<Field> ParseField(std::string_view text, const Separators& s,
                               const ParseLimits& limits, const std::string& where) {
  Field field;
  if (text.empty()) return field;
  auto reps = Split(text, s.repetition);
  if (reps.size() > limits.max_repetitions) {
    return base::InvalidInput(
        "too_many",
        where + ": more than " + std::to_string(limits.max_repetitions) + " repetitions");
  }
  for (auto rep_text : reps) {
    Repetition rep;
    auto comps = Split(rep_text, s.component);
    if (comps.size() > limits.max_components) {
      return base::InvalidInput(
          "too_many",
          where + ": more than " + std::to_string(limits.max_components) + " components");
    }
    for (auto comp_text : comps) {
      auto subs = Split(comp_text, s.subcomponent);
      if (subs.size() > limits.max_components) {
        return base::InvalidInput(
            "too_many",
            where + ": more than " + std::to_string(limits.max_components) + " subcomponents");
      }
      Component comp;
      comp.reserve(subs.size());
      for (auto sub : subs) comp.push_back(Unescape(sub, s));
      rep.push_back(std::move(comp));
    }
    field.repetitions.push_back(std::move(rep));
  }
  return field;
}

base::Result<Separators> ParseSeparators(std::string_view first_line) {
  // "MSH" + field separator + encoding characters + field separator ...
  if (first_line.size() < 5 || first_line.substr(0, 3) != "MSH") {
    return base::InvalidInput("not_hl7", "the message does not start with an MSH segment");
  }
  Separators s;
  s.field = first_line[3];
  size_t end = first_line.find(s.field, 4);
  std::string_view enc = first_line.substr(4, end == std::string_view::npos ? end : end - 4);
  if (enc.size() < 2 || enc.size() > 5) {
    return base::InvalidInput("not_hl7", "MSH-2: expected 2 to 5 encoding characters");
  }
  s.component = enc[0];
  s.repetition = enc[1];
  s.escape = enc.size() > 2 ? enc[2] : '\0';
  s.subcomponent = enc.size() > 3 ? enc[3] : '\0';
  std::string all =
      std::string(1, s.field) + std::string(enc.substr(0, std::min<size_t>(4, enc.size())));
  for (size_t i = 0; i < all.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(all[i]);
    if (std::isalnum(c) || c == '\r' || c == '\n' || c == ' ' || c < 0x20) {
      return base::InvalidInput("not_hl7", "MSH-1/MSH-2: unusable separator character");
    }
    if (all.find(all[i], i + 1) != std::string::npos) {
      return base::InvalidInput("not_hl7", "MSH-1/MSH-2: separator characters must differ");
    }
  }
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Appends the meaning of the escape sequence `code` (between the escape characters).
void AppendEscape(std::string_view code, const Separators& s, std::string& out) {
  if (code == "F") {
    out += s.field;
  } else if (code == "S") {
    out += s.component;
  } else if (code == "T") {
    out += s.subcomponent;
  } else if (code == "R") {
    out += s.repetition;
  } else if (code == "E") {
    out += s.escape;
  } else if (code == ".br") {
    out += '\n';
  } else if (!code.empty() && code[0] == 'X' && code.size() % 2 == 1) {
    for (size_t i = 1; i + 1 < code.size(); i += 2) {
      int hi = HexValue(code[i]), lo = HexValue(code[i + 1]);
      if (hi < 0 || lo < 0) return;
      out += static_cast<char>(hi * 16 + lo);
    }
  }
  // \H\ \N\ \Cxxyy\ \Mxxyyzz\ \Zxx\ and other formatting codes carry no text: dropped.
}

}  // namespace

std::string Unescape(std::string_view text, const Separators& s) {
  if (s.escape == '\0' || text.find(s.escape) == std::string_view::npos) return std::string(text);
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != s.escape) {
      out += c;
      ++i;
      continue;
    }
    size_t end = text.find(s.escape, i + 1);
    if (end == std::string_view::npos) {  // unterminated: literal
      out.append(text.substr(i));
      break;
    }
    AppendEscape(text.substr(i + 1, end - i - 1), s, out);
    i = end + 1;
  }
  return out;
}

std::string Escape(std::string_view text, const Separators& s) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == s.escape && s.escape != '\0') {
      out += std::string{s.escape, 'E', s.escape};
    } else if (c == s.field) {
      out += std::string{s.escape, 'F', s.escape};
    } else if (c == s.component) {
      out += std::string{s.escape, 'S', s.escape};
    } else if (c == s.subcomponent && s.subcomponent != '\0') {
      out += std::string{s.escape, 'T', s.escape};
    } else if (c == s.repetition) {
      out += std::string{s.escape, 'R', s.escape};
    } else if (c == '\r') {
      out += std::string{s.escape} + "X0D" + s.escape;
    } else if (c == '\n') {
      out += std::string{s.escape} + "X0A" + s.escape;
    } else {
      out += c;
    }
  }
  return out;
}

base::Result<Message> Parse(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return base::InvalidInput("too_large",
                              "message larger than " + std::to_string(limits.max_bytes) + " bytes");
  }
  // Leading blank lines (some senders start with a line break) are skipped.
  size_t start = text.find_first_not_of("\r\n");
  if (start == std::string_view::npos) return base::InvalidInput("not_hl7", "empty message");
  text = text.substr(start);
  RELAIS_ASSIGN_OR_RETURN(Separators s,
                          ParseSeparators(text.substr(0, text.find_first_of("\r\n"))));

  std::vector<Segment> segments;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;  // CRLF, blank lines
    if (segments.size() >= limits.max_segments) {
      return base::InvalidInput("too_many",
                                "more than " + std::to_string(limits.max_segments) + " segments");
    }
    std::string_view name = line.substr(0, line.find(s.field));
    if (!IsSegmentName(name)) {
      return base::InvalidInput("bad_segment",
                                "segment " + std::to_string(segments.size() + 1) +
                                    ": the name is not three upper-case letters or digits");
    }
    bool is_msh = segments.empty();
    if (!is_msh && name == "MSH") {
      return base::InvalidInput(
          "not_hl7", Where(segments.size(), name) + ": a second MSH (batches are not accepted)");
    }
    Segment seg;
    seg.name = std::string(name);
    std::string_view rest = line.size() > 3 ? line.substr(4) : std::string_view();
    if (is_msh) {
      seg.fields.push_back(Field{{Repetition{Component{std::string(1, s.field)}}}});
      size_t enc_end = rest.find(s.field);
      std::string enc(rest.substr(0, enc_end));
      seg.fields.push_back(Field{{Repetition{Component{enc}}}});
      rest = enc_end == std::string_view::npos ? std::string_view() : rest.substr(enc_end + 1);
      if (enc_end == std::string_view::npos) {
        segments.push_back(std::move(seg));
        continue;
      }
    } else if (line.size() == 3) {
      segments.push_back(std::move(seg));
      continue;
    }
    auto fields = Split(rest, s.field);
    if (fields.size() > limits.max_fields) {
      return base::InvalidInput("too_many", Where(segments.size(), name) + ": more than " +
                                                std::to_string(limits.max_fields) + " fields");
    }
    // Trailing empty fields are optional: drop them so every sender looks the same.
    while (!fields.empty() && fields.back().empty()) fields.pop_back();
    for (size_t i = 0; i < fields.size(); ++i) {
      size_t number = seg.fields.size() + 1;
      RELAIS_ASSIGN_OR_RETURN(
          Field f, ParseField(fields[i], s, limits,
                              Where(segments.size(), name) + " field " + std::to_string(number)));
      seg.fields.push_back(std::move(f));
    }
    segments.push_back(std::move(seg));
  }
  return Message(s, std::move(segments));
}

const Segment* Message::Find(std::string_view name, size_t nth) const {
  for (const auto& seg : segments_) {
    if (seg.name == name) {
      if (nth == 0) return &seg;
      --nth;
    }
  }
  return nullptr;
}

std::string Message::Get(std::string_view segment, int field, int component, int subcomponent,
                         size_t rep) const {
  const Segment* seg = Find(segment);
  if (seg == nullptr || field < 1 || component < 1 || subcomponent < 1) return "";
  if (static_cast<size_t>(field) > seg->fields.size()) return "";
  const Field& f = seg->fields[field - 1];
  if (rep >= f.repetitions.size()) return "";
  const Repetition& r = f.repetitions[rep];
  if (static_cast<size_t>(component) > r.size()) return "";
  const Component& c = r[component - 1];
  if (static_cast<size_t>(subcomponent) > c.size()) return "";
  return c[subcomponent - 1];
}

size_t Message::Repetitions(std::string_view segment, int field) const {
  const Segment* seg = Find(segment);
  if (seg == nullptr || field < 1 || static_cast<size_t>(field) > seg->fields.size()) return 0;
  return seg->fields[field - 1].repetitions.size();
}

}  // namespace relais::hospital::hl7
