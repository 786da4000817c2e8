#include "broker/broker.h"

#include <algorithm>

#include "base/check.h"
#include "base/crash_point.h"
#include "base/log.h"
#include "broker/publish_check.h"
#include "crypto/random.h"
#include "schema/codec.h"

namespace relais::broker {

namespace {

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <typename... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string EventIdText(const base::Bytes& id) {
  return id.empty() ? std::string("-") : crypto::FormatUuid(id);
}

}  // namespace

Broker::Broker(BrokerOptions options, transport::Server& server, RegistryStore& registry,
               EventStore& store, WorkerPool& verifiers, CaseEngine& engine,
               const crypto::AgencyIdentity& self, const base::Clock& clock, BrokerMetrics& metrics)
    : options_(std::move(options)),
      server_(server),
      registry_(registry),
      store_(store),
      verifiers_(verifiers),
      clock_(clock),
      metrics_(metrics),
      engine_(engine),
      self_(self),
      delivery_(store, options_.delivery,
                [this](const std::string& peer, const base::SharedBytes& frame) {
                  return Sent(peer, server_.Send(peer, frame));
                }) {}

base::Status Broker::Run() {
  StartRecovery();
  metrics_.registry_serial.store(registry_.Current()->registry.serial);
  int64_t next_pump = 0;
  while (!stop_.load()) {
    int64_t now_us = base::MonotonicMicros();
    int timeout_ms = static_cast<int>(std::clamp<int64_t>((next_pump - now_us) / 1000, 0, 100));
    if (RecoveryRunnable()) timeout_ms = 0;  // replay between polls
    auto inbound = server_.Poll(timeout_ms, WakeFds(), 4096);
    if (!inbound) return std::move(inbound).error();
    base::LogBatch log_batch;  // this pass's lines in one write, before the next Poll waits
    now_us = base::MonotonicMicros();
    for (auto& in : *inbound) HandleInbound(in, now_us);
    DrainWorkers(now_us);
    RELAIS_RETURN_IF_ERROR(ContinueRecovery());
    if (reload_.exchange(false)) (void)ReloadRegistry();
    if (!server_.ZapHandlerAlive()) {
      metrics_.healthy.store(false);
      return base::FailStop("zap_handler_died", "the ZAP handler thread stopped");
    }
    ExpireSessions(now_us);
    if (now_us >= next_timer_check_us_) {
      FireTimers();
      next_timer_check_us_ = now_us + 50'000;
    }
    next_pump = std::min(delivery_.Pump(now_us), next_timer_check_us_);
    UpdateGauges();
    if (journal_failed_ && pending_publishes_ == 0) {
      return base::FailStop("journal_failed", "the journal stopped after an I/O error");
    }
  }
  // Graceful stop: read nothing new, let pending verifications and commits finish, ack them.
  base::LogInfo("broker_stopping", {{"pending_publishes", pending_publishes_}});
  int64_t deadline = base::MonotonicMicros() + options_.shutdown_grace_us;
  while (pending_publishes_ > 0 && base::MonotonicMicros() < deadline) {
    auto none = server_.Poll(10, WakeFds(), 0);
    (void)none;
    DrainWorkers(base::MonotonicMicros());
  }
  UpdateGauges();
  return journal_failed_ ? base::Status(base::FailStop("journal_failed", "journal I/O error"))
                         : base::Ok();
}

std::vector<int> Broker::WakeFds() {
  std::vector<int> fds = {verified_.Fd(), committed_.Fd()};
  if (ingester_ != nullptr) fds.push_back(ingester_->records().Fd());
  return fds;
}

void Broker::DrainWorkers(int64_t now_us) {
  verified_.DrainInto(verified_batch_);
  for (auto& v : verified_batch_) HandleVerified(std::move(v));
  committed_.DrainInto(committed_batch_);
  for (auto& c : committed_batch_) HandleCommitted(c, now_us);
  if (ingester_ != nullptr && !stop_.load()) {
    for (auto& r : ingester_->records().Drain()) HandleIngested(std::move(r), now_us);
  }
}

void Broker::HandleInbound(transport::Inbound& in, int64_t now_us) {
  auto [it, fresh] = sessions_.try_emplace(in.peer, Session{in.agency_id, now_us});
  it->second.last_seen_us = now_us;
  if (fresh) {
    base::LogInfo("session_open", {{"agency", in.agency_id}});
  }
  schema::DecodeLimits limits;
  limits.max_bytes = 8u << 20;  // docs/protocol.md §2; ZeroMQ closes connections sending more
  auto frame = schema::DecodeFrame(in.payload, limits);
  if (!frame) {
    SendError(in.peer, "malformed", frame.error().message);
    return;
  }
  const std::string& peer = in.peer;
  const std::string& agency = in.agency_id;
  std::visit(Overloaded{
                 [&](schema::Publish& p) { HandlePublish(peer, agency, p, now_us); },
                 [&](schema::Subscribe& s) { HandleSubscribe(peer, agency, s, now_us); },
                 [&](schema::Ack& a) {
                   if (a.more.empty()) {
                     delivery_.Ack(agency, a.seq);
                     return;
                   }
                   a.more.insert(a.more.begin(), a.seq);
                   delivery_.Ack(agency, a.more);
                 },
                 [&](schema::Nack& n) { delivery_.Nack(agency, n.seq, n.reason, now_us); },
                 [&](schema::Heartbeat&) { SendFrame(peer, schema::Heartbeat{clock_.NowMs()}); },
                 [&](schema::AdminRequest& r) { HandleAdmin(peer, agency, r); },
                 [&](auto&) {
                   SendError(peer, "unexpected_frame", "this frame type is sent by the broker");
                 },
             },
             *frame);
}

void Broker::HandlePublish(const std::string& peer, const std::string& agency,
                           schema::Publish& publish, int64_t now_us) {
  RELAIS_CRASH_POINT("after_receive");
  if (journal_failed_ || pending_publishes_ >= options_.max_pending_publishes) {
    base::Error e = journal_failed_
                        ? base::FailStop("journal_failed", "the journal stopped after an I/O error")
                        : base::RetryLater("overloaded", "too many publishes pending; retry");
    auto header = schema::DecodeHeader(publish.envelope.header);
    SendAck(peer, header ? header->event_id : base::Bytes(),
            journal_failed_ ? schema::AckStatus::kFatal : schema::AckStatus::kTransient, 0, &e,
            false, now_us);
    return;
  }
  ++pending_publishes_;
  auto registry = registry_.Current();
  base::TimeMs now = clock_.NowMs();
  uint64_t arrival = arrival_[peer].assigned++;
  verifiers_.Submit([this, registry, now, peer, agency, now_us, arrival,
                     envelope = std::move(publish.envelope)]() mutable {
    Verified v{peer, agency, now_us, arrival, std::move(envelope), base::InvalidInput("", "")};
    v.header = CheckPublish(*registry, agency, v.envelope, now);
    v.verified_us = base::MonotonicMicros();
    verified_.Push(std::move(v));
  });
}

void Broker::HandleVerified(Verified v) {
  auto it = arrival_.find(v.peer);
  RELAIS_CHECK(it != arrival_.end());
  ArrivalOrder& order = it->second;
  if (v.arrival != order.admitted) {
    order.early.emplace(v.arrival, std::move(v));
    return;
  }
  std::string peer = v.peer;
  AdmitVerified(std::move(v));
  ++order.admitted;
  while (!order.early.empty() && order.early.begin()->first == order.admitted) {
    Verified ready = std::move(order.early.begin()->second);
    order.early.erase(order.early.begin());
    AdmitVerified(std::move(ready));
    ++order.admitted;
  }
  if (order.admitted == order.assigned) arrival_.erase(peer);
}

void Broker::AdmitVerified(Verified v) {
  if (!v.header) {
    --pending_publishes_;
    auto header = schema::DecodeHeader(v.envelope.header);
    base::LogWarn("publish_refused",
                  {{"agency", v.agency},
                   {"event", EventIdText(header ? header->event_id : base::Bytes())},
                   {"code", v.header.error().code}});
    SendAck(v.peer, header ? header->event_id : base::Bytes(), schema::AckStatus::kFatal, 0,
            &v.header.error(), false, v.received_us);
    return;
  }
  RELAIS_CRASH_POINT("after_verify");
  Admit(std::move(v));
}

void Broker::HandleCommitted(Committed& c, int64_t now_us) {
  if (c.emission) {
    AfterCommit(c, now_us);
    return;
  }
  if (c.stream_seq != 0) {
    HandleIngestCommitted(c, now_us);
    return;
  }
  --pending_publishes_;
  if (!c.result) {
    AfterCommit(c, now_us);
    const base::Error& e = c.result.error();
    if (e.kind == base::ErrorKind::kFailStop) {
      journal_failed_ = true;
      metrics_.healthy.store(false);
      base::LogError("journal_failed", {{"code", e.code}});
    }
    auto status = e.kind == base::ErrorKind::kRetryLater ? schema::AckStatus::kTransient
                                                         : schema::AckStatus::kFatal;
    SendAck(c.peer, c.header.event_id, status, 0, &e, false, c.received_us);
    return;
  }
  RELAIS_CRASH_POINT("after_commit_before_ack");
  const Appended& a = *c.result;
  // The case engine and the deliveries move before the ack: once the emitter holds the ack of a
  // consent withdrawal, no body of that case is delivered any more.
  AfterCommit(c, now_us);
  SendAck(c.peer, c.header.event_id, schema::AckStatus::kOk, a.seq, nullptr, a.duplicate,
          c.received_us);
  if (a.duplicate) return;
  BrokerMetrics::PublishStages& stages = metrics_.publish_stages;
  stages.verify.Observe(c.verified_us - c.received_us);
  stages.admit.Observe(c.handed_us - c.verified_us);
  stages.journal.Observe(c.durable_us - c.handed_us);
  stages.ack.Observe(base::MonotonicMicros() - c.durable_us);
  metrics_.journal_head_seq.store(a.seq);
  base::LogInfo("event_journaled",
                {{"seq", a.seq},
                 {"event", EventIdText(c.header.event_id)},
                 {"kind", schema::EventKindName(c.header.kind)},
                 {"emitter", c.header.emitter},
                 {"recipients", static_cast<uint64_t>(c.header.recipients.size())}});
}

void Broker::HandleSubscribe(const std::string& peer, const std::string& agency,
                             const schema::Subscribe& subscribe, int64_t now_us) {
  auto registry = registry_.Current();
  const schema::Agency* a = registry->Find(agency);
  if (a == nullptr || a->revoked || !a->may_receive) {
    SendError(peer, "not_a_receiver", "agency '" + agency + "' may not receive events");
    return;
  }
  (void)delivery_.Subscribe(agency, peer, subscribe, now_us);
  base::LogInfo("subscribed", {{"agency", agency}, {"credit", subscribe.credit}});
}

void Broker::HandleAdmin(const std::string& peer, const std::string& agency,
                         const schema::AdminRequest& request) {
  if (request.op == schema::AdminRequest::Op::kCaseReceipt) {
    HandleCaseReceipt(peer, agency, request);
    return;
  }
  schema::AdminReply reply;
  reply.request_id = request.request_id;
  if (agency != options_.broker_agency) {
    reply.code = "not_authorised";
    reply.message = "operator requests are accepted only with the broker's own key";
    SendFrame(peer, reply);
    return;
  }
  reply.ok = true;
  switch (request.op) {
    case schema::AdminRequest::Op::kReloadRegistry: {
      auto revoked = ReloadRegistry();
      if (!revoked) {
        reply.ok = false;
        reply.code = revoked.error().code;
        reply.message = revoked.error().message;
      } else {
        reply.message = "registry serial " + std::to_string(registry_.Current()->registry.serial);
        for (const auto& id : *revoked) reply.lines.push_back("revoked " + id);
      }
      break;
    }
    case schema::AdminRequest::Op::kListDeadLetters: {
      auto letters = store_.DeadLetters();
      if (!letters) {
        reply.ok = false;
        reply.code = letters.error().code;
        reply.message = letters.error().message;
        break;
      }
      for (const auto& d : *letters) {
        reply.lines.push_back(std::to_string(d.seq) + " " + d.agency + " " +
                              std::to_string(d.attempts) + " " + d.reason);
      }
      reply.message = std::to_string(letters->size()) + " dead letter(s)";
      break;
    }
    case schema::AdminRequest::Op::kCaseReceipt:
      break;  // answered above
    case schema::AdminRequest::Op::kRequeueDeadLetter: {
      // A dead letter of a withdrawn case whose erasure a crash interrupted still has its body
      // until the replay ends and finishes the erasure.
      auto st = recovery_ != nullptr
                    ? base::Result<std::vector<std::string>>(base::RetryLater(
                          "replay_pending", "the start-up replay is running; retry later"))
                    : store_.Requeue(request.seq);
      if (!st) {
        reply.ok = false;
        reply.code = st.error().code;
        reply.message = st.error().message;
      } else {
        reply.message = "seq " + std::to_string(request.seq) + " is pending again";
        for (const auto& a : *st) delivery_.Rescan(a, request.seq);
      }
      break;
    }
  }
  SendFrame(peer, reply);
}

void Broker::HandleCaseReceipt(const std::string& peer, const std::string& agency,
                               const schema::AdminRequest& request) {
  schema::AdminReply reply;
  reply.request_id = request.request_id;
  const std::string& case_ref = request.case_ref;
  if (!(recovery_ != nullptr ? recovery_->Load(case_ref) : engine_.EnsureCase(case_ref))) {
    reply.code = "replay_pending";
    reply.message = "the case could not be read from the journal; retry later";
    SendFrame(peer, reply);
    return;
  }
  // Unknown and foreign cases get the same answer, so the reply says nothing about other
  // agencies' cases.
  if (agency != options_.broker_agency && !engine_.MayReadReceipt(case_ref, agency)) {
    reply.code = "not_authorised";
    reply.message =
        "only the agency that referred the case or recorded its consent may read its "
        "receipt";
    SendFrame(peer, reply);
    return;
  }
  auto rows = store_.Disclosures(case_ref);
  if (!rows) {
    reply.code = rows.error().code;
    reply.message = rows.error().message;
    SendFrame(peer, reply);
    return;
  }
  uint64_t last_seq = 0;
  size_t entries = 0;
  for (const auto& r : *rows) {
    if (r.seq != last_seq) {
      last_seq = r.seq;
      ++entries;
      reply.lines.push_back("entry\t" + std::to_string(r.seq) + "\t" +
                            schema::EventKindName(r.kind) + "\t" + r.emitter + "\t" +
                            std::to_string(r.received_at));
    }
    if (r.agency.empty()) continue;
    reply.lines.push_back("delivery\t" + std::to_string(r.seq) + "\t" + r.agency + "\t" +
                          journal::DeliveryStateName(r.state) + "\t" + std::to_string(r.acked_at) +
                          "\t" + r.reason);
  }
  reply.ok = true;
  reply.message = std::to_string(entries) + " journal entries";
  base::LogInfo("receipt_read", {{"agency", agency}, {"case", case_ref}});
  SendFrame(peer, reply);
}

base::Result<std::vector<std::string>> Broker::ReloadRegistry() {
  auto outcome = registry_.Reload();
  if (!outcome) {
    base::LogError("registry_reload_refused", {{"code", outcome.error().code}});
    return std::move(outcome).error();
  }
  metrics_.registry_serial.store(outcome->serial);
  base::LogInfo("registry_reloaded", {{"serial", outcome->serial},
                                      {"revoked", static_cast<uint64_t>(outcome->revoked.size())},
                                      {"added", static_cast<uint64_t>(outcome->added.size())}});
  for (const auto& agency : outcome->revoked) {
    std::vector<std::string> peers;
    for (const auto& [peer, s] : sessions_) {
      if (s.agency == agency) peers.push_back(peer);
    }
    for (const auto& peer : peers) {
      SendError(peer, "agency_revoked", "agency '" + agency + "' was revoked in the registry");
      server_.Cut(peer);
      DropSession(peer);
      base::LogWarn("session_cut", {{"agency", agency}, {"reason", "revoked"}});
    }
    delivery_.Drop(agency);
  }
  return outcome->revoked;
}

void Broker::ExpireSessions(int64_t now_us) {
  std::vector<std::string> expired;
  for (const auto& [peer, s] : sessions_) {
    if (now_us - s.last_seen_us > options_.session_timeout_us) expired.push_back(peer);
  }
  for (const auto& peer : expired) {
    base::LogInfo("session_expired", {{"agency", sessions_[peer].agency}});
    DropSession(peer);
  }
}

void Broker::DropSession(const std::string& peer) {
  delivery_.Disconnected(peer);
  sessions_.erase(peer);
}

void Broker::SendAck(const std::string& peer, const base::Bytes& event_id, schema::AckStatus status,
                     uint64_t seq, const base::Error* error, bool duplicate, int64_t received_us) {
  schema::PublishAck ack;
  ack.event_id = event_id;
  ack.seq = seq;
  ack.status = status;
  ack.duplicate = duplicate;
  if (error != nullptr) {
    ack.code = error->code;
    ack.message = error->message;
  }
  switch (status) {
    case schema::AckStatus::kOk:
      (duplicate ? metrics_.publish_duplicate : metrics_.publish_ok).fetch_add(1);
      break;
    case schema::AckStatus::kTransient:
      metrics_.publish_transient.fetch_add(1);
      break;
    case schema::AckStatus::kFatal:
      metrics_.CountFatal(ack.code);
      break;
  }
  metrics_.publish_to_ack.Observe(base::MonotonicMicros() - received_us);
  SendFrame(peer, ack);
}

bool Broker::SendFrame(const std::string& peer, const schema::Frame& frame) {
  return Sent(peer, server_.Send(peer, schema::EncodeFrame(frame)));
}

bool Broker::Sent(const std::string& peer, const base::Status& st) {
  if (!st) {
    if (st.error().code == "peer_gone") sessions_.erase(peer);
    return false;
  }
  return true;
}

void Broker::SendError(const std::string& peer, const std::string& code,
                       const std::string& message) {
  SendFrame(peer, schema::ErrorFrame{code, message});
}

void Broker::UpdateGauges() {
  const DeliveryStats& d = delivery_.Stats();
  metrics_.delivered.store(d.delivered);
  metrics_.redelivered.store(d.redelivered);
  metrics_.acked.store(d.acked);
  metrics_.dead_lettered.store(d.dead_lettered);
  metrics_.in_flight.store(d.in_flight);
  metrics_.sessions.store(sessions_.size());
  if (recovery_ == nullptr) {  // partial while the replay runs
    metrics_.escalations.store(engine_.counts().escalations);
    metrics_.ruptures.store(engine_.counts().ruptures);
    metrics_.escalations_pending.store(engine_.EscalationsPending());
  }
  const CaseEngine::ResidencyCounts residency = engine_.Residency();
  metrics_.cases_resident.store(residency.resident);
  metrics_.cases_read_back.store(residency.loads);
  metrics_.cases_evicted.store(residency.evictions);
  metrics_.zap_accepted.store(server_.Stats().zap_accepted.load());
  metrics_.zap_refused.store(server_.Stats().zap_refused.load());
  metrics_.sources_banned.store(server_.Stats().sources_banned.load());
  metrics_.banned_now.store(server_.Stats().banned_now.load());
}

}  // namespace relais::broker
