// The relais side of relais_bench_e2e: a real relaisd (its SQLite journal under the measured
// directory, CURVE with registry keys) serving a deployment made by the real `relais` CLI, 3
// receiving associations subscribed through the SDK and acking every delivery, P publishers
// ("hospital", SDK SubmitPublish/PollAcks with `window` in flight each) publishing envelopes
// sealed for the 3 recipients before timing starts.
//
// Phases, one broker and one journal: fixed load (fixed_events at fixed_rate), saturation
// (events), and with --backlog B: B events for an offline 4th association (never subscribed),
// then saturation again with them waiting. Then SIGKILL and restart timing, and a graceful stop
// to measure the journal's bytes per event.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <latch>
#include <optional>
#include <thread>
#include <vector>

#include "adapters/sdk/envelope_builder.h"
#include "base/clock.h"
#include "broker/jetstream/jetstream_stream_log.h"
#include "broker/journal/reader.h"
#include "crypto/random.h"
#include "tests/bench/e2e_systems.h"
#include "tests/harness/harness.h"
#include "tests/harness/nats_cluster.h"

namespace relais::bench {
namespace {

using namespace std::chrono_literals;
using testing::ReferralHeader;

constexpr const char* kPublisher = "hospital";
const std::vector<std::string> kReceivers = {"assoc-1", "assoc-2", "assoc-3"};
constexpr const char* kOffline = "assoc-offline";

// Finds an event's index by 8 bytes of a random value of it (the event id's last 8, random in a
// UUIDv7; the signature's first 8), checked against the whole value: a lookup is one probe of an
// open-addressed table and builds no string. The harness's own work is counted with the
// clients' CPU, so it is kept small.
class EventIndex {
 public:
  explicit EventIndex(size_t offset) : offset_(offset) {}
  // Values must stay where they are while the index is used. Call Reserve(n) first.
  void Reserve(size_t n) {
    size_t capacity = 16;
    while (capacity < 2 * n) capacity *= 2;
    slots_.assign(capacity, Slot{});
  }
  void Add(const base::Bytes& value, size_t i) {
    for (size_t at = Tag(value) & (slots_.size() - 1);; at = (at + 1) & (slots_.size() - 1)) {
      if (slots_[at].value == nullptr) {
        slots_[at] = Slot{Tag(value), &value, i};
        return;
      }
    }
  }
  std::optional<size_t> Find(const base::Bytes& value) const {
    if (value.size() < offset_ + 8 || slots_.empty()) return std::nullopt;
    const uint64_t tag = Tag(value);
    for (size_t at = tag & (slots_.size() - 1);; at = (at + 1) & (slots_.size() - 1)) {
      const Slot& slot = slots_[at];
      if (slot.value == nullptr) return std::nullopt;
      if (slot.tag == tag && *slot.value == value) return slot.index;
    }
  }

 private:
  struct Slot {
    uint64_t tag = 0;
    const base::Bytes* value = nullptr;  // empty slot: nullptr
    size_t index = 0;
  };
  uint64_t Tag(const base::Bytes& value) const {
    uint64_t tag = 0;
    if (value.size() >= offset_ + 8) std::memcpy(&tag, value.data() + offset_, 8);
    return tag;
  }
  size_t offset_;
  std::vector<Slot> slots_;
};

struct Shared {
  const LoadSpec* spec = nullptr;
  const testing::Deployment* deployment = nullptr;
  std::string endpoint;
  std::vector<schema::Envelope> envelopes;
  std::vector<base::Bytes> event_ids;
  EventIndex by_event_id{8};   // event ids are 16 bytes
  EventIndex by_signature{0};  // signatures are 64
  Recorder* recorder = nullptr;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> t0{0};
  std::atomic<size_t> errors{0};
  std::atomic<uint64_t> acks{0}, ack_frames{0};  // sent by the subscribers, whole run
};

schema::ReferralBody Body(size_t free_text_bytes, base::TimeMs due) {
  schema::ReferralBody body;
  body.exit_place = "Service de medecine interne";
  body.referrer.name = "Assistante sociale (banc d'essai)";
  body.exit_date = due;
  body.free_text.assign(free_text_bytes, 'x');
  return body;
}

// The free-text length that makes the sealed body `target` bytes (within a few).
size_t CalibrateFreeText(const schema::Registry& registry, const crypto::AgencyIdentity& me,
                         size_t target) {
  base::SystemClock clock;
  size_t text = 0;
  for (int round = 0; round < 3; ++round) {
    schema::Header h = ReferralHeader(kReceivers, clock.NowMs());
    auto env = sdk::BuildEnvelope(h, schema::EventBody(Body(text, h.due_at)), registry, me, clock);
    if (!env) throw std::runtime_error("cannot build envelope: " + env.error().ToString());
    const size_t got = env->body.size();
    if (got == target) break;
    text = got < target ? text + (target - got) : text - std::min(text, got - target);
  }
  return text;
}

// Seals envelopes [begin, end) for `recipients` on `threads` threads.
void Seal(Shared& sh, const schema::Registry& registry, const crypto::AgencyIdentity& me,
          size_t begin, size_t end, const std::vector<std::string>& recipients, size_t text) {
  std::vector<std::thread> threads;
  const size_t n = std::max<size_t>(1, sh.spec->seal_threads);
  for (size_t t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      base::SystemClock clock;
      for (size_t i = begin + t; i < end; i += n) {
        schema::Header h = ReferralHeader(recipients, clock.NowMs());
        h.event_id = crypto::NewEventId(clock.NowMs());
        sh.event_ids[i] = h.event_id;
        auto env =
            sdk::BuildEnvelope(h, schema::EventBody(Body(text, h.due_at)), registry, me, clock);
        if (!env) throw std::runtime_error("cannot build envelope: " + env.error().ToString());
        sh.envelopes[i] = std::move(env).value();
      }
    });
  }
  for (auto& t : threads) t.join();
}

