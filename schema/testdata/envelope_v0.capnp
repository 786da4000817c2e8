# TEST DATA, not a live schema: an older edition of envelope.capnp's Header, kept to prove that
# the evolution rules hold (schema/evolution_test.cc). It has its own file id and C++ namespace
# so it can be linked beside the current schema. Compared with the current Header it lacks
# purpose @12 and everything after it, and its EventKind stops at purgeReceipt @12 (the
# broker-emitted kinds came later). Never edit it to follow envelope.capnp: it is history.
@0xc2f0a8c1d9e4b7a5;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("relais::schema::wire_v0");

enum EventKind {
  unknown @0;
  referral @1;
  deadlineChanged @2;
  cancelled @3;
  accepted @4;
  declined @5;
  handedOver @6;
  pickedUp @7;
  closed @8;
  consentGranted @9;
  consentWithdrawn @10;
  purgeRequest @11;
  purgeReceipt @12;
}

enum ReferralKind {
  none @0;
  hospitalDischarge @1;
  prisonRelease @2;
  aseExit @3;
  treveEnd @4;
  maternityExit @5;
  other @6;
}

enum Tier {
  notice @0;
  referral @1;
}

enum LegalBasis {
  consent @0;
  noticeAllowed @1;
  legalObligation @2;
  vitalInterest @3;
}

struct Header {
  version @0 :UInt16;
  eventId @1 :Data;
  kind @2 :EventKind;
  referralKind @3 :ReferralKind;
  caseRef @4 :Text;
  emitter @5 :Text;
  emitterKeyId @6 :Text;
  actor @7 :Text;
  recipients @8 :List(Text);
  consentRef @9 :Text;
  legalBasis @10 :LegalBasis;
  tier @11 :Tier;
}
