#include "adapters/importer/fields.h"

#include <algorithm>

#include "schema/registry.h"

namespace relais::importer {

namespace {

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return s;
}

bool HasControl(std::string_view s, bool multiline) {
  return std::any_of(s.begin(), s.end(), [&](unsigned char c) {
    if (multiline && (c == '\n' || c == '\r' || c == '\t')) return false;
    return c < 0x20 || c == 0x7f;
  });
}

}  // namespace

void FieldReader::Problem(std::string_view column, std::string reason) {
  problems_.push_back({record_.line, std::string(column), std::move(reason), ""});
}

std::string FieldReader::Text(std::string_view column, bool required, size_t max_bytes,
                              bool multiline) {
  std::string v = record_.Get(column);
  if (v.empty()) {
    if (required) Problem(column, "required");
    return "";
  }
  if (v.size() > max_bytes) {
    Problem(column, "longer than " + std::to_string(max_bytes) + " bytes");
    return "";
  }
  if (multiline) v.erase(std::remove(v.begin(), v.end(), '\r'), v.end());
  if (HasControl(v, multiline)) {
    Problem(column, "contains a line break or control character");
    return "";
  }
  return v;
}

std::optional<CivilDate> FieldReader::Date(std::string_view column, bool required) {
  std::string v = record_.Get(column);
  if (v.empty()) {
    if (required) Problem(column, "required");
    return std::nullopt;
  }
  auto d = ParseDate(v);
  if (!d) Problem(column, "not a date (YYYY-MM-DD or DD/MM/YYYY)");
  return d;
}

bool FieldReader::Flag(std::string_view column, bool absent) {
  std::string v = Lower(record_.Get(column));
  if (v.empty()) return absent;
  if (v == "oui" || v == "yes" || v == "true" || v == "1" || v == "o" || v == "y") return true;
  if (v == "non" || v == "no" || v == "false" || v == "0" || v == "n") return false;
  Problem(column, "expected oui/non (yes/no, true/false, 1/0)");
  return absent;
}

int FieldReader::Count(std::string_view column, int min, int max, int absent) {
  std::string v = record_.Get(column);
  if (v.empty()) return absent;
  int n = 0;
  bool digits =
      v.size() <= 6 && std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) n = std::stoi(v);
  if (!digits || n < min || n > max) {
    Problem(column,
            "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max));
    return absent;
  }
  return n;
}

std::string FieldReader::Choice(std::string_view column, const std::vector<std::string>& choices,
                                bool required) {
  std::string v = Lower(record_.Get(column));
  if (v.empty()) {
    if (required) Problem(column, "required");
    return "";
  }
  if (std::find(choices.begin(), choices.end(), v) != choices.end()) return v;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  Problem(column, "expected one of: " + list);
  return "";
}

std::vector<std::string> FieldReader::List(std::string_view column) {
  std::string v = record_.Get(column);
  std::vector<std::string> out;
  std::string item;
  auto flush = [&] {
    size_t b = item.find_first_not_of(' '), e = item.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(Lower(item.substr(b, e - b + 1)));
    item.clear();
  };
  for (char c : v) {
    if (c == '|' || c == ';') {
      flush();
    } else {
      item.push_back(c);
    }
  }
  flush();
  return out;
}

namespace {

std::optional<RowConsent> ReadConsent(FieldReader& in, const RowContext& context) {
  std::string v = in.Choice("consent",
                            {"oui", "yes", "true", "1", "written", "ecrit", "écrit", "oral",
                             "assisted", "assiste", "assisté", "non", "no", "false", "0"},
                            /*required=*/false);
  auto date = in.Date("consent_date", /*required=*/false);
  if (v.empty() || v == "non" || v == "no" || v == "false" || v == "0") return std::nullopt;
  RowConsent consent;
  if (v == "oral") consent.method = schema::ConsentMethod::kOral;
  if (v.rfind("assist", 0) == 0) consent.method = schema::ConsentMethod::kAssisted;
  CivilDate collected = date.value_or(context.today);
  if (collected > context.today) {
    in.Problem("consent_date", "in the future");
    return std::nullopt;
  }
  consent.collected_at = ToTimeMs(collected);
  return consent;
}

}  // namespace

std::optional<CivilDate> ReadCommonColumns(FieldReader& in, const RowContext& context,
                                           bool birth_date_required, ImportRow& row) {
  row.line = in.line();
  row.person_id = in.Text("person_id", /*required=*/true, 64);
  schema::Person& p = row.body.person;
  p.family_name = in.Text("family_name", /*required=*/true);
  p.given_names = in.Text("given_names", /*required=*/false);
  p.sex = in.Choice("sex", {"f", "m", "x"}, /*required=*/false);
  p.phone = in.Text("phone", /*required=*/false, 40);
  auto birth = in.Date("birth_date", birth_date_required);
  if (birth) {
    if (*birth > context.today) in.Problem("birth_date", "in the future");
    p.birth_date = FormatDate(*birth);
  }
  row.consent = ReadConsent(in, context);
  row.recipients = in.List("recipients");
  for (const auto& r : row.recipients) {
    if (!schema::IsValidAgencyId(r)) in.Problem("recipients", "not a list of agency ids");
  }
  schema::Contact& c = row.body.referrer;
  c.name = in.Text("referrer_name", /*required=*/false);
  c.role = in.Text("referrer_role", /*required=*/false);
  c.phone = in.Text("referrer_phone", /*required=*/false, 40);
  c.email = in.Text("referrer_email", /*required=*/false, 120);
  row.body.free_text = in.Text("notes", /*required=*/false, 2000, /*multiline=*/true);
  return birth;
}

void FillNoticeBody(ImportRow& row) {
  schema::ReferralBody& n = row.notice_body;
  n = schema::ReferralBody{};
  n.exit_date = row.body.exit_date;
  n.exit_place = row.body.exit_place;
  n.referrer = row.body.referrer;
  n.details = row.body.details;
}

}  // namespace relais::importer
