#include "adapters/sdk/client.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <unordered_map>
#include <utility>

#include "adapters/sdk/client_session.h"
#include "base/clock.h"
#include "crypto/random.h"
#include "schema/codec.h"

namespace relais::sdk {

namespace {

using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;
using std::chrono::milliseconds;

constexpr uint32_t kMaxCredit = 10000;
constexpr milliseconds kSendRetryDelay{10};  // ZeroMQ queue full: try again shortly
constexpr size_t kAckBatch = 64;             // acknowledgements per ack frame at most
constexpr size_t kMaxQueuedErrors = 100;     // for a client that never calls Next()

// "5 s", "0.5 s".
std::string Seconds(milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  std::string s = std::to_string(d.count() / 1000) + "." + std::to_string(d.count() % 1000 / 100);
  return s + " s";
}

std::string NoAnswerText(const std::string& endpoint, milliseconds waited) {
  return "no answer from the broker at " + endpoint + " within " + Seconds(waited) +
         ": is it running, and is this agency's CURVE key in the registry?";
}

std::string RefusedText(const std::string& endpoint, uint32_t status, const std::string& agency) {
  return "the broker at " + endpoint + " refused this agency's CURVE key (ZAP status " +
         std::to_string(status) + "): is agency " + agency +
         " in the registry, not revoked, with a key valid now?";
}

base::ErrorKind FatalAckKind(const std::string& code) {
  static const char* const kUnauthenticated[] = {"bad_signature", "digest_mismatch", "unknown_key"};
  static const char* const kInvalid[] = {"malformed",          "malformed_header",
                                         "unknown_recipient",  "wraps_mismatch",
                                         "invalid_transition", "unknown_case"};
  for (const char* c : kUnauthenticated) {
    if (code == c) return base::ErrorKind::kUnauthenticated;
  }
  for (const char* c : kInvalid) {
    if (code == c) return base::ErrorKind::kInvalidInput;
  }
  if (code == "journal_failed") return base::ErrorKind::kRetryLater;
  return base::ErrorKind::kNotAuthorised;
}

struct PendingPublish {
  base::Bytes event_id;
  base::Bytes frame;  // the encoded Publish frame, re-sent as is
  SteadyTime submitted_at;
  Deadline deadline;
  bool awaiting_ack = false;  // sent, waiting; otherwise waiting to (re-)send at next_action
  SteadyTime next_action;
  uint32_t sends = 0;
  uint32_t transients = 0;
  std::string last_transient;  // code of the last transient ack
};

std::string Key(const base::Bytes& id) { return std::string(id.begin(), id.end()); }

}  // namespace

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)) {
    limits.max_bytes = static_cast<uint64_t>(options.max_frame_bytes);
    limits.traversal_limit_words =
        std::max<uint64_t>(limits.traversal_limit_words, limits.max_bytes / 8 + 1024);
  }

  ClientOptions options;
  schema::DecodeLimits limits;
  zmq::context_t context{1};
  std::unique_ptr<internal::Connection> conn;
  size_t endpoint_index = 0;
  uint64_t epoch = 0;  // the session deliveries are tagged with; +1 per socket or reconnection
  uint64_t monitor_counter = 0;
  base::SystemClock wall_clock;
  ClientStats stats;

  // Liveness of the current connection.
  SteadyTime last_tx;
  std::optional<SteadyTime> awaiting_since;  // first send not yet followed by any frame
  bool heard_on_connection = false;
  // Since when the connection has not been working (socket opened, TCP refused or reset,
  // handshake failed) without a handshake succeeding since; nullopt while it works.
  std::optional<SteadyTime> down_since;
  bool connecting = false;  // inside Connect, which moves between endpoints itself
  int handshakes_on_connection = 0;
  std::optional<std::string> refusal;  // the last handshake refusal, until a handshake succeeds

  std::unordered_map<std::string, PendingPublish> pending;
  std::deque<PublishResult> completed;
  SteadyTime next_timer = SteadyTime::max();

  std::optional<schema::Subscribe> subscription;
  std::deque<Delivery> deliveries;
  // Acknowledgements not sent yet, all of session `queued_acks_epoch`: while received deliveries
  // wait in `deliveries`, acks wait too, and leave as one ack frame (docs/protocol.md §4) with the
  // ack of the last of them, when kAckBatch are queued, or before the client next waits for the
  // broker, sends a nack or a subscribe, or closes.
  std::vector<uint64_t> queued_acks;
  uint64_t queued_acks_epoch = 0;
  std::deque<base::Error> errors;

  uint64_t next_request_id = 1;
  std::map<uint64_t, base::Bytes> admin_pending;
  std::map<uint64_t, schema::AdminReply> admin_replies;

  const std::string& Endpoint() const { return conn->endpoint(); }

  base::Status OpenConnection(size_t index) {
    internal::ConnectionOptions co;
    co.endpoint = options.endpoints[index];
    co.monitor_address = "inproc://relais-sdk-monitor-" + std::to_string(++monitor_counter);
    co.broker_curve_public = options.broker_curve_public;
    co.identity = options.identity;
    co.heartbeat_ivl_ms = static_cast<int>(options.heartbeat_interval.count());
    co.heartbeat_timeout_ms = static_cast<int>(options.silence_timeout.count());
    co.max_frame_bytes = options.max_frame_bytes;
    RELAIS_ASSIGN_OR_RETURN(auto fresh, internal::Connection::Open(context, co));
    conn = std::move(fresh);  // the old socket's queued frames are abandoned (linger 0)
    endpoint_index = index;
    ++epoch;
    heard_on_connection = false;
    handshakes_on_connection = 0;
    awaiting_since.reset();
    last_tx = SteadyClock::now();
    down_since = last_tx;
    return base::Ok();
  }

  // Queues one frame. `answered`: the broker answers this frame (publish, heartbeat, admin), so
  // silence from now on counts towards silence_timeout; subscribe, ack and nack get no answer.
  bool SendBytes(base::ByteView bytes, bool answered) {
    if (!conn->Send(bytes)) return false;
    last_tx = SteadyClock::now();
    if (answered && !awaiting_since) awaiting_since = last_tx;
    return true;
  }
  bool SendFrame(const schema::Frame& frame, bool answered) {
    return SendBytes(schema::EncodeFrame(frame), answered);
  }

  // Sends the queued acknowledgements in one frame; those of an earlier session are dropped (their
  // seqs mean nothing on this connection: the broker redelivers those events).
  bool FlushAcks() {
    if (queued_acks.empty()) return true;
    if (queued_acks_epoch != epoch) {
      stats.stale_acks_dropped += queued_acks.size();
      queued_acks.clear();
      return true;
    }
    schema::Ack ack;
    ack.seq = queued_acks.front();
    ack.more.assign(queued_acks.begin() + 1, queued_acks.end());
    if (!SendFrame(ack, false)) return false;
    ++stats.ack_frames_sent;
    queued_acks.clear();
    return true;
  }

  void SendHeartbeat() {
    if (SendFrame(schema::Heartbeat{wall_clock.NowMs()}, true)) ++stats.heartbeats_sent;
  }

  // Re-establishes the session after a new socket or a ZeroMQ reconnection: the broker has
  // forgotten the subscription and any publish it had not acknowledged.
  void Resync(SteadyTime now) {
    ++stats.resyncs;
    deliveries.clear();
    if (subscription) {
      schema::Subscribe s = *subscription;
      s.resume = schema::Subscribe::Resume::kStoredCursor;
      s.from_seq = 0;
      (void)SendFrame(s, false);
    }
    for (auto& [key, p] : pending) {
      if (!p.awaiting_ack) continue;
      if (SendBytes(p.frame, true)) {
        ++p.sends;
        ++stats.publishes_sent;
        ++stats.publish_resends;
        p.next_action = now + options.ack_timeout;
      } else {
        p.awaiting_ack = false;
        p.next_action = now + kSendRetryDelay;
      }
      next_timer = std::min(next_timer, p.next_action);
    }
    for (const auto& [id, frame] : admin_pending) (void)SendBytes(frame, true);
    SendHeartbeat();
  }

  // The broker has been silent, or unreachable, too long: a new socket to the next endpoint.
  void Reconnect(SteadyTime now) {
    ++stats.reconnects;
    size_t next = (endpoint_index + 1) % options.endpoints.size();
    if (next != endpoint_index) ++stats.failovers;
    if (!OpenConnection(next)) {
      // Endpoints were checked at Connect, so this is a resource failure: stay on the old
      // endpoint and try again after another silence period.
      if (!OpenConnection(endpoint_index)) return;
    }
    Resync(now);
  }

  void Complete(const std::string& key, base::Result<PublishOutcome> outcome) {
    auto it = pending.find(key);
    if (it == pending.end()) return;
    completed.push_back(PublishResult{std::move(it->second.event_id), std::move(outcome)});
    pending.erase(it);
  }

  base::Error TimeoutError(const PendingPublish& p) const {
    std::string text;
    if (!heard_on_connection) {
      text = NoAnswerText(Endpoint(),
                          std::chrono::duration_cast<milliseconds>(p.deadline - p.submitted_at));
      if (refusal) text += " (" + *refusal + ")";
    } else {
      text = "no acknowledgement for event " + crypto::FormatUuid(p.event_id) +
             " from the broker at " + Endpoint() + " before the deadline (" +
             (p.transients > 0 ? "last answer: transient " + p.last_transient
                               : std::to_string(p.sends) + " sends unanswered") +
             "); it may or may not be stored: publish the same envelope again";
    }
    return base::RetryLater("publish_timeout", text);
  }

  void HandleAck(const schema::PublishAck& ack, SteadyTime now) {
    std::string key = Key(ack.event_id);
    auto it = pending.find(key);
    if (it == pending.end()) return;  // a late or duplicate ack
    PendingPublish& p = it->second;
    switch (ack.status) {
      case schema::AckStatus::kOk:
        Complete(key, PublishOutcome{ack.seq, ack.duplicate});
        return;
      case schema::AckStatus::kTransient: {
        ++stats.transient_acks;
        ++p.transients;
        p.last_transient = ack.code;
        p.awaiting_ack = false;
        auto backoff =
            options.initial_backoff * (int64_t{1} << std::min<uint32_t>(p.transients - 1, 20));
        p.next_action = now + std::min<milliseconds>(backoff, options.max_backoff);
        next_timer = std::min(next_timer, p.next_action);
        return;
      }
      case schema::AckStatus::kFatal:
        Complete(key, base::MakeError(FatalAckKind(ack.code), ack.code,
                                      "the broker refused event " +
                                          crypto::FormatUuid(ack.event_id) + ": " + ack.message));
        return;
    }
  }

  void QueueError(base::Error e) {
    if (errors.size() >= kMaxQueuedErrors) errors.pop_front();
    errors.push_back(std::move(e));
  }

  base::Error ErrorFromFrame(const schema::ErrorFrame& e) const {
    std::string text = "the broker at " + Endpoint() + " reported: " + e.message;
    if (e.code == "not_a_receiver" || e.code == "agency_revoked") {
      return base::NotAuthorised(e.code, text);
    }
    return base::InvalidInput(e.code, text);
  }

  void HandleBytes(const base::Bytes& bytes, SteadyTime now) {
    ++stats.frames_received;
    heard_on_connection = true;
    awaiting_since.reset();
    down_since.reset();  // a frame proves the connection works
    auto frame = schema::DecodeFrame(bytes, limits);
    if (!frame) {
      ++stats.malformed_frames;
      return;
    }
    if (auto* ack = std::get_if<schema::PublishAck>(&*frame)) {
      HandleAck(*ack, now);
    } else if (auto* d = std::get_if<schema::Deliver>(&*frame)) {
      deliveries.push_back(
          Delivery{d->seq, d->received_at, d->attempt, std::move(d->envelope), epoch});
    } else if (auto* e = std::get_if<schema::ErrorFrame>(&*frame)) {
      QueueError(ErrorFromFrame(*e));
    } else if (auto* r = std::get_if<schema::AdminReply>(&*frame)) {
      if (admin_pending.erase(r->request_id) > 0) admin_replies[r->request_id] = std::move(*r);
    }
    // Heartbeats only prove liveness; client-to-broker frame types are ignored.
  }

  void HandleEvent(const internal::MonitorEvent& ev, SteadyTime now) {
    switch (ev.event) {
      case internal::ConnectionEvent::kHandshakeSucceeded:
        refusal.reset();
        down_since.reset();
        if (++handshakes_on_connection > 1) {
          // A new TCP connection may reach another broker instance: a new session.
          ++epoch;
          Resync(now);
        }
        break;
      case internal::ConnectionEvent::kHandshakeRefused:
        if (!refusal) {
          refusal = RefusedText(Endpoint(), ev.value, options.identity->pub.agency_id);
          QueueError(base::NotAuthorised("handshake_refused", *refusal));
        }
        if (!down_since) down_since = now;
        break;
      case internal::ConnectionEvent::kHandshakeFailed:
      case internal::ConnectionEvent::kDisconnected:
      case internal::ConnectionEvent::kConnectRetried:
        if (!down_since) down_since = now;
        break;
    }
  }

  void RunPublishTimers(SteadyTime now) {
    if (now < next_timer) return;
    next_timer = SteadyTime::max();
    std::vector<std::string> expired;
    for (auto& [key, p] : pending) {
      if (now >= p.deadline) {
        expired.push_back(key);
        continue;
      }
      if (now >= p.next_action) {
        if (SendBytes(p.frame, true)) {
          ++stats.publishes_sent;
          if (p.sends++ > 0) ++stats.publish_resends;
          p.awaiting_ack = true;
          p.next_action = now + options.ack_timeout;
        } else {
          p.next_action = now + kSendRetryDelay;
        }
      }
      next_timer = std::min({next_timer, p.next_action, p.deadline});
    }
    for (const std::string& key : expired) Complete(key, TimeoutError(pending.at(key)));
  }

  // With several endpoints, a connection that has not worked for failover_timeout is left.
  bool DownTooLong(SteadyTime now) const {
    return options.endpoints.size() > 1 && down_since &&
           now - *down_since >= options.failover_timeout;
  }

  void RunTimers(SteadyTime now) {
    bool silent = awaiting_since && now - *awaiting_since >= options.silence_timeout;
    if (!connecting && (silent || DownTooLong(now))) {
      Reconnect(now);
    } else if (now - last_tx >= options.silence_timeout - options.heartbeat_interval) {
      // We said nothing for so long (the application was busy) that the broker may have
      // expired the session: subscribe again before anything else.
      if (subscription) Resync(now);
    }
    if (now - last_tx >= options.heartbeat_interval) SendHeartbeat();
    RunPublishTimers(now);
  }

  // Receives what is there, handles connection events and runs the timers, without waiting.
  void Service() {
    while (auto bytes = conn->Receive()) HandleBytes(*bytes, SteadyClock::now());
    for (const auto& ev : conn->TakeEvents()) HandleEvent(ev, SteadyClock::now());
    RunTimers(SteadyClock::now());
  }

  SteadyTime NextWake() const {
    SteadyTime wake = std::min(next_timer, last_tx + options.heartbeat_interval);
    if (awaiting_since) wake = std::min(wake, *awaiting_since + options.silence_timeout);
    if (options.endpoints.size() > 1 && down_since) {
      wake = std::min(wake, *down_since + options.failover_timeout);
    }
    return wake;
  }

  // Services the connection until done() or `until`. Always services at least once.
  void Pump(SteadyTime until, const std::function<bool()>& done) {
    (void)FlushAcks();  // not sent now (a full send queue): the next pass tries again
    while (true) {
      Service();
      if (done()) return;
      SteadyTime now = SteadyClock::now();
      if (now >= until) return;
      // Rounded up: the socket waits in whole milliseconds, and a wait of 0 would spin.
      auto wait = std::chrono::ceil<milliseconds>(std::min(until, NextWake()) - now);
      conn->Wait(std::clamp(wait, milliseconds(0), milliseconds(1000)));
    }
  }

  base::Status Submit(const schema::Envelope& envelope, base::Bytes event_id, Deadline deadline) {
    std::string key = Key(event_id);
    if (pending.contains(key)) {
      return base::InvalidInput("already_in_flight", "event " + crypto::FormatUuid(event_id) +
                                                         " is already being published");
    }
    if (pending.size() >= options.max_in_flight) {
      return base::RetryLater("window_full", std::to_string(pending.size()) +
                                                 " publishes are awaiting an ack: poll acks first");
    }
    SteadyTime now = SteadyClock::now();
    PendingPublish p;
    p.event_id = std::move(event_id);
    p.frame = schema::EncodeFrame(schema::Publish{envelope});
    p.submitted_at = now;
    p.deadline = deadline;
    if (SendBytes(p.frame, true)) {
      ++stats.publishes_sent;
      p.sends = 1;
      p.awaiting_ack = true;
      p.next_action = now + options.ack_timeout;
    } else {
      p.next_action = now + kSendRetryDelay;
    }
    next_timer = std::min({next_timer, p.next_action, p.deadline});
    pending.emplace(std::move(key), std::move(p));
    return base::Ok();
  }

  std::optional<base::Result<PublishOutcome>> TakeCompleted(const std::string& key) {
    for (auto it = completed.begin(); it != completed.end(); ++it) {
      if (Key(it->event_id) == key) {
        base::Result<PublishOutcome> out = std::move(it->outcome);
        completed.erase(it);
        return out;
      }
    }
    return std::nullopt;
  }
};

