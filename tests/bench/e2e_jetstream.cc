// The JetStream baseline of relais_bench_e2e: Debian's nats-server with -js and a temporary
// store directory on a free loopback port, one stream (file storage, R1), P publishers using
// cnats' asynchronous publish with at most `window` unacknowledged each, and one durable pull
// consumer per subscriber acking every message. The only file that includes nats.h.
//
// Note for the reader of the figures: nats-server 2.9 writes messages to its files without
// fsync on each (it syncs every 2 minutes by default; `sync_interval` only exists from 2.10),
// whereas relais acknowledges a publish only after the group commit's fsync.
#include <nats/nats.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <latch>
#include <thread>

#include "base/clock.h"
#include "crypto/random.h"
#include "tests/bench/e2e_systems.h"
#include "tests/harness/harness.h"
#include "tests/harness/nats_cluster.h"

namespace relais::bench {
namespace {

constexpr const char* kStream = "BENCH";
constexpr const char* kSubject = "bench.e";

struct Shared {
  const LoadSpec* spec = nullptr;
  std::string url;
  std::vector<std::string> payloads;  // the first 8 bytes are the event's index
  Recorder* recorder = nullptr;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> t0{0};
};

size_t IndexOf(const natsMsg* msg) {
  uint64_t i = 0;
  if (natsMsg_GetDataLength(msg) >= 8) std::memcpy(&i, natsMsg_GetData(msg), 8);
  return static_cast<size_t>(i);
}

void OnPublishAck(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr*, void* closure) {
  auto* recorder = static_cast<Recorder*>(closure);
  const size_t i = IndexOf(msg);
  if (i < recorder->events()) {
    if (pa != nullptr) {
      recorder->Acked(i);
    } else {
      recorder->Failed(i);
    }
  }
  natsMsg_Destroy(msg);
}

bool Check(natsStatus s, const char* what, std::string* error) {
  if (s == NATS_OK) return true;
  *error = std::string(what) + ": " + natsStatus_GetText(s);
  return false;
}

void Publisher(Shared& sh, size_t p, size_t begin, size_t end, double rate, std::latch& connected,
               std::latch& go) {
  const LoadSpec& spec = *sh.spec;
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsOptions o;
  jsOptions_Init(&o);
  o.PublishAsync.MaxPending = static_cast<int64_t>(spec.window);
  o.PublishAsync.AckHandler = OnPublishAck;
  o.PublishAsync.AckHandlerClosure = sh.recorder;
  o.PublishAsync.StallWait = 60'000;
  std::string error;
  bool ok = Check(natsConnection_ConnectTo(&nc, sh.url.c_str()), "connect", &error) &&
            Check(natsConnection_JetStream(&js, nc, &o), "jetstream", &error);
  connected.count_down();
  go.wait();
  const int64_t t0 = sh.t0.load();
  for (size_t i = begin + p; ok && i < end; i += spec.publishers) {
    if (rate > 0) {
      const int64_t due = DueAt(t0, i - begin, rate);
      const int64_t now = base::MonotonicMicros();
      if (due > now) std::this_thread::sleep_for(std::chrono::microseconds(due - now));
    }
    sh.recorder->Submitted(i);
    const std::string& data = sh.payloads[i];
    if (js_PublishAsync(js, kSubject, data.data(), static_cast<int>(data.size()), nullptr) !=
        NATS_OK) {
      sh.recorder->Failed(i);
    }
  }
  if (ok) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 1000LL * spec.phase_timeout_s;
    js_PublishAsyncComplete(js, &po);
  } else {
    std::fprintf(stderr, "jetstream publisher: %s\n", error.c_str());
    for (size_t i = begin + p; i < end; i += spec.publishers) sh.recorder->Failed(i);
  }
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
}

void Consumer(Shared& sh, size_t k, std::latch& ready) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  natsSubscription* sub = nullptr;
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Config.AckPolicy = js_AckExplicit;
  so.Config.MaxAckPending = static_cast<int64_t>(4 * sh.spec->credit);
  jsErrCode jerr{};
  std::string error;
  const std::string durable = "bench-consumer-" + std::to_string(k);
  bool ok = Check(natsConnection_ConnectTo(&nc, sh.url.c_str()), "connect", &error) &&
            Check(natsConnection_JetStream(&js, nc, nullptr), "jetstream", &error) &&
            Check(js_PullSubscribe(&sub, js, "bench.>", durable.c_str(), nullptr, &so, &jerr),
                  "pull subscribe", &error);
  if (!ok) std::fprintf(stderr, "jetstream consumer: %s\n", error.c_str());
  ready.count_down();
  const int batch = static_cast<int>(sh.spec->credit);
  while (ok && !sh.stop.load()) {
    natsMsgList list{};
    natsStatus s = natsSubscription_Fetch(&list, sub, batch, 100, &jerr);
    if (s != NATS_OK && s != NATS_TIMEOUT) {
      std::fprintf(stderr, "jetstream fetch: %s\n", natsStatus_GetText(s));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (int m = 0; m < list.Count; ++m) {
      const size_t i = IndexOf(list.Msgs[m]);
      if (i < sh.recorder->events()) sh.recorder->Delivered(k, i);
      natsMsg_Ack(list.Msgs[m], nullptr);
    }
    natsMsgList_Destroy(&list);
  }
  if (sub != nullptr) natsSubscription_Destroy(sub);
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
}

bool CreateStream(const std::string& url, std::string* error) {
  natsConnection* nc = nullptr;
  jsCtx* js = nullptr;
  jsStreamInfo* si = nullptr;
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  const char* subjects[] = {"bench.>"};
  sc.Name = kStream;
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.Replicas = 1;
  jsErrCode jerr{};
  bool ok = Check(natsConnection_ConnectTo(&nc, url.c_str()), "connect", error) &&
            Check(natsConnection_JetStream(&js, nc, nullptr), "jetstream", error) &&
            Check(js_AddStream(&si, js, &sc, nullptr, &jerr), "add stream", error);
  if (si != nullptr) jsStreamInfo_Destroy(si);
  if (js != nullptr) jsCtx_Destroy(js);
  if (nc != nullptr) natsConnection_Destroy(nc);
  return ok;
}

// One phase of [begin, end): P publisher threads, paced at `rate` (0: as fast as they can).
PhaseResult RunPhase(Shared& sh, pid_t server, const std::string& name, size_t begin, size_t end,
                     double rate, SystemResult* out) {
  return TimedPhase(
      *sh.spec, *sh.recorder, server, sh.t0, {"jetstream", name, begin, end, rate, true},
      [&](size_t p, std::latch& connected, std::latch& go) {
        Publisher(sh, p, begin, end, rate, connected, go);
      },
      out);
}

}  // namespace