void Publisher(Shared& sh, size_t p, size_t begin, size_t end, double rate, std::latch& connected,
               std::latch& go) {
  const LoadSpec& spec = *sh.spec;
  const crypto::AgencyIdentity me = sh.deployment->Identity(kPublisher);
  auto client = testing::ConnectClient(*sh.deployment, me, sh.endpoint);
  connected.count_down();
  go.wait();
  const int64_t t0 = sh.t0.load();
  // Acks are timed when drained: the publisher waits for its next send inside PollAcks, so
  // that an ack is recorded when it arrives, not after a sleep.
  auto drain = [&](std::chrono::microseconds timeout) {
    for (auto& r : client->PollAcks(timeout)) {
      const std::optional<size_t> i = sh.by_event_id.Find(r.event_id);
      if (!i) continue;
      if (r.outcome) {
        sh.recorder->Acked(*i);
      } else {
        if (sh.errors++ < 5)
          std::fprintf(stderr, "publish: %s\n", r.outcome.error().ToString().c_str());
        sh.recorder->Failed(*i);
      }
    }
  };
  size_t k = 0;
  for (size_t i = begin + p; i < end; i += spec.publishers, ++k) {
    if (rate > 0) {
      const int64_t due = DueAt(t0, i - begin, rate);
      for (int64_t now = base::MonotonicMicros(); now < due; now = base::MonotonicMicros()) {
        drain(std::chrono::microseconds(due - now));
      }
    }
    while (client->PublishesInFlight() >= spec.window) drain(100ms);
    sh.recorder->Submitted(i);
    auto s = client->SubmitPublish(sh.envelopes[i], sdk::DeadlineAfter(spec.phase_timeout_s * 1s));
    if (!s) sh.recorder->Failed(i);
    if (rate > 0 || k % 8 == 0) drain(0ms);
  }
  while (client->PublishesInFlight() > 0) drain(100ms);
}

void Subscriber(Shared& sh, size_t k, std::latch& ready) {
  const crypto::AgencyIdentity me = sh.deployment->Identity(kReceivers[k]);
  auto client = testing::ConnectClient(*sh.deployment, me, sh.endpoint);
  schema::Subscribe subscribe;
  subscribe.resume = schema::Subscribe::Resume::kStoredCursor;
  subscribe.credit = static_cast<uint32_t>(sh.spec->credit);
  auto s = client->Subscribe(subscribe);
  if (!s) std::fprintf(stderr, "subscribe: %s\n", s.error().ToString().c_str());
  ready.count_down();
  while (!sh.stop.load()) {
    auto d = client->Next(50ms);
    if (!d) {
      if (sh.errors++ < 5) std::fprintf(stderr, "next: %s\n", d.error().ToString().c_str());
      continue;
    }
    if (!d->has_value()) continue;
    if (auto i = sh.by_signature.Find((*d)->envelope.signature)) sh.recorder->Delivered(k, *i);
    (void)client->Ack(**d);
    sh.acks.fetch_add(1, std::memory_order_relaxed);
  }
  // At most one more frame leaves when the client closes (an ack still queued): not counted.
  sh.ack_frames.fetch_add(client->stats().ack_frames_sent, std::memory_order_relaxed);
}

PhaseResult RunPhase(Shared& sh, pid_t broker, const std::string& name, size_t begin, size_t end,
                     double rate, bool to_subscribers, SystemResult* out) {
  return TimedPhase(
      *sh.spec, *sh.recorder, broker, sh.t0, {"relais", name, begin, end, rate, to_subscribers},
      [&](size_t p, std::latch& connected, std::latch& go) {
        Publisher(sh, p, begin, end, rate, connected, go);
      },
      out);
}