base::Result<std::vector<std::string>> ParseEndpoints(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& value : values) {
    size_t begin = 0;
    while (begin <= value.size()) {
      size_t end = std::min(value.find(',', begin), value.size());
      std::string item = value.substr(begin, end - begin);
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (item.empty()) {
        return base::InvalidInput("bad_endpoint",
                                  "empty broker endpoint in \"" + value +
                                      "\": give tcp://HOST:PORT items separated by commas");
      }
      size_t scheme = item.find("://");
      if (scheme == std::string::npos || scheme == 0 || scheme + 3 == item.size()) {
        return base::InvalidInput(
            "bad_endpoint", "broker endpoint \"" + item + "\" is not of the form tcp://HOST:PORT");
      }
      if (std::find(out.begin(), out.end(), item) == out.end()) out.push_back(std::move(item));
      begin = end + 1;
    }
  }
  if (out.empty()) return base::InvalidInput("bad_endpoint", "no broker endpoint given");
  return out;
}

bool IsRefusal(const base::Error& error) {
  static const char* const kLocal[] = {
      "no_answer",    "publish_timeout", "window_full", "already_in_flight", "send_failed",
      "bad_endpoint", "bad_key",         "bad_credit",  "bad_options",       "not_submitted"};
  for (const char* code : kLocal) {
    if (error.code == code) return false;
  }
  return error.kind != base::ErrorKind::kRetryLater;
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Client::~Client() {
  if (impl_ && impl_->conn) {
    (void)impl_->FlushAcks();
    impl_->conn->SetLinger(impl_->options.close_linger);
    impl_->conn.reset();
  }
}

base::Result<std::unique_ptr<Client>> Client::Connect(ClientOptions options) {
  if (options.endpoints.empty()) {
    return base::InvalidInput("bad_endpoint", "no broker endpoint given");
  }
  if (options.identity == nullptr) {
    return base::InvalidInput("bad_key", "no agency identity given");
  }
  if (options.heartbeat_interval >= options.silence_timeout) {
    return base::InvalidInput("bad_options", "heartbeat_interval must be below silence_timeout");
  }
  if (options.failover_timeout <= milliseconds(0)) {
    return base::InvalidInput("bad_options", "failover_timeout must be above 0");
  }
  RELAIS_ASSIGN_OR_RETURN(options.endpoints, ParseEndpoints(options.endpoints));
  auto impl = std::make_unique<Impl>(std::move(options));
  std::string failures;
  bool all_refused = true;
  impl->connecting = true;
  for (size_t i = 0; i < impl->options.endpoints.size(); ++i) {
    RELAIS_RETURN_IF_ERROR(impl->OpenConnection(i));
    impl->refusal.reset();
    impl->SendHeartbeat();
    Impl* raw = impl.get();
    SteadyTime start = SteadyClock::now();
    impl->Pump(start + impl->options.connect_timeout, [raw] {
      return raw->heard_on_connection || raw->refusal.has_value() ||
             raw->DownTooLong(SteadyClock::now());
    });
    if (impl->heard_on_connection) {
      impl->connecting = false;
      impl->errors.clear();  // refusals by endpoints tried before
      return std::unique_ptr<Client>(new Client(std::move(impl)));
    }
    if (!failures.empty()) failures += "; ";
    if (impl->refusal) {
      failures += *impl->refusal;
    } else {
      all_refused = false;
      failures += NoAnswerText(
          impl->Endpoint(),
          std::min(impl->options.connect_timeout,
                   std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start)));
    }
  }
  if (all_refused) return base::NotAuthorised("handshake_refused", failures);
  return base::RetryLater("no_answer", failures);
}

