#include "broker/stream_log.h"

#include <algorithm>

namespace relais::broker {
namespace {

std::vector<std::string_view> Tokens(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (dot == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, dot - start));
    start = dot + 1;
  }
}

bool PlainToken(std::string_view t) {
  if (t.empty()) return false;
  return std::none_of(t.begin(), t.end(), [](char c) {
    return c == '*' || c == '>' || c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
           static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f;
  });
}

bool ValidSubject(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  for (std::string_view t : Tokens(s)) {
    if (!PlainToken(t)) return false;
  }
  return true;
}

bool ValidFilter(std::string_view f) {
  if (f.empty()) return true;
  if (f.size() > 255) return false;
  const auto tokens = Tokens(f);
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] == "*") continue;
    if (tokens[i] == ">" && i + 1 == tokens.size()) continue;
    if (!PlainToken(tokens[i])) return false;
  }
  return true;
}

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

bool ValidHeader(const std::pair<std::string, std::string>& h) {
  const std::string& name = h.first;
  if (name.empty() || name.size() > 64) return false;
  if (name.size() >= 5 && std::equal(name.begin(), name.begin() + 5, "nats-", [](char a, char b) {
        return (a >= 'A' && a <= 'Z' ? a - 'A' + 'a' : a) == b;
      })) {
    return false;
  }
  const bool name_ok = std::all_of(name.begin(), name.end(),
                                   [](char c) { return c > 0x20 && c < 0x7f && c != ':'; });
  const bool value_ok = std::none_of(h.second.begin(), h.second.end(),
                                     [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
  return name_ok && value_ok;
}

bool ValidDurable(std::string_view d) {
  if (d.empty() || d.size() > 64) return false;
  return std::all_of(d.begin(), d.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

}  // namespace

base::Status ValidateMessage(const LogMessage& msg) {
  if (!ValidId(msg.id)) return base::InvalidInput("bad_message", "bad message id");
  if (!ValidSubject(msg.subject)) return base::InvalidInput("bad_message", "bad subject");
  for (const auto& h : msg.headers) {
    if (!ValidHeader(h)) return base::InvalidInput("bad_message", "bad header");
  }
  return base::Ok();
}

base::Status ValidateCursorOptions(const CursorOptions& options) {
  if (!ValidDurable(options.durable)) return base::InvalidInput("bad_cursor", "bad durable name");
  if (!ValidFilter(options.filter)) return base::InvalidInput("bad_cursor", "bad filter subject");
  if (options.ack_wait.count() <= 0) return base::InvalidInput("bad_cursor", "ack_wait <= 0");
  if (options.max_deliver < 1) return base::InvalidInput("bad_cursor", "max_deliver < 1");
  return base::Ok();
}

base::Result<std::vector<AppendResult>> StreamLog::AppendBatch(
    const std::vector<LogMessage>& msgs) {
  for (const auto& m : msgs) RELAIS_RETURN_IF_ERROR(ValidateMessage(m));
  std::vector<AppendResult> out;
  out.reserve(msgs.size());
  for (const auto& m : msgs) {
    RELAIS_ASSIGN_OR_RETURN(AppendResult r, Append(m));
    out.push_back(r);
  }
  return out;
}

bool SubjectMatches(std::string_view filter, std::string_view subject) {
  if (filter.empty()) return true;
  const auto f = Tokens(filter);
  const auto s = Tokens(subject);
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == ">" && i + 1 == f.size()) return s.size() > i;
    if (i >= s.size()) return false;
    if (f[i] != "*" && f[i] != s[i]) return false;
  }
  return f.size() == s.size();
}

}  // namespace relais::broker
