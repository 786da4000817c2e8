// Reading ADT messages (HL7 v2.3-2.6, IHE PAM with the French ZBE/ZFM extension) into what the
// adapter acts on, and writing HL7 ACKs. The mapping to relais events is documented in
// docs/adapters/hospital.md.
//
// Thread-safety: pure functions and plain values.
#ifndef RELAIS_ADAPTERS_HOSPITAL_ADT_H_
#define RELAIS_ADAPTERS_HOSPITAL_ADT_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/hospital/hl7.h"
#include "base/clock.h"
#include "schema/events.h"

namespace relais::hospital {

enum class AckCode { kAccept, kError, kReject };  // MSA-1 AA, AE, AR
const char* AckCodeText(AckCode code);

// Why a message is answered AE or AR. `text` names fields, never values.
struct AdtError {
  AckCode ack = AckCode::kError;
  int hl7_code = 207;    // HL7 table 0357: 100 segment sequence, 101 required field missing,
                         // 102 data type, 200 unsupported message type, 201 unsupported event,
                         // 203 unsupported version, 207 application internal error
  std::string location;  // "PV2-9", "MSH-9", "" when none
  std::string code;      // stable short code for the log: "malformed_date", "past_date", ...
  std::string text;
};

// What the adapter does with a message.
enum class AdtAction {
  kIgnore,                  // acknowledged AA, nothing done (reason in ignore_reason)
  kPendingDischarge,        // A16
  kCancelPendingDischarge,  // A25
  kDischarge,               // A03
  kCancelDischarge,         // A13
  kUpdate,                  // A08, or Z99 with ZBE-4 UPDATE and ZBE-6 A16
};
const char* AdtActionName(AdtAction action);

// A time read from an HL7 DTM/TS value.
struct HlTime {
  base::TimeMs ms = 0;
  bool date_only = false;      // YYYYMMDD (or less precise): ms is 12:00 local time that day
  base::TimeMs EndMs() const;  // the last instant the value may mean
};

// DTM: YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]. Without an offset, the process's local time zone
// (TZ) applies. std::nullopt when malformed or impossible (month 13, 31 February).
std::optional<HlTime> ParseHl7Time(std::string_view text);

// Everything the ACK needs, read from MSH even when the rest is wrong.
struct AckContext {
  hl7::Separators separators;
  std::string sending_application;    // MSH-3.1
  std::string sending_facility;       // MSH-4.1
  std::string receiving_application;  // MSH-5.1
  std::string receiving_facility;     // MSH-6.1
  std::string control_id;             // MSH-10
  std::string version = "2.5";        // MSH-12.1
  std::string trigger;                // MSH-9.2 (or EVN-1)
};

struct AdtMessage {
  AckContext context;
  AdtAction action = AdtAction::kIgnore;
  std::string ignore_reason;  // for kIgnore: a stable code, logged

  std::string patient_id;                    // PID-3: the first identifier that is not an INS (IPP)
  std::string visit_number;                  // PV1-19.1, else PID-18.1
  std::optional<HlTime> expected_discharge;  // PV2-9, else EVN-3
  std::string expected_discharge_field;      // "PV2-9" or "EVN-3": where it came from
  std::optional<HlTime> discharge_time;      // PV1-45
  std::string disposition;                   // PV1-36 (HL7 table 0112), else ZFM-2
  std::string discharged_to;                 // PV1-37.1, else ZFM-4
  std::string ward;                          // PV1-3.1 (point of care)
  std::string facility_name;                 // PV1-3.4 else MSH-4.1
  schema::Person person;                     // PID-5, PID-7, PID-8, PID-3 (INS only if VALI)
  std::string identity_status;               // PID-32 (VALI, PROV, ...)
};

struct AdtResult {
  AdtMessage message;  // context always filled as far as MSH could be read
  std::optional<AdtError> error;
};

// Reads a parsed message. Errors: not ADT (AR 200), unknown trigger (AR 201), unsupported version
// (AR 203), missing MSH-9/MSH-10 (AR 101), a malformed date in a field the mapping uses (AE 102).
AdtResult ReadAdt(const hl7::Message& message);

// Parses `text` and reads it; a message that does not parse is AR 100 ("not HL7").
AdtResult ReadAdtText(std::string_view text);

// The HL7 ACK for a message: MSH (sender and receiver swapped, MSH-9 ACK^trigger^ACK, MSH-10
// `ack_control_id`), MSA (code, original MSH-10, text) and, with an error, ERR in the form of the
// message's version (ERR-1 for 2.3/2.4, ERR-2/3/4/8 from 2.5).
std::string BuildAck(const AckContext& context, AckCode code, const AdtError* error,
                     base::TimeMs now, std::string_view ack_control_id);

}  // namespace relais::hospital

#endif  // RELAIS_ADAPTERS_HOSPITAL_ADT_H_