base::Status Client::SubmitPublish(const schema::Envelope& envelope, Deadline deadline) {
  RELAIS_ASSIGN_OR_RETURN(schema::Header header, schema::DecodeHeader(envelope.header));
  return impl_->Submit(envelope, std::move(header.event_id), deadline);
}

std::vector<PublishResult> Client::PollAcks(std::chrono::microseconds timeout) {
  Impl& s = *impl_;
  s.Pump(SteadyClock::now() + timeout, [&s] { return !s.completed.empty(); });
  std::vector<PublishResult> out(std::make_move_iterator(s.completed.begin()),
                                 std::make_move_iterator(s.completed.end()));
  s.completed.clear();
  return out;
}

size_t Client::PublishesInFlight() const { return impl_->pending.size(); }

base::Result<PublishOutcome> Client::Publish(const schema::Envelope& envelope, Deadline deadline) {
  Impl& s = *impl_;
  if (s.pending.size() >= s.options.max_in_flight) {
    s.Pump(deadline, [&s] { return s.pending.size() < s.options.max_in_flight; });
  }
  RELAIS_ASSIGN_OR_RETURN(schema::Header header, schema::DecodeHeader(envelope.header));
  std::string key = Key(header.event_id);
  RELAIS_RETURN_IF_ERROR(s.Submit(envelope, std::move(header.event_id), deadline));
  std::optional<base::Result<PublishOutcome>> result;
  s.Pump(deadline, [&] { return (result = s.TakeCompleted(key)).has_value(); });
  if (result) return std::move(*result);
  // The deadline passed between two timer runs: expire it now.
  if (auto it = s.pending.find(key); it != s.pending.end()) {
    s.Complete(key, s.TimeoutError(it->second));
  }
  if (auto late = s.TakeCompleted(key)) return std::move(*late);
  return base::RetryLater("publish_timeout", "no acknowledgement before the deadline");
}

