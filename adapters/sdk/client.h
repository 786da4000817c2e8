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
//     When the broker has been silent for silence_timeout since a frame it answers (publish,
//     heartbeat, admin request) was sent, the DEALER socket is destroyed and a new one connects to
//     the next endpoint (fail-over in order, cycling), the last subscription is re-sent with resume
//     = storedCursor, and every publish awaiting an ack is re-sent. The same re-sending happens
//     when ZeroMQ re-establishes a broken connection on its own (a broker restart), since the
//     broker has then forgotten the session.
//   - The broker drops a session it has not heard from for 15 s. When the application made no
//     call for silence_timeout - heartbeat_interval, the next call subscribes again first.
//   - Deliveries already handed out by Next() but not acknowledged are redelivered by the broker
//     after a reconnection; receivers deduplicate by seq (or event id), as the protocol requires.
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
  // Broker endpoints ("tcp://host:7411"), tried in order at Connect and on each reconnection.
  std::vector<std::string> endpoints;
  base::Bytes broker_curve_public;  // 32 bytes: the registry's broker agency curveKey
  // The agency's identity (its CURVE key pair authenticates the connection). Not owned; must
  // outlive the Client.
  const crypto::AgencyIdentity* identity = nullptr;

  std::chrono::milliseconds connect_timeout{5000};  // per endpoint, for the first answer
  std::chrono::milliseconds heartbeat_interval{5000};
  std::chrono::milliseconds silence_timeout{15000};
  std::chrono::milliseconds ack_timeout{10000};  // re-send a publish not answered by then
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::milliseconds close_linger{2000};  // how long ~Client flushes queued acks
  size_t max_in_flight = 4096;                   // publishes awaiting an ack
  int max_frame_bytes = 16 << 20;                // larger incoming frames close the connection
};

struct PublishOutcome {
  uint64_t seq = 0;        // the event's journal sequence number
  bool duplicate = false;  // the event id was already journaled; seq is the original one
};

// The outcome of one pipelined publish.
struct PublishResult {
  base::Bytes event_id;
  base::Result<PublishOutcome> outcome;
};

struct Delivery {
  uint64_t seq = 0;
  base::TimeMs received_at = 0;  // when the broker journaled it
  uint32_t attempt = 1;
  schema::Envelope envelope;
};

struct ClientStats {
  uint64_t publishes_sent = 0;  // including re-sends
  uint64_t publish_resends = 0;
  uint64_t transient_acks = 0;
  uint64_t reconnects = 0;  // new sockets after a silent broker
  uint64_t resyncs = 0;     // session re-established (new socket or ZeroMQ reconnection)
  uint64_t heartbeats_sent = 0;
  uint64_t frames_received = 0;
  uint64_t malformed_frames = 0;  // undecodable frames from the broker (dropped)
};

// True when `error` (from Connect, Publish, PublishMany, PollAcks or Next) is a refusal by the
// broker — a fatal PublishAck, an error frame such as not_a_receiver, or a refused CURVE
// handshake — so that trying the same thing again will be refused again. False for the client's
// own timeouts and local errors (no_answer, publish_timeout, window_full, ...).
bool IsRefusal(const base::Error& error);

class Client {
 public:
  // Connects to the first endpoint that answers a heartbeat within connect_timeout, trying them
  // in order. Errors: kInvalidInput "bad_endpoint" / "bad_key" (options unusable);
  // kNotAuthorised "handshake_refused" when every endpoint refused the CURVE key; kRetryLater
  // "no_answer" otherwise, naming each endpoint.
  static base::Result<std::unique_ptr<Client>> Connect(ClientOptions options);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Publishes one envelope and waits for its ack (retrying as described above) until `deadline`.
  base::Result<PublishOutcome> Publish(const schema::Envelope& envelope, Deadline deadline);

  // Pipelined publishing: SubmitPublish sends at once and returns; PollAcks returns the outcomes
  // completed so far, waiting up to `timeout` for at least one. Each submitted envelope gets
  // exactly one PublishResult (ok, fatal error, or "publish_timeout" at its deadline).
  base::Status SubmitPublish(const schema::Envelope& envelope, Deadline deadline);
  std::vector<PublishResult> PollAcks(std::chrono::milliseconds timeout);
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
  base::Status Ack(uint64_t seq);
  base::Status Nack(uint64_t seq, std::string_view reason);

  // Operator request (the broker's own identity only). request_id 0 gets a fresh id.
  base::Result<schema::AdminReply> Admin(schema::AdminRequest request, Deadline deadline);

  // The endpoint of the current connection.
  const std::string& endpoint() const;
  const ClientStats& stats() const;

  struct Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relais::sdk

#endif  // RELAIS_ADAPTERS_SDK_CLIENT_H_
