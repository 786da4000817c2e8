# relais envelope: what travels between agencies. See docs/envelope.md.
# Evolution: add fields only (new ordinals at the end); never rename meaning, never reuse ordinals.
@0xaa0ffa1a78ad43db;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("relais::schema::wire");

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
  reminder @13;       # broker-emitted
  escalation @14;     # broker-emitted
  rupture @15;        # broker-emitted
  offerTaken @16;     # broker-emitted
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

# Disclosure tier: `notice` needs no consent where the law allows it (who is responsible, exit
# date, contact of the referring professional); `referral` carries the situation and needs consent.
enum Tier {
  notice @0;
  referral @1;
}

enum LegalBasis {
  consent @0;              # the person's consent, referenced by consentRef
  noticeAllowed @1;        # notice tier for a kind the registry marks as allowed without consent
  legalObligation @2;      # a law requires the transmission (e.g. SPIP to SIAO where provided)
  vitalInterest @3;        # the person's vital interest, when they cannot consent
}

enum Purpose {
  unspecified @0;
  housing @1;
  healthContinuity @2;
  socialSupport @3;
  employment @4;
  other @5;
}

enum DeclineReason {
  none @0;
  noCapacity @1;
  notEligible @2;
  personUnreachable @3;
  other @4;
}

enum ConsentMethod {
  written @0;
  oral @1;
  assisted @2;          # assisted by a third party (interpreter, trusted person)
}

# The terms of a consent, in clear so the broker's consent gate can apply them. No personal data:
# only the case ref, agency ids/kinds, purposes and dates.
struct ConsentTerms {
  consentId @0 :Text;
  method @1 :ConsentMethod;
  purposes @2 :List(Purpose);
  recipientAgencies @3 :List(Text);
  recipientKinds @4 :List(Text);   # registry agency kinds, e.g. "association"
  tier @5 :Tier;
  validFrom @6 :Int64;             # ms since the Unix epoch, UTC
  validUntil @7 :Int64;
  collectedAt @8 :Int64;
  legalBasis @9 :LegalBasis;
}

# Clear, routed on, signed. Carries no directly identifying data.
struct Header {
  version @0 :UInt16;              # header layout version; 1
  eventId @1 :Data;                # 16 bytes, UUIDv7
  kind @2 :EventKind;
  referralKind @3 :ReferralKind;
  caseRef @4 :Text;                # random per case, never derived from an identifier
  emitter @5 :Text;                # agency id
  emitterKeyId @6 :Text;           # which of the emitter's registry keys signed
  actor @7 :Text;                  # pseudonymous professional id
  recipients @8 :List(Text);       # agency ids
  consentRef @9 :Text;             # consentId covering this event, if any
  legalBasis @10 :LegalBasis;
  tier @11 :Tier;
  purpose @12 :Purpose;
  emittedAt @13 :Int64;            # ms since the Unix epoch, UTC
  dueAt @14 :Int64;                # the exit date (0 = none)
  inReplyTo @15 :Data;             # eventId this event answers (accepted -> referral, ...)
  declineReason @16 :DeclineReason;
  consent @17 :ConsentTerms;       # set on consentGranted
}

# One recipient's copy of the content key.
struct Wrap {
  agency @0 :Text;
  keyId @1 :Text;                  # the recipient's registry key id
  sealedKey @2 :Data;              # crypto_box_seal(contentKey, recipient X25519 public key)
}

struct Envelope {
  header @0 :Data;                 # a serialized Header (single-segment, unpacked message)
  body @1 :Data;                   # 24-byte nonce ‖ XChaCha20-Poly1305(contentKey, EventBody)
  wraps @2 :List(Wrap);
  bodyDigest @3 :Data;             # BLAKE2b-256(body)
  wrapsDigest @4 :Data;            # BLAKE2b-256 over the wraps' canonical layout
  signature @5 :Data;              # Ed25519 by the emitter, see docs/envelope.md
}