std::vector<base::Result<PublishOutcome>> Client::PublishMany(
    const std::vector<schema::Envelope>& envelopes, size_t window, Deadline deadline) {
  Impl& s = *impl_;
  window = std::clamp<size_t>(window, 1, s.options.max_in_flight);
  std::vector<base::Result<PublishOutcome>> results(
      envelopes.size(), base::Result<PublishOutcome>(base::InvalidInput("not_submitted", "")));
  std::unordered_map<std::string, size_t> index_of;
  std::vector<PublishResult> foreign;  // outcomes of publishes submitted outside this call
  size_t next = 0;
  while (next < envelopes.size() || !index_of.empty()) {
    while (next < envelopes.size() && index_of.size() < window &&
           s.pending.size() < s.options.max_in_flight) {
      size_t i = next++;
      auto header = schema::DecodeHeader(envelopes[i].header);
      if (!header) {
        results[i] = std::move(header).error();
        continue;
      }
      std::string key = Key(header->event_id);
      if (index_of.contains(key)) {
        results[i] = base::InvalidInput(
            "already_in_flight",
            "the batch holds event " + crypto::FormatUuid(header->event_id) + " twice");
        continue;
      }
      base::Status st = s.Submit(envelopes[i], std::move(header->event_id), deadline);
      if (!st) {
        results[i] = std::move(st).error();
        continue;
      }
      index_of.emplace(std::move(key), i);
    }
    if (index_of.empty() && next >= envelopes.size()) break;
    for (PublishResult& r : PollAcks(milliseconds(100))) {
      auto it = index_of.find(Key(r.event_id));
      if (it == index_of.end()) {
        foreign.push_back(std::move(r));
        continue;
      }
      results[it->second] = std::move(r.outcome);
      index_of.erase(it);
    }
  }
  for (PublishResult& r : foreign) s.completed.push_back(std::move(r));
  return results;
}

