// Plain C++ views of the sealed event bodies (schema/events.capnp).
#ifndef RELAIS_SCHEMA_EVENTS_H_
#define RELAIS_SCHEMA_EVENTS_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "base/clock.h"

namespace relais::schema {

struct Identifier {
  std::string system;
  std::string value;
  bool operator==(const Identifier&) const = default;
};

struct Person {
  std::string family_name;
  std::string given_names;
  std::string used_name;
  std::string birth_date;  // ISO 8601 date
  std::string sex;
  std::string ins;  // only a qualified INS
  std::vector<Identifier> identifiers;
  std::string phone;
  std::vector<std::string> languages;
  bool operator==(const Person&) const = default;
};

struct Contact {
  std::string name;
  std::string role;
  std::string service;
  std::string phone;
  std::string email;
  bool operator==(const Contact&) const = default;
};

struct Needs {
  std::string housing_situation;
  std::string housing_need;
  std::string health_continuity;
  bool reduced_mobility = false;
  std::string mobility_notes;
  uint8_t animals = 0;
  std::string animal_notes;
  uint8_t children = 0;
  std::string children_notes;
  std::string income_and_rights;
  bool addiction_care = false;
  bool id_papers_missing = false;
  bool operator==(const Needs&) const = default;
};

struct HospitalDetails {
  std::string facility;
  std::string ward;
  std::string visit_number;
  bool operator==(const HospitalDetails&) const = default;
};
struct PrisonDetails {
  std::string establishment;
  bool date_firm = false;
  bool operator==(const PrisonDetails&) const = default;
};
struct AseDetails {
  std::string contrat_jeune_majeur_end;
  std::string department;
  bool operator==(const AseDetails&) const = default;
};
struct TreveDetails {
  std::string procedure_stage;
  uint8_t household_adults = 0;
  uint8_t household_children = 0;
  bool operator==(const TreveDetails&) const = default;
};

struct ReferralBody {
  Person person;
  base::TimeMs exit_date = 0;
  std::string exit_place;
  std::string situation;
  Needs needs;
  Contact referrer;
  std::string consent_summary;
  std::string free_text;
  std::variant<std::monostate, HospitalDetails, PrisonDetails, AseDetails, TreveDetails> details;
  bool operator==(const ReferralBody&) const = default;
};

struct NoteBody {
  std::string note;
  bool operator==(const NoteBody&) const = default;
};
struct AcceptedBody {
  Contact contact;
  std::string note;
  bool operator==(const AcceptedBody&) const = default;
};
struct HandedOverBody {
  std::string disposition;
  std::string discharged_to;
  std::string note;
  bool operator==(const HandedOverBody&) const = default;
};
struct PickedUpBody {
  std::string place_name;
  std::string note;
  bool operator==(const PickedUpBody&) const = default;
};
struct ConsentBody {
  std::string statement;
  bool operator==(const ConsentBody&) const = default;
};
struct BrokerNoticeBody {
  std::string stage;
  base::TimeMs accept_by = 0;
  base::TimeMs pickup_by = 0;
  std::string note;
  bool operator==(const BrokerNoticeBody&) const = default;
};

// The sealed plaintext of an envelope.
using EventBody = std::variant<std::monostate, ReferralBody, NoteBody, AcceptedBody, HandedOverBody,
                               PickedUpBody, ConsentBody, BrokerNoticeBody>;

}  // namespace relais::schema

#endif  // RELAIS_SCHEMA_EVENTS_H_