SystemResult RunJetStream(const LoadSpec& spec) {
  SystemResult out;
  out.system = "jetstream";
  // The library's global state, set up once here rather than lazily by concurrent threads.
  if (natsStatus s = nats_Open(-1); s != NATS_OK) {
    out.error = std::string("nats_Open: ") + natsStatus_GetText(s);
    return out;
  }
  out.store_fsynced_per_commit = false;
  testing::TempDir tmp;  // under $TMPDIR, set by main to the measured disk
  auto cluster = testing::NatsCluster::Start(1, tmp.path());
  if (!cluster) {
    out.error = "nats-server did not start: " + cluster.error().ToString();
    return out;
  }
  auto version = testing::RunCommand({testing::NatsServerBin(), "--version"});
  out.version = version.output.substr(0, version.output.find('\n'));
  const pid_t pid = (*cluster)->pid(0);
  const std::filesystem::path store = (*cluster)->store_dir(0);
  Shared sh;
  sh.spec = &spec;
  sh.url = (*cluster)->urls()[0];
  if (!CreateStream(sh.url, &out.error)) return out;

  const size_t total = spec.fixed_events + spec.events;
  int64_t t = base::MonotonicMicros();
  sh.payloads.resize(total);
  for (size_t i = 0; i < total; ++i) {
    base::Bytes random = crypto::RandomBytes(spec.body_bytes);
    sh.payloads[i].assign(random.begin(), random.end());
    const uint64_t index = i;
    std::memcpy(sh.payloads[i].data(), &index, 8);
  }
  out.prepare_s = static_cast<double>(base::MonotonicMicros() - t) / 1e6;
  Recorder recorder(total, spec.subscribers);
  sh.recorder = &recorder;

  out.idle_rss_kib = SampleProcess(pid).rss_kib;
  std::latch ready(static_cast<ptrdiff_t>(spec.subscribers));
  std::vector<std::thread> consumers;
  for (size_t k = 0; k < spec.subscribers; ++k) {
    consumers.emplace_back([&, k] { Consumer(sh, k, ready); });
  }
  ready.wait();
  if (spec.fixed_events > 0) {
    out.phases.push_back(
        RunPhase(sh, pid, "fixed_load", 0, spec.fixed_events, spec.fixed_rate, &out));
  }
  out.phases.push_back(RunPhase(sh, pid, "saturation", spec.fixed_events, total, 0, &out));
  sh.stop = true;
  for (auto& c : consumers) c.join();
  out.peak_rss_kib = SampleProcess(pid).hwm_kib;
  out.failures = recorder.failures();
  (*cluster)->Stop(0);
  out.store_bytes_per_event =
      static_cast<double>(DirectoryBytes(store.string())) / static_cast<double>(total);
  return out;
}

}  // namespace relais::bench
