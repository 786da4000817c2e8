# Sealed event bodies: what only the recipients can read. See docs/envelope.md.
# Personal identity (name, birth date, INS, health or judicial details) exists only here.
@0xe50353433bb97aa3;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("relais::schema::wire");

struct Identifier {
  system @0 :Text;        # "INS-NIR", "INS-NIA", "IPP", "SPIP", "ASE", ...
  value @1 :Text;
}

struct Person {
  familyName @0 :Text;
  givenNames @1 :Text;
  usedName @2 :Text;              # nom d'usage
  birthDate @3 :Text;             # ISO 8601 date
  sex @4 :Text;                   # "F", "M", "X" or empty
  ins @5 :Text;                   # INS matricule, only when the identity is qualified
  identifiers @6 :List(Identifier);
  phone @7 :Text;
  languages @8 :List(Text);
}

struct Contact {
  name @0 :Text;
  role @1 :Text;
  service @2 :Text;
  phone @3 :Text;
  email @4 :Text;
}

struct Needs {
  housingSituation @0 :Text;      # where the person lived before (street, hosted, own flat, ...)
  housingNeed @1 :Text;           # what is needed at exit (emergency shelter, CHRS, LHSS, ...)
  healthContinuity @2 :Text;      # treatments, appointments, medication to continue
  reducedMobility @3 :Bool;
  mobilityNotes @4 :Text;
  animals @5 :UInt8;
  animalNotes @6 :Text;
  children @7 :UInt8;
  childrenNotes @8 :Text;
  incomeAndRights @9 :Text;       # RSA, AAH, CSS, ID papers, residence permit...
  addictionCare @10 :Bool;
  idPapersMissing @11 :Bool;
}

struct HospitalDetails {
  facility @0 :Text;
  ward @1 :Text;
  visitNumber @2 :Text;
}

struct PrisonDetails {
  establishment @0 :Text;
  dateFirm @1 :Bool;              # fin de peine (firm) vs aménagement de peine (may move)
}

struct AseDetails {
  contratJeuneMajeurEnd @0 :Text; # ISO date, empty when none
  department @1 :Text;
}

struct TreveDetails {
  procedureStage @0 :Text;        # commandement, concours requested, concours granted
  householdAdults @1 :UInt8;
  householdChildren @2 :UInt8;
}

struct ReferralBody {
  person @0 :Person;
  exitDate @1 :Int64;             # ms since epoch, UTC
  exitPlace @2 :Text;
  situation @3 :Text;
  needs @4 :Needs;
  referrer @5 :Contact;
  consentSummary @6 :Text;        # what the person agreed to share, with whom, until when
  freeText @7 :Text;
  details :union {
    none @8 :Void;
    hospital @9 :HospitalDetails;
    prison @10 :PrisonDetails;
    ase @11 :AseDetails;
    treve @12 :TreveDetails;
  }
}

struct NoteBody {                 # deadline_changed, cancelled, declined, closed, purge_*: a note
  note @0 :Text;
}

struct AcceptedBody {
  contact @0 :Contact;            # who at the receiving partner takes the case
  note @1 :Text;
}

struct HandedOverBody {
  disposition @0 :Text;           # e.g. HL7 PV1-36
  dischargedTo @1 :Text;          # e.g. HL7 PV1-37
  note @2 :Text;
}

struct PickedUpBody {
  placeName @0 :Text;
  note @1 :Text;
}

struct ConsentBody {              # consent_granted / consent_withdrawn: the person's own words
  statement @0 :Text;
}

struct BrokerNoticeBody {         # reminder, escalation, rupture, offer_taken
  stage @0 :Text;
  acceptBy @1 :Int64;
  pickupBy @2 :Int64;
  note @3 :Text;
}

struct EventBody {
  union {
    empty @0 :Void;
    referral @1 :ReferralBody;
    note @2 :NoteBody;
    accepted @3 :AcceptedBody;
    handedOver @4 :HandedOverBody;
    pickedUp @5 :PickedUpBody;
    consent @6 :ConsentBody;
    brokerNotice @7 :BrokerNoticeBody;
  }
}
