// The client side of the relais wire protocol (docs/protocol.md): one DEALER socket in CURVE
// client mode to relaisd, with publish acknowledgements, retries, credit-based subscription,
// heartbeats, reconnection and fail-over.
//
// Threading: a Client belongs to the thread that created it. Every method must be called from
// that thread; nothing happens in the background except ZeroMQ's own I/O thread (which keeps the
// TCP connection, ZMTP heartbeats and reconnection going). Protocol work — heartbeats, publish
// retries, detecting a silent broker, reconnecting — happens inside calls that wait (Publish,
// PublishMany, PollAcks, Next, Admin). A long-running adapter should call Next() or PollAcks()
// at least every few seconds, even with nothing to do, so heartbeats keep flowing.
//
// Reliability (docs/protocol.md §3-§5):
//   - A publish is retried with THE SAME envelope (same event id: the broker deduplicates) after
//     a `transient` ack (back-off from initial_backoff doubling to max_backoff), after ack_timeout
//     without an answer, and after every reconnection, until it is acknowledged or its deadline
//     passes. A `fatal` ack is returned at once, never retried.
//   - When nothing has been sent for heartbeat_interval, a heartbeat is sent; the broker answers.
//   - Fail-over (several endpoints, round robin): the client moves to the NEXT endpoint, on a new
//     socket, when the current one
//       * has no working connection for failover_timeout (TCP refused or reset, broker killed,
//         handshake failing), or
//       * is connected but silent for silence_timeout since a frame it answers (publish,
//         heartbeat, admin request) was sent (a hung broker or a black-holed network).
//     With one endpoint only the silence rule applies (a new socket to the same endpoint);
//     ZeroMQ reconnects a refused endpoint on its own.
//     After the move the last subscription is re-sent with resume = storedCursor and every
//     publish awaiting an ack is re-sent. The same re-sending happens when ZeroMQ re-establishes
//     a broken connection on its own (a broker restart), since the broker has then forgotten the
//     session.
//   - The broker drops a session it has not heard from for 15 s. When the application made no
//     call for silence_timeout - heartbeat_interval, the next call subscribes again first.
//   - Connection epochs: Deliver.seq and PublishAck.seq are numbers of ONE relaisd instance
//     (several instances sharing a JetStream stream give one event different seqs). Every new
//     session (new socket, or ZeroMQ reconnection) starts a new epoch; Next() tags each delivery
//     with the epoch it came on, and Ack/Nack of a delivery from an earlier epoch are dropped
//     (counted in ClientStats::stale_acks_dropped), never sent with a seq the new broker may give
//     to another event. The broker redelivers those events: receivers MUST deduplicate by event
//     id (not by seq).
//
// Errors: every waiting call takes a deadline or timeout. Codes:
//   kRetryLater "no_answer"          nothing came from the broker in time (at Connect: "is it
//                                    running, and is this agency's CURVE key in the registry?",
//                                    since a refused CURVE key gets no answer at all)
//   kNotAuthorised "handshake_refused" the broker's authenticator refused this agency's CURVE key
//                                    (reported by ZeroMQ's handshake; revoked or unknown agency)
//   kRetryLater "publish_timeout"    a publish had no ok/fatal ack before its deadline (it may or
//                                    may not be stored: publish the same envelope again)
//   kRetryLater "window_full"        SubmitPublish with max_in_flight publishes pending
//   kInvalidInput "bad_endpoint", "bad_key", "bad_credit", "already_in_flight", the codec's
//                                    "malformed" (an envelope whose header does not decode)
//   a fatal PublishAck: the broker's code (docs/protocol.md §7) with kind kUnauthenticated
//     (bad_signature, digest_mismatch, unknown_key), kInvalidInput (malformed, malformed_header,
//     unknown_recipient, wraps_mismatch, invalid_transition, unknown_case), kRetryLater
//     (journal_failed: the broker stopped; not retried automatically), kNotAuthorised otherwise
//   an error frame from the broker (Next): the broker's code; kNotAuthorised for
//     not_a_receiver and agency_revoked, kInvalidInput otherwise.
#ifndef RELAIS_ADAPTERS_SDK_CLIENT_H_
#define RELAIS_ADAPTERS_SDK_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/identity.h"
#include "schema/envelope.h"
#include "schema/wire.h"

namespace relais::sdk {

using Deadline = std::chrono::steady_clock::time_point;
inline Deadline DeadlineAfter(std::chrono::milliseconds d) {
  return std::chrono::steady_clock::now() + d;
}

struct ClientOptions {
  // Broker endpoints ("tcp://host:7411"), tried in order at Connect, then round robin on each
  // fail-over. An item may hold several endpoints separated by commas ("tcp://a:7411,tcp://b:7411",
  // as given to --broker); see ParseEndpoints.
  std::vector<std::string> endpoints;
  base::Bytes broker_curve_public;  // 32 bytes: the registry's broker agency curveKey
  // The agency's identity (its CURVE key pair authenticates the connection). Not owned; must
  // outlive the Client.
  const crypto::AgencyIdentity* identity = nullptr;