base::Status Client::Subscribe(const schema::Subscribe& subscribe) {
  if (subscribe.credit == 0 || subscribe.credit > kMaxCredit) {
    return base::InvalidInput("bad_credit", "credit must be 1 to " + std::to_string(kMaxCredit));
  }
  Impl& s = *impl_;
  (void)s.FlushAcks();
  s.subscription = subscribe;
  s.deliveries.clear();
  if (!s.SendFrame(subscribe, false)) {
    return base::RetryLater("send_failed", "the subscription could not be queued; try again");
  }
  return base::Ok();
}

base::Result<std::optional<Delivery>> Client::Next(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  // What an earlier service already received goes first, without another pass over the socket
  // (a pass drains everything that arrived, so the queue holds what came before any later frame).
  if (s.errors.empty() && s.deliveries.empty()) {
    s.Pump(SteadyClock::now() + timeout,
           [&s] { return !s.errors.empty() || !s.deliveries.empty(); });
  }
  if (!s.errors.empty()) {
    base::Error e = std::move(s.errors.front());
    s.errors.pop_front();
    return e;
  }
  if (s.deliveries.empty()) return std::optional<Delivery>();
  Delivery d = std::move(s.deliveries.front());
  s.deliveries.pop_front();
  return std::optional<Delivery>(std::move(d));
}