// SIGKILL, restart on the same journal, time until ready and until a publish is acked again.
void MeasureRestart(Shared& sh, testing::BrokerProcess& broker, size_t probe, SystemResult* out) {
  out->has_restart = true;
  broker.Kill();
  if (sh.spec->restart_journal > out->restart.journal_events) {
    out->restart.journal_events +=
        FillJournal(broker.journal(), sh.deployment->Identity(sh.deployment->broker_id()),
                    kPublisher, kReceivers, sh.spec->body_bytes, sh.spec->restart_journal);
  }
  out->restart.journal_bytes = DirectoryBytes(broker.journal().parent_path().string()) -
                               DirectoryBytes((broker.journal().parent_path() / "keys").string());
  const int64_t t = base::MonotonicMicros();
  broker.Start();
  out->restart.kill_to_ready_s = static_cast<double>(base::MonotonicMicros() - t) / 1e6;
  const crypto::AgencyIdentity me = sh.deployment->Identity(kPublisher);
  // The broker answers connections only once it serves: keep trying (5 s per attempt).
  std::unique_ptr<sdk::Client> client;
  while (client == nullptr) {
    try {
      client = testing::ConnectClient(*sh.deployment, me, broker.endpoint());
    } catch (const std::runtime_error& e) {
      if (base::MonotonicMicros() - t > 600'000'000) throw;
    }
  }
  auto r = client->Publish(sh.envelopes[probe], sdk::DeadlineAfter(60s));
  out->restart.kill_to_first_publish_s = static_cast<double>(base::MonotonicMicros() - t) / 1e6;
  if (!r) std::fprintf(stderr, "publish after restart: %s\n", r.error().ToString().c_str());
  // relaisd serves while it replays the journal; its `recovered ... ms=` line ends the replay.
  const std::string needle = " recovered events=";
  if (broker.process()->WaitForLog(needle, 600s)) {
    out->restart.kill_to_recovered_s = static_cast<double>(base::MonotonicMicros() - t) / 1e6;
    const std::string log = broker.process()->Log();
    size_t line = log.find(needle);
    size_t ms = log.find(" ms=", line);
    if (ms != std::string::npos && ms < log.find('\n', line)) {
      out->restart.replay_ms = std::atoll(log.c_str() + ms + 4);
    }
  }
  out->restart.peak_rss_kib = SampleProcess(broker.process()->pid()).hwm_kib;
}

}  // namespace

