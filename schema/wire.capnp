# The wire protocol between clients (DEALER) and relaisd (ROUTER, CURVE + ZAP).
# Each ZeroMQ message is exactly one frame holding one serialized `Frame` (unpacked).
# See docs/protocol.md.
@0xecc1fcbad1c2e7d9;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("relais::schema::wire");

using Env = import "envelope.capnp";

enum AckStatus {
  ok @0;          # durable (journal committed and fsync'd)
  transient @1;   # retry later with the same event id (overload, disk full)
  fatal @2;       # never retry (bad signature, not authorised, consent missing, malformed)
}

struct Publish {
  envelope @0 :Env.Envelope;
}

struct PublishAck {
  eventId @0 :Data;
  seq @1 :UInt64;               # journal sequence number when status = ok
  status @2 :AckStatus;
  code @3 :Text;                # stable error code when status != ok (docs/protocol.md)
  message @4 :Text;             # human text, never case data
  duplicate @5 :Bool;           # the event id was already journaled; seq is the original
}

struct Subscribe {
  resume :union {
    storedCursor @0 :Void;      # continue after the agency's durable cursor
    fromSeq @1 :UInt64;         # deliver events with seq >= fromSeq
    fromNow @2 :Void;           # only events journaled from now on
  }
  credit @3 :UInt32;            # max unacknowledged deliveries outstanding
}

struct Deliver {
  seq @0 :UInt64;
  receivedAt @1 :Int64;
  attempt @2 :UInt32;           # 1 for the first delivery, >1 for redeliveries
  envelope @3 :Env.Envelope;
}

struct Ack {
  seq @0 :UInt64;
  more @1 :List(UInt64);        # further seqs acknowledged by the same frame (docs/protocol.md §4)
}

struct Nack {
  seq @0 :UInt64;
  reason @1 :Text;
}

struct Heartbeat {
  sentAt @0 :Int64;
}

struct ErrorFrame {
  code @0 :Text;
  message @1 :Text;
}

# Operator requests, accepted only from agencies of kind `coordinator` or from the broker's own
# admin key (see docs/protocol.md).
struct AdminRequest {
  requestId @0 :UInt64;
  union {
    reloadRegistry @1 :Void;
    listDeadLetters @2 :Void;
    requeueDeadLetter @3 :UInt64;   # seq
    caseReceipt @4 :Text;           # case ref: the person's disclosure receipt (docs/protocol.md)
  }
}

struct AdminReply {
  requestId @0 :UInt64;
  ok @1 :Bool;
  code @2 :Text;
  message @3 :Text;
  lines @4 :List(Text);             # human-readable result lines (no case data)
}

struct Frame {
  union {
    publish @0 :Publish;
    publishAck @1 :PublishAck;
    subscribe @2 :Subscribe;
    deliver @3 :Deliver;
    ack @4 :Ack;
    nack @5 :Nack;
    heartbeat @6 :Heartbeat;
    error @7 :ErrorFrame;
    adminRequest @8 :AdminRequest;
    adminReply @9 :AdminReply;
  }
}
