# The agency registry, signed by the registry authority. See docs/registry.md.
@0x91cd1a60493b1025;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("relais::schema::wire");

using Env = import "envelope.capnp";

enum AgencyKind {
  hospital @0;
  prisonService @1;
  childWelfare @2;
  evictionPrevention @3;
  siao @4;
  association @5;
  shelter @6;
  coordinator @7;
  auditor @8;
  broker @9;                        # relaisd's own identity (checkpoints, broker-emitted events)
}

struct AgencyKey {
  keyId @0 :Text;                   # hex of the first 8 bytes of BLAKE2b-256(signKey)
  signKey @1 :Data;                 # Ed25519 public key, 32 bytes
  sealKey @2 :Data;                 # X25519 public key, 32 bytes
  curveKey @3 :Data;                # CURVE (X25519) transport public key, 32 bytes
  validFrom @4 :Int64;              # ms since the Unix epoch, UTC
  validUntil @5 :Int64;
}

struct Agency {
  id @0 :Text;                      # stable id, [a-z0-9._-], e.g. "aphp-hopital-nord"
  displayName @1 :Text;
  kind @2 :AgencyKind;
  territory @3 :Text;               # e.g. "75"
  keys @4 :List(AgencyKey);
  mayEmit @5 :List(Env.EventKind);
  mayReceive @6 :Bool;
  revoked @7 :Bool;
  revokedAt @8 :Int64;
  noticeWithoutConsent @9 :List(Env.ReferralKind);  # kinds it may send at notice tier unconsented
}

struct Registry {
  version @0 :UInt16;               # 1
  serial @1 :UInt64;                # increases with every signed edition
  issuedAt @2 :Int64;
  expiresAt @3 :Int64;
  authorityKeyId @4 :Text;
  agencies @5 :List(Agency);
}

struct SignedRegistry {
  registry @0 :Data;                # a serialized Registry
  signature @1 :Data;               # Ed25519 by the authority over "relais-registry-v1" ‖ registry
  authorityKeyId @2 :Text;
}