// Waits until relaisd's forwarder has every entry of the journal in the stream (its metric
// relais_stream_forwarded_seq; the stream's own last seq also counts acknowledgement records);
// fills the replication fields.
void MeasureCatchUp(const testing::BrokerProcess& broker, SystemResult* out) {
  const int64_t t = base::MonotonicMicros();
  auto reader = journal::JournalReader::Open({broker.journal(), ""});
  auto head = reader ? (*reader)->GetHead() : base::Result<journal::Head>(reader.error());
  if (!head) {
    out->error = "journal: " + head.error().ToString();
    return;
  }
  auto forwarded = [&]() -> uint64_t {
    const std::string metrics = testing::HttpGet(broker.metrics_port(), "/metrics");
    const std::string name = "\nrelais_stream_forwarded_seq ";
    const size_t at = metrics.find(name);
    return at == std::string::npos ? 0
                                   : std::strtoull(metrics.c_str() + at + name.size(), nullptr, 10);
  };
  while (base::MonotonicMicros() - t < 600'000'000) {
    if (forwarded() >= head->seq) {
      out->replicated_entries = head->seq;
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  out->replication_catchup_s = static_cast<double>(base::MonotonicMicros() - t) / 1e6;
}

SystemResult RunRelais(const LoadSpec& spec, int stream_nodes) {
  SystemResult out;
  out.system = stream_nodes == 0 ? "relais" : "relais+r" + std::to_string(stream_nodes);
  out.store_fsynced_per_commit = true;
  testing::TempDir tmp;  // under $TMPDIR, set by main to the measured disk
  testing::Deployment deployment(tmp.path());
  testing::AddHospitalAndAssociations(deployment, kReceivers);
  if (spec.backlog > 0) deployment.Add({kOffline, "association", {"--may-receive"}});
  deployment.Sign();
  auto version = testing::RunCommand({testing::RelaisdBin(), "--version"});
  out.version = version.exit_code == 0 ? version.output.substr(0, version.output.find('\n'))
                                       : "relaisd (this tree)";

  Shared sh;
  sh.spec = &spec;
  sh.deployment = &deployment;
  const size_t fixed_end = spec.fixed_events, sat_end = fixed_end + spec.events;
  const size_t backlog_end = sat_end + spec.backlog;
  const size_t second_end = spec.backlog > 0 ? backlog_end + spec.events : backlog_end;
  const size_t total = second_end + 1;  // + the probe published after the restart
  std::printf("relais: sealing %zu envelopes (%zu-byte sealed bodies)...\n", total,
              spec.body_bytes);
  std::fflush(stdout);
  int64_t t = base::MonotonicMicros();
  {
    const schema::Registry registry = deployment.Registry();
    const crypto::AgencyIdentity me = deployment.Identity(kPublisher);
    const size_t text = CalibrateFreeText(registry, me, spec.body_bytes);
    sh.envelopes.resize(total);
    sh.event_ids.resize(total);
    Seal(sh, registry, me, 0, sat_end, kReceivers, text);
    Seal(sh, registry, me, sat_end, backlog_end, {kOffline}, text);
    Seal(sh, registry, me, backlog_end, total, kReceivers, text);
  }
  out.prepare_s = static_cast<double>(base::MonotonicMicros() - t) / 1e6;
  sh.by_event_id.Reserve(total);
  sh.by_signature.Reserve(total);
  for (size_t i = 0; i < total; ++i) {
    sh.by_event_id.Add(sh.event_ids[i], i);
    sh.by_signature.Add(sh.envelopes[i].signature, i);
  }
  Recorder recorder(total, kReceivers.size());
  sh.recorder = &recorder;

  std::unique_ptr<testing::NatsCluster> cluster;
  std::unique_ptr<broker::StreamLog> stream;
  std::vector<std::string> flags;
  if (stream_nodes > 0) {
    std::filesystem::create_directories(tmp.path() / "nats");
    auto started = testing::NatsCluster::Start(stream_nodes, tmp.path() / "nats");
    if (!started) {
      out.error = started.error().ToString();
      return out;
    }
    cluster = std::move(started).value();
    std::string urls;
    for (const auto& u : cluster->urls()) urls += (urls.empty() ? "" : ",") + u;
    // One instance: nothing of another to ingest (docs/scale-out.md section 12).
    flags = {"--stream-url",         urls, "--deployment",      "bench",
             "--instance",           "r1", "--stream-replicas", std::to_string(stream_nodes),
             "--stream-ingest=false"};
    jetstream::JetStreamOptions jo;
    jo.urls = cluster->urls();
    jo.stream = "RELAIS_bench";
    jo.subjects = {"relais.bench.>"};
    jo.replicas = stream_nodes;
    auto log = jetstream::OpenJetStreamLog(jo);
    if (!log) {
      out.error = log.error().ToString();
      return out;
    }
    stream = std::move(log).value();
  }
  testing::BrokerProcess broker(deployment, flags);
  // Another relaisd to compare builds in one session (e.g. the one before a change).
  if (const char* other = std::getenv("RELAIS_BENCH_RELAISD"); other != nullptr && *other != 0) {
    broker.set_binary(other);
  }
  broker.Start();
  sh.endpoint = broker.endpoint();
  const pid_t pid = broker.process()->pid();
  out.idle_rss_kib = SampleProcess(pid).rss_kib;
  std::latch ready(static_cast<ptrdiff_t>(kReceivers.size()));
  std::vector<std::thread> subscribers;
  for (size_t k = 0; k < kReceivers.size(); ++k) {
    subscribers.emplace_back([&, k] { Subscriber(sh, k, ready); });
  }
  ready.wait();
  if (fixed_end > 0) {
    out.phases.push_back(
        RunPhase(sh, pid, "fixed_load", 0, fixed_end, spec.fixed_rate, true, &out));
  }
  out.phases.push_back(RunPhase(sh, pid, "saturation", fixed_end, sat_end, 0, true, &out));
  if (spec.backlog > 0) {
    out.phases.push_back(RunPhase(sh, pid, "backlog_fill", sat_end, backlog_end, 0, false, &out));
    out.phases.push_back(
        RunPhase(sh, pid, "saturation_with_backlog", backlog_end, second_end, 0, true, &out));
  }
  sh.stop = true;
  for (auto& s : subscribers) s.join();
  out.subscriber_acks = sh.acks.load();
  out.subscriber_ack_frames = sh.ack_frames.load();
  out.peak_rss_kib = SampleProcess(pid).hwm_kib;
  out.failures = recorder.failures();
  out.restart.journal_events = second_end;
  if (stream) MeasureCatchUp(broker, &out);
  if (spec.restart) MeasureRestart(sh, broker, second_end, &out);
  broker.Stop();  // graceful: the WAL is checkpointed into the database file
  // Every event of the journal: those published, the restart's fill and probe.
  const size_t stored = spec.restart ? out.restart.journal_events + 1 : second_end;
  out.store_bytes_per_event = static_cast<double>(DirectoryBytes(tmp.path().string()) -
                                                  DirectoryBytes((tmp.path() / "keys").string())) /
                              static_cast<double>(stored);
  return out;
}

}  // namespace relais::bench