base::Status Client::Ack(const Delivery& delivery) {
  if (delivery.epoch != impl_->epoch) {
    ++impl_->stats.stale_acks_dropped;
    return base::Ok();
  }
  Impl& s = *impl_;
  if (!s.queued_acks.empty() && s.queued_acks_epoch != s.epoch) (void)s.FlushAcks();
  s.queued_acks_epoch = s.epoch;
  s.queued_acks.push_back(delivery.seq);
  // Held back only while deliveries already received wait for the application: the ack of the
  // last one sends them all. A full send queue keeps them queued: the next flush sends them.
  if (s.deliveries.empty() || s.queued_acks.size() >= kAckBatch) (void)s.FlushAcks();
  return base::Ok();
}

base::Status Client::Nack(const Delivery& delivery, std::string_view reason) {
  if (delivery.epoch != impl_->epoch) {
    ++impl_->stats.stale_acks_dropped;
    return base::Ok();
  }
  (void)impl_->FlushAcks();
  if (!impl_->SendFrame(schema::Nack{delivery.seq, std::string(reason)}, false)) {
    return base::RetryLater("send_failed", "the nack could not be queued; try again");
  }
  return base::Ok();
}

base::Result<schema::AdminReply> Client::Admin(schema::AdminRequest request, Deadline deadline) {
  Impl& s = *impl_;
  if (request.request_id == 0) request.request_id = s.next_request_id++;
  uint64_t id = request.request_id;
  base::Bytes frame = schema::EncodeFrame(request);
  s.admin_pending[id] = frame;
  s.admin_replies.erase(id);
  (void)s.SendBytes(frame, true);
  SteadyTime start = SteadyClock::now();
  s.Pump(deadline, [&s, id] { return s.admin_replies.contains(id); });
  auto it = s.admin_replies.find(id);
  if (it == s.admin_replies.end()) {
    s.admin_pending.erase(id);
    return base::RetryLater(
        "no_answer",
        s.heard_on_connection
            ? "the broker at " + s.Endpoint() + " did not answer the admin request in time"
            : NoAnswerText(s.Endpoint(),
                           std::chrono::duration_cast<milliseconds>(deadline - start)));
  }
  schema::AdminReply reply = std::move(it->second);
  s.admin_replies.erase(it);
  return reply;
}

const std::string& Client::endpoint() const { return impl_->Endpoint(); }

uint64_t Client::epoch() const { return impl_->epoch; }

const ClientStats& Client::stats() const { return impl_->stats; }

}  // namespace relais::sdk
