#include "adapters/hospital/adt.h"

#include <cctype>
#include <ctime>

namespace relais::hospital {

namespace {

bool AllDigits(std::string_view s) {
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

int ToInt(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

// HL7 "" means "explicitly empty": the same as absent for this adapter.
std::string Val(std::string v) { return v == "\"\"" ? std::string() : v; }

bool IsKnownAdtTrigger(std::string_view t) {
  if (t.size() != 3 || !AllDigits(t.substr(1))) return false;
  int n = ToInt(t.substr(1));
  if (t[0] == 'A') return n >= 1 && n <= 62;
  // IHE PAM France: Z80-Z89 (responsibility and ward changes), Z99 (movement update).
  if (t[0] == 'Z') return (n >= 80 && n <= 89) || n == 99;
  return false;
}

bool IsSupportedVersion(std::string_view v) {
  return v == "2.3" || v == "2.3.1" || v == "2.4" || v == "2.5" || v == "2.5.1" || v == "2.6";
}

// Identifier (CX) of PID-3 repetition `rep` is an INS (French national health identifier).
bool IsIns(const hl7::Message& m, size_t rep) {
  std::string type = m.Get("PID", 3, 5, 1, rep);
  if (type == "INS" || type == "INS-NIR" || type == "INS-NIA" || type == "INS-C") return true;
  std::string oid = m.Get("PID", 3, 4, 2, rep);
  return oid.rfind("1.2.250.1.213.1.4.", 0) == 0;
}

AdtError Error(AckCode ack, int hl7_code, std::string location, std::string code,
               std::string text) {
  return AdtError{ack, hl7_code, std::move(location), std::move(code), std::move(text)};
}

// Reads an optional time field; an error when present but malformed.
std::optional<AdtError> ReadTime(const hl7::Message& m, std::string_view seg, int field,
                                 std::optional<HlTime>& out) {
  std::string text = Val(m.Get(seg, field));
  if (text.empty()) return std::nullopt;
  out = ParseHl7Time(text);
  if (!out) {
    std::string loc = std::string(seg) + "-" + std::to_string(field);
    return Error(AckCode::kError, 102, loc, "malformed_date",
                 loc + ": not an HL7 date/time (YYYYMMDD[HHMM[SS]][+/-ZZZZ])");
  }
  return std::nullopt;
}

std::optional<AdtError> ReadPerson(const hl7::Message& m, AdtMessage& out) {
  out.identity_status = Val(m.Get("PID", 32));
  for (size_t rep = 0; rep < m.Repetitions("PID", 3); ++rep) {
    std::string id = Val(m.Get("PID", 3, 1, 1, rep));
    if (id.empty()) continue;
    if (IsIns(m, rep)) {
      // Only a validated identity's INS may be used (référentiel national d'identitovigilance).
      if (out.identity_status == "VALI" && out.person.ins.empty()) out.person.ins = id;
      continue;
    }
    std::string system = Val(m.Get("PID", 3, 4, 1, rep));
    if (system.empty()) system = Val(m.Get("PID", 3, 4, 2, rep));
    if (out.patient_id.empty()) out.patient_id = id;
    out.person.identifiers.push_back({system, id});
  }
  for (size_t rep = 0; rep < m.Repetitions("PID", 5); ++rep) {
    std::string family = Val(m.Get("PID", 5, 1, 1, rep));
    std::string type = Val(m.Get("PID", 5, 7, 1, rep));
    if (type == "D" && out.person.used_name.empty()) {
      out.person.used_name = family;
    } else if (out.person.family_name.empty() && (type == "L" || type.empty() || rep == 0)) {
      out.person.family_name = family;
      out.person.given_names = Val(m.Get("PID", 5, 2, 1, rep));
    }
  }
  std::string birth = Val(m.Get("PID", 7));
  if (!birth.empty()) {
    auto t = ParseHl7Time(birth);
    if (!t || birth.size() < 8) {
      return Error(AckCode::kError, 102, "PID-7", "malformed_date",
                   "PID-7: not an HL7 date of birth (YYYYMMDD)");
    }
    out.person.birth_date =
        birth.substr(0, 4) + "-" + birth.substr(4, 2) + "-" + birth.substr(6, 2);
  }
  out.person.sex = Val(m.Get("PID", 8));
  return std::nullopt;
}

AdtAction ActionFor(const hl7::Message& m, const std::string& trigger, std::string& reason) {
  if (trigger == "A16") return AdtAction::kPendingDischarge;
  if (trigger == "A25") return AdtAction::kCancelPendingDischarge;
  if (trigger == "A03") return AdtAction::kDischarge;
  if (trigger == "A13") return AdtAction::kCancelDischarge;
  if (trigger == "A08") return AdtAction::kUpdate;
  if (trigger == "Z99") {
    if (Val(m.Get("ZBE", 4)) == "UPDATE" && Val(m.Get("ZBE", 6)) == "A16")
      return AdtAction::kUpdate;
    reason = "z99_not_a_pending_discharge_update";
    return AdtAction::kIgnore;
  }
  reason = "trigger_not_mapped";
  return AdtAction::kIgnore;
}

std::optional<AdtError> ReadVisit(const hl7::Message& m, AdtMessage& out) {
  out.visit_number = Val(m.Get("PV1", 19));
  if (out.visit_number.empty()) out.visit_number = Val(m.Get("PID", 18));
  out.ward = Val(m.Get("PV1", 3));
  out.facility_name = Val(m.Get("PV1", 3, 4));
  if (out.facility_name.empty()) out.facility_name = out.context.sending_facility;
  out.disposition = Val(m.Get("PV1", 36));
  if (out.disposition.empty()) out.disposition = Val(m.Get("ZFM", 2));
  out.discharged_to = Val(m.Get("PV1", 37));
  if (out.discharged_to.empty()) out.discharged_to = Val(m.Get("ZFM", 4));
  switch (out.action) {
    case AdtAction::kPendingDischarge:
    case AdtAction::kUpdate:
      if (auto e = ReadTime(m, "PV2", 9, out.expected_discharge)) return e;
      out.expected_discharge_field = "PV2-9";
      if (!out.expected_discharge) {
        if (auto e = ReadTime(m, "EVN", 3, out.expected_discharge)) return e;
        out.expected_discharge_field = "EVN-3";
      }
      break;
    case AdtAction::kDischarge:
      if (auto e = ReadTime(m, "PV1", 45, out.discharge_time)) return e;
      break;
    default:
      break;
  }
  return std::nullopt;
}

}  // namespace

const char* AckCodeText(AckCode code) {
  switch (code) {
    case AckCode::kAccept:
      return "AA";
    case AckCode::kError:
      return "AE";
    case AckCode::kReject:
      return "AR";
  }
  return "AR";
}

const char* AdtActionName(AdtAction action) {
  switch (action) {
    case AdtAction::kIgnore:
      return "ignore";
    case AdtAction::kPendingDischarge:
      return "pending_discharge";
    case AdtAction::kCancelPendingDischarge:
      return "cancel_pending_discharge";
    case AdtAction::kDischarge:
      return "discharge";
    case AdtAction::kCancelDischarge:
      return "cancel_discharge";
    case AdtAction::kUpdate:
      return "update";
  }
  return "invalid";
}

base::TimeMs HlTime::EndMs() const { return date_only ? ms + 12 * base::kMsPerHour - 1 : ms; }

std::optional<HlTime> ParseHl7Time(std::string_view text) {
  std::string_view digits = text;
  std::optional<int> offset_minutes;
  size_t sign = text.find_first_of("+-");
  if (sign != std::string_view::npos) {
    std::string_view off = text.substr(sign + 1);
    if (off.size() != 4 || !AllDigits(off)) return std::nullopt;
    int hh = ToInt(off.substr(0, 2)), mm = ToInt(off.substr(2, 2));
    if (hh > 14 || mm > 59) return std::nullopt;
    offset_minutes = (hh * 60 + mm) * (text[sign] == '-' ? -1 : 1);
    digits = text.substr(0, sign);
  }
  std::string_view fraction;
  size_t dot = digits.find('.');
  if (dot != std::string_view::npos) {
    fraction = digits.substr(dot + 1);
    digits = digits.substr(0, dot);
    if (fraction.empty() || fraction.size() > 4 || !AllDigits(fraction) || digits.size() != 14)
      return std::nullopt;
  }
  size_t n = digits.size();
  if (!AllDigits(digits) || (n != 4 && n != 6 && n != 8 && n != 10 && n != 12 && n != 14))
    return std::nullopt;
  std::tm tm{};
  int year = ToInt(digits.substr(0, 4));
  int month = n >= 6 ? ToInt(digits.substr(4, 2)) : 1;
  int day = n >= 8 ? ToInt(digits.substr(6, 2)) : 1;
  int hour = n >= 10 ? ToInt(digits.substr(8, 2)) : 12;
  int minute = n >= 12 ? ToInt(digits.substr(10, 2)) : 0;
  int second = n >= 14 ? ToInt(digits.substr(12, 2)) : 0;
  if (year < 1850 || year > 2200 || month < 1 || month > 12 || day < 1 ||
      day > DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 59)
    return std::nullopt;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  HlTime out;
  out.date_only = n <= 8;
  std::time_t secs;
  if (offset_minutes) {
    secs = timegm(&tm) - static_cast<std::time_t>(*offset_minutes) * 60;
  } else {
    tm.tm_isdst = -1;
    secs = mktime(&tm);
    if (secs == static_cast<std::time_t>(-1)) return std::nullopt;
  }
  int ms = 0;
  if (!fraction.empty()) {
    std::string f(fraction);
    f.resize(3, '0');
    ms = ToInt(f);
  }
  out.ms = static_cast<base::TimeMs>(secs) * 1000 + ms;
  return out;
}

AdtResult ReadAdt(const hl7::Message& m) {
  AdtResult r;
  AckContext& c = r.message.context;
  c.separators = m.separators();
  c.sending_application = Val(m.Get("MSH", 3));
  c.sending_facility = Val(m.Get("MSH", 4));
  c.receiving_application = Val(m.Get("MSH", 5));
  c.receiving_facility = Val(m.Get("MSH", 6));
  c.control_id = Val(m.Get("MSH", 10));
  std::string version = Val(m.Get("MSH", 12));
  if (!version.empty()) c.version = version;
  std::string type = Val(m.Get("MSH", 9));
  c.trigger = Val(m.Get("MSH", 9, 2));
  if (c.trigger.empty()) c.trigger = Val(m.Get("EVN", 1));
  if (c.control_id.empty()) {
    r.error = Error(AckCode::kReject, 101, "MSH-10", "missing_control_id",
                    "MSH-10: the message control id is missing");
  } else if (type.empty()) {
    r.error = Error(AckCode::kReject, 101, "MSH-9", "missing_message_type",
                    "MSH-9: the message type is missing");
  } else if (!IsSupportedVersion(version)) {
    r.error = Error(AckCode::kReject, 203, "MSH-12", "unsupported_version",
                    "MSH-12: version must be 2.3 to 2.6");
  } else if (type != "ADT") {
    r.error = Error(AckCode::kReject, 200, "MSH-9", "unsupported_message_type",
                    "MSH-9: only ADT messages are accepted");
  } else if (!IsKnownAdtTrigger(c.trigger)) {
    r.error = Error(AckCode::kReject, 201, "MSH-9", "unknown_trigger",
                    "MSH-9: unknown ADT trigger event");
  }
  if (r.error) return r;
  r.message.action = ActionFor(m, c.trigger, r.message.ignore_reason);
  if (r.message.action == AdtAction::kIgnore) return r;
  if (m.Find("PID") == nullptr) {
    r.error = Error(AckCode::kError, 100, "PID", "missing_pid", "PID segment missing");
    return r;
  }
  if (auto e = ReadPerson(m, r.message)) {
    r.error = std::move(e);
    return r;
  }
  if (auto e = ReadVisit(m, r.message)) r.error = std::move(e);
  return r;
}

AdtResult ReadAdtText(std::string_view text) {
  auto parsed = hl7::Parse(text);
  if (!parsed) {
    AdtResult r;
    r.error = Error(AckCode::kReject, 100, "", parsed.error().code, parsed.error().message);
    return r;
  }
  return ReadAdt(*parsed);
}

std::string BuildAck(const AckContext& c, AckCode code, const AdtError* error, base::TimeMs now,
                     std::string_view ack_control_id) {
  const hl7::Separators& s = c.separators;
  auto esc = [&](std::string_view v) { return hl7::Escape(v, s); };
  std::time_t secs = static_cast<std::time_t>(now / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y%m%d%H%M%S+0000", &tm);
  std::string f(1, s.field);
  std::string enc{s.component, s.repetition};
  if (s.escape != '\0') enc += s.escape;
  if (s.subcomponent != '\0') enc += s.subcomponent;
  std::string out = "MSH" + f + enc + f + "RELAIS" + f + esc(c.receiving_facility) + f +
                    esc(c.sending_application) + f + esc(c.sending_facility) + f + when + f + f +
                    "ACK" + s.component + esc(c.trigger) + s.component + "ACK" + f +
                    std::string(ack_control_id) + f + "P" + f + esc(c.version) + "\r";
  out += "MSA" + f + AckCodeText(code) + f + esc(c.control_id);
  if (error != nullptr) out += f + esc(error->text);
  out += "\r";
  if (error != nullptr) {
    std::string loc;  // SEG^1^FIELD
    size_t dash = error->location.find('-');
    if (dash != std::string::npos) {
      loc = error->location.substr(0, dash) + s.component + "1" + s.component +
            error->location.substr(dash + 1);
    } else {
      loc = error->location;
    }
    static const char* kNames[] = {"Segment sequence error", "Required field missing",
                                   "Data type error"};
    std::string name = error->hl7_code >= 100 && error->hl7_code <= 102
                           ? kNames[error->hl7_code - 100]
                           : (error->hl7_code == 200   ? "Unsupported message type"
                              : error->hl7_code == 201 ? "Unsupported event code"
                              : error->hl7_code == 203 ? "Unsupported version id"
                                                       : "Application internal error");
    bool v25 = !(c.version.rfind("2.3", 0) == 0 || c.version.rfind("2.4", 0) == 0);
    if (v25) {
      out += "ERR" + f + f + loc + f + std::to_string(error->hl7_code) + s.component + name +
             s.component + "HL70357" + f + "E" + f + f + f + f + esc(error->text) + "\r";
    } else {
      std::string sub(1, s.subcomponent != '\0' ? s.subcomponent : s.component);
      out += "ERR" + f + loc + s.component + std::to_string(error->hl7_code) + sub + name + sub +
             "HL70357\r";
    }
  }
  return out;
}

}  // namespace relais::hospital