  std::chrono::milliseconds connect_timeout{5000};  // per endpoint, for the first answer
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds silence_timeout{15000};  // connected but silent: fail over
  // No working connection (refused, reset, handshake failing) for this long: fail over to the
  // next endpoint (only with several endpoints; also how long Connect waits for an endpoint that
  // refuses connections before trying the next one).
  std::chrono::milliseconds failover_timeout{2000};
  std::chrono::milliseconds ack_timeout{10000};  // re-send a publish not answered by then
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::milliseconds close_linger{2000};  // how long ~Client flushes queued acks
  size_t max_in_flight = 4096;                   // publishes awaiting an ack
  int max_frame_bytes = 16 << 20;                // larger incoming frames close the connection
};

struct PublishOutcome {
  uint64_t seq = 0;        // the event's journal sequence number on the instance that acked it
  bool duplicate = false;  // the event id was already journaled; seq is the original one
};

// The outcome of one pipelined publish.
struct PublishResult {
  base::Bytes event_id;
  base::Result<PublishOutcome> outcome;
};

struct Delivery {
  uint64_t seq = 0;  // the seq of the relaisd instance that delivered it (not a global id)
  base::TimeMs received_at = 0;  // when the broker journaled it
  uint32_t attempt = 1;
  schema::Envelope envelope;
  uint64_t epoch = 0;  // the client's session it came on; Ack/Nack of an older one are dropped
};

struct ClientStats {
  uint64_t publishes_sent = 0;  // including re-sends
  uint64_t publish_resends = 0;
  uint64_t transient_acks = 0;
  uint64_t reconnects = 0;  // new sockets after a silent broker
  uint64_t resyncs = 0;     // session re-established (new socket or ZeroMQ reconnection)
  uint64_t heartbeats_sent = 0;
  uint64_t frames_received = 0;
  uint64_t malformed_frames = 0;    // undecodable frames from the broker (dropped)
  uint64_t failovers = 0;           // moves to the next endpoint (a subset of reconnects)
  uint64_t stale_acks_dropped = 0;  // Ack/Nack of a delivery from an earlier session, not sent
  uint64_t ack_frames_sent = 0;     // ack frames, each carrying up to 64 acknowledgements
};

// Splits broker endpoint arguments into a list: each value may hold several endpoints separated
// by commas (spaces around them ignored), values may repeat; duplicates are dropped keeping the
// first. Error kInvalidInput "bad_endpoint" for an empty list, an empty item or an item without
// "scheme://" (e.g. "tcp://host:7411").
base::Result<std::vector<std::string>> ParseEndpoints(const std::vector<std::string>& values);

// The help text of every --broker option (relais CLI commands and adapters), so they all say the
// same thing.
inline constexpr char kBrokerFlagHelp[] =
    "broker endpoint tcp://HOST:7411; several for fail-over: repeat --broker or separate them "
    "with commas (tried in order, then round robin)";

// True when `error` (from Connect, Publish, PublishMany, PollAcks or Next) is a refusal by the
// broker — a fatal PublishAck, an error frame such as not_a_receiver, or a refused CURVE
// handshake — so that trying the same thing again will be refused again. False for the client's
// own timeouts and local errors (no_answer, publish_timeout, window_full, ...).
bool IsRefusal(const base::Error& error);

class Client {
 public:
  // Connects to the first endpoint that answers a heartbeat within connect_timeout, trying them
  // in order (with several endpoints, one that refuses connections for failover_timeout is left
  // for the next one). Errors: kInvalidInput "bad_endpoint" / "bad_key" (options unusable);
  // kNotAuthorised "handshake_refused" when every endpoint refused the CURVE key; kRetryLater
  // "no_answer" otherwise, naming each endpoint.
  static base::Result<std::unique_ptr<Client>> Connect(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Publishes one envelope and waits for its ack (retrying as described above) until `deadline`.
  base::Result<PublishOutcome> Publish(const schema::Envelope& envelope, Deadline deadline);

  // Pipelined publishing: SubmitPublish sends at once and returns; PollAcks returns the outcomes
  // completed so far, waiting up to `timeout` for at least one (returning as soon as one is
  // there; without one, up to a millisecond late, never spinning). Each submitted envelope gets
  // exactly one PublishResult (ok, fatal error, or "publish_timeout" at its deadline).
  base::Status SubmitPublish(const schema::Envelope& envelope, Deadline deadline);
  std::vector<PublishResult> PollAcks(std::chrono::microseconds timeout);
  size_t PublishesInFlight() const;

  // Publishes all `envelopes` keeping at most `window` in flight; results in input order.
  std::vector<base::Result<PublishOutcome>> PublishMany(
      const std::vector<schema::Envelope>& envelopes, size_t window, Deadline deadline);

  // Starts (or replaces) the agency's subscription. credit: 1-10,000 unacknowledged deliveries.
  // There is no confirmation frame: a refusal (not_a_receiver) comes back through Next().
  base::Status Subscribe(const schema::Subscribe& subscribe);

  // The next delivery, waiting up to `timeout`; std::nullopt when none came. An error frame from
  // the broker (or a refused handshake) is returned as an Error, once, before further deliveries.
  base::Result<std::optional<Delivery>> Next(std::chrono::milliseconds timeout);

  // Tells the broker the delivery is durably stored (Ack) or should be redelivered later (Nack).
  // A delivery received on an earlier session (before a reconnection or fail-over) is not
  // acknowledged: the call returns Ok, counts stats().stale_acks_dropped and sends nothing, and
  // the broker redelivers the event (deduplicate by event id).
  // While deliveries already received wait in the client for the application, their acks wait
  // too and leave together in one ack frame: with the ack that leaves no delivery waiting, when
  // 64 are queued, and before the client next waits for the broker (PollAcks, Publish, Admin), a
  // Nack or a Subscribe, and when it is destroyed. Queued acks of a session that ended are
  // dropped like those above.
  base::Status Ack(const Delivery& delivery);
  base::Status Nack(const Delivery& delivery, std::string_view reason);

  // Operator request (the broker's own identity only). request_id 0 gets a fresh id.
  base::Result<schema::AdminReply> Admin(schema::AdminRequest request, Deadline deadline);

  // The endpoint of the current connection, and the current session's epoch (it grows with
  // every new session).
  const std::string& endpoint() const;
  uint64_t epoch() const;
  const ClientStats& stats() const;

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relais::sdk

#endif  // RELAIS_ADAPTERS_SDK_CLIENT_H_
