// relaisd: the relais broker. Wires the parts together; all logic lives in the broker library.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "base/clock.h"
#include "base/crash_point.h"
#include "base/log.h"
#include "broker/allocator.h"
#include "broker/broker.h"
#include "broker/jetstream/jetstream_case_keys.h"
#include "broker/jetstream/jetstream_stream_log.h"
#include "broker/journal_event_store.h"
#include "broker/metrics_http.h"
#include "broker/registry_store.h"
#include "broker/relaisd_options.h"
#include "broker/replicated_event_store.h"
#include "broker/stream_audit.h"
#include "broker/stream_forwarder.h"
#include "broker/stream_ingester.h"
#include "crypto/at_rest.h"
#include "crypto/identity.h"
#include "crypto/secret.h"
#ifdef RELAIS_CRASH_POINTS
#include "broker/journal/testing/fault_vfs.h"
#endif

using namespace relais;

namespace {

using Config = broker::RelaisdConfig;

#ifdef RELAIS_CRASH_POINTS
constexpr bool kTestHooks = true;
#else
constexpr bool kTestHooks = false;
#endif

// Blocks SIGTERM/SIGINT/SIGHUP in every thread and handles them on a dedicated one.
class SignalThread {
 public:
  SignalThread() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGHUP);
    sigaddset(&set_, SIGUSR1);  // internal: wakes the thread to exit
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  void Start(broker::Broker& b) {
    thread_ = std::thread([this, &b] {
      while (true) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0) continue;
        if (sig == SIGUSR1) return;
        if (sig == SIGHUP) {
          b.RequestReload();
        } else {
          b.RequestStop();
        }
      }
    });
  }
  ~SignalThread() {
    if (thread_.joinable()) {
      pthread_kill(thread_.native_handle(), SIGUSR1);
      thread_.join();
    }
  }

 private:
  sigset_t set_;
  std::thread thread_;
};

// JetStream mode: the stream, the case key bucket, the forwarder and the replicating store.
// Destroyed in reverse order (the store and forwarder before the stream they use).
struct Replication {
  std::unique_ptr<broker::StreamLog> log;
  std::unique_ptr<broker::CaseKeyStore> keys;
  std::unique_ptr<broker::StreamForwarder> forwarder;
  std::unique_ptr<broker::ReplicatedEventStore> store;
  std::unique_ptr<broker::StreamIngester> ingester;
  std::unique_ptr<broker::StreamLog> audit_log;  // <stream>_AUDIT (docs/scale-out.md section 11)
  std::unique_ptr<broker::StreamAuditWriter> audit;
};

std::vector<std::string> SplitUrls(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

base::Status StartReplication(const Config& c, broker::EventStore& local,
                              broker::BrokerMetrics& metrics, Replication& r) {
  if (c.deployment.empty() || c.instance.empty()) {
    return base::InvalidInput("missing_option", "--stream-url needs --deployment and --instance");
  }
  for (const std::string* token : {&c.deployment, &c.instance, &c.territory}) {
    if (token->empty() || token->size() > 64 ||
        token->find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
            std::string::npos) {
      return base::InvalidInput("bad_option",
                                "--deployment, --instance and --territory take 1 to 64 of "
                                "[A-Za-z0-9_-]");
    }
  }
  jetstream::JetStreamOptions jo;
  jo.urls = SplitUrls(c.stream_url);
  jo.stream = c.stream_name.empty() ? "RELAIS_" + c.deployment : c.stream_name;
  jo.subjects = {"relais." + c.deployment + ".>"};
  jo.replicas = c.stream_replicas;
  const std::filesystem::path secret_path =
      c.stream_secret_file.empty() ? c.journal + ".stream-secret" : c.stream_secret_file;
  if (!std::filesystem::exists(secret_path)) {
    RELAIS_RETURN_IF_ERROR(crypto::CreateAtRestKeyFile(secret_path));
    base::LogWarn("stream_secret_created", {{"file", secret_path.string()}});
  }
  RELAIS_ASSIGN_OR_RETURN(auto secret, crypto::LoadAtRestKeyFile(secret_path));
  RELAIS_ASSIGN_OR_RETURN(auto ingest_secret, crypto::LoadAtRestKeyFile(secret_path));
  RELAIS_ASSIGN_OR_RETURN(r.log, jetstream::OpenJetStreamLog(jo));
  RELAIS_ASSIGN_OR_RETURN(r.keys, jetstream::OpenJetStreamCaseKeys(jo, jo.stream + "_KEYS"));
  broker::ForwarderOptions fo;
  fo.journal = c.journal;
  fo.naming = {c.deployment, c.territory, c.instance};
  RELAIS_ASSIGN_OR_RETURN(r.forwarder, broker::StreamForwarder::Start(fo, *r.log, *r.keys,
                                                                      std::move(secret), &metrics));
  r.store = std::make_unique<broker::ReplicatedEventStore>(local, *r.forwarder, c.stream_ingest);
  if (c.stream_ingest) {
    broker::IngesterOptions io;
    io.journal = c.journal;
    io.naming = fo.naming;
    RELAIS_ASSIGN_OR_RETURN(
        r.ingester,
        broker::StreamIngester::Start(io, *r.log, *r.keys, std::move(ingest_secret), &metrics));
  }
  jetstream::JetStreamOptions ao = jo;
  ao.stream = jo.stream + "_AUDIT";
  ao.subjects = {"relais-audit." + c.deployment};
  RELAIS_ASSIGN_OR_RETURN(r.audit_log, jetstream::OpenJetStreamLog(ao));
  RELAIS_ASSIGN_OR_RETURN(
      r.audit, broker::StreamAuditWriter::Start({.subject = ao.subjects[0], .instance = c.instance},
                                                *r.log, *r.audit_log, &metrics));
  base::LogInfo("stream_replication", {{"stream", jo.stream},
                                       {"replicas", jo.replicas},
                                       {"instance", c.instance},
                                       {"forwarded", r.forwarder->forwarded()}});
  return base::Ok();
}

int Serve(const Config& c) {
  // Before any thread starts, so that every thread inherits the blocked signal mask.
  SignalThread signals;
  base::SystemClock system_clock;
  std::unique_ptr<base::FileClock> file_clock;
  if (!c.test_clock_file.empty()) {
    file_clock = std::make_unique<base::FileClock>(c.test_clock_file, system_clock.NowMs());
    base::LogWarn("test_clock", {{"file", c.test_clock_file}});
  }
  const base::Clock& clock = file_clock ? static_cast<const base::Clock&>(*file_clock)
                                        : static_cast<const base::Clock&>(system_clock);
  broker::CaseEngineOptions engine_options;
  engine_options.max_resident_cases = c.max_resident_cases;
  for (const auto& d : c.deadlines) {
    if (auto st = broker::ParsePolicyOverride(d, engine_options.policies); !st) {
      base::LogError("startup_failed",
                     {{"code", st.error().code}, {"message", st.error().message}});
      return 1;
    }
  }
  auto identity = crypto::LoadIdentity(c.key);
  if (!identity) {
    base::LogError("startup_failed",
                   {{"code", identity.error().code}, {"message", identity.error().message}});
    return 1;
  }
  auto authority = crypto::LoadPublicIdentity(c.authority_pub);
  if (!authority) {
    base::LogError("startup_failed",
                   {{"code", authority.error().code}, {"message", authority.error().message}});
    return 1;
  }
  auto registry = broker::RegistryStore::Load(c.registry, authority->sign_public, clock);
  if (!registry) {
    base::LogError("startup_failed",
                   {{"code", registry.error().code}, {"message", registry.error().message}});
    return 1;
  }
  const std::string& me = identity->pub.agency_id;
  const schema::Agency* self = (*registry)->Current()->Find(me);
  if (self == nullptr || self->kind != schema::AgencyKind::kBroker || self->revoked) {
    base::LogError("startup_failed",
                   {{"code", "not_a_broker"},
                    {"message", "agency '" + me + "' is not a broker in the registry"}});
    return 1;
  }
  broker::JournalStoreOptions jo;
  jo.path = c.journal;
  jo.checkpoint_every = c.checkpoint_every;
  jo.checkpoint_interval_ms = c.checkpoint_interval_s * 1000;
#ifdef RELAIS_CRASH_POINTS
  if (!c.test_fault_file.empty()) {
    journal::testing::RegisterFaultVfs();
    journal::testing::FollowControlFile(c.test_fault_file);
    jo.vfs = journal::testing::kFaultVfsName;
    base::LogWarn("test_fault_file", {{"file", c.test_fault_file}});
  }
#endif
  // A damaged journal page found after start (a read, or the background scrub of a large journal)
  // stops the broker at once rather than serving around it (docs/journal-format.md §1.1).
  jo.on_corruption = [](const base::Error& e) {
    base::LogError("relaisd_failed", {{"code", e.code}, {"message", e.message}});
    std::_Exit(3);
  };
  broker::BrokerMetrics metrics;
  jo.on_batch = [&metrics](const journal::BatchStats& s) {
    auto& m = metrics.journal_batches;
    m.batches.fetch_add(1, std::memory_order_relaxed);
    m.appends.fetch_add(s.appends, std::memory_order_relaxed);
    m.updates.fetch_add(s.updates, std::memory_order_relaxed);
    m.queued.Observe(s.queued_us);
    m.write.Observe(s.write_us);
    m.commit.Observe(s.commit_us);
    m.wal_catchup.Observe(s.wal_catchup_us);
  };
  auto store = broker::OpenJournalEventStore(jo, clock, *identity);
  if (!store) {
    base::LogError("startup_failed",
                   {{"code", store.error().code}, {"message", store.error().message}});
    return 1;
  }
  Replication replication;
  if (!c.stream_url.empty()) {
    if (auto st = StartReplication(c, **store, metrics, replication); !st) {
      base::LogError("startup_failed",
                     {{"code", st.error().code}, {"message", st.error().message}});
      return 1;
    }
  }
  broker::EventStore& event_store = replication.store
                                        ? static_cast<broker::EventStore&>(*replication.store)
                                        : static_cast<broker::EventStore&>(**store);
  transport::ServerOptions so;
  so.endpoint = c.listen;
  so.allow_from = c.allow_from;
  so.ban_connections = std::max(0, c.ban_connections);
  so.ban_ms = int64_t{std::max(1, c.ban_seconds)} * 1000;
  so.curve_public = identity->pub.curve_public;
  so.curve_secret = &identity->curve_secret;
  broker::RegistryStore* reg = registry->get();
  auto server = transport::Server::Create(
      so, [reg](base::ByteView key) { return reg->AgencyForCurveKey(key); });
  if (!server) {
    base::LogError("startup_failed",
                   {{"code", server.error().code}, {"message", server.error().message}});
    return 1;
  }
  std::unique_ptr<broker::MetricsHttp> http;
  if (c.metrics_listen != "off" && !c.metrics_listen.empty()) {
    auto colon = c.metrics_listen.rfind(':');
    std::string host = c.metrics_listen.substr(0, colon);
    int port = colon == std::string::npos ? 9464 : std::atoi(c.metrics_listen.c_str() + colon + 1);
    auto started = broker::MetricsHttp::Start(host, port, metrics);
    if (!started) {
      base::LogError("startup_failed",
                     {{"code", started.error().code}, {"message", started.error().message}});
      return 1;
    }
    http = std::move(started).value();
  }
  broker::WorkerPool verifiers(c.verify_threads);
  broker::BrokerOptions bo;
  bo.broker_agency = me;
  bo.session_timeout_us = c.session_timeout_ms * 1000;
#ifdef RELAIS_CRASH_POINTS
  bo.test_replay_hold_file = c.test_replay_hold_file;
#endif
  bo.max_pending_publishes = c.max_pending;
  bo.delivery.ack_timeout_us = c.ack_timeout_ms * 1000;
  bo.delivery.max_attempts = c.max_attempts;
  bo.delivery.max_credit = c.max_credit;
  broker::CaseEngine engine(engine_options);
  broker::Broker b(bo, **server, **registry, event_store, verifiers, engine, *identity, clock,
                   metrics);
  if (replication.ingester) b.AttachIngester(replication.ingester.get());
  signals.Start(b);
  base::LogInfo("relaisd_ready", {{"agency", me},
                                  {"listen", (*server)->BoundEndpoint()},
                                  {"journal", c.journal},
                                  {"head_seq", (*store)->HeadSeq()},
                                  {"metrics_port", http ? http->Port() : 0},
                                  {"verify_threads", verifiers.Size()},
                                  {"allocator", broker::AllocatorName()}});
  base::Status st = b.Run();
  if (!st) {
    base::LogError("relaisd_failed", {{"code", st.error().code}, {"message", st.error().message}});
    return 3;
  }
  base::LogInfo("relaisd_stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto config = broker::ParseRelaisdOptions(argc, argv, kTestHooks);
  if (!config) {
    std::fprintf(stderr, "relaisd: %s\n(see relaisd --help)\n", config.error().ToString().c_str());
    return 2;
  }
  if (config->help) {
    std::cout << "relaisd: the relais broker.\n\nUsage: relaisd --registry REG --authority-pub "
                 "AUTH.pub --key BROKER.key [options]\n\n"
              << config->help_text
              << "\nSignals: SIGTERM/SIGINT stop gracefully (pending commits are "
                 "acknowledged); SIGHUP reloads the registry.\n";
    return 0;
  }
  base::LogLevel level;
  if (!base::ParseLogLevel(config->log_level, &level)) {
    std::fprintf(stderr, "relaisd: bad_option: --log-level must be debug, info, warn or error\n");
    return 2;
  }
  base::SetLogLevel(level);
#ifdef RELAIS_CRASH_POINTS
  const char* crash_at = std::getenv("RELAIS_CRASH_AT");
  if (auto st = base::ArmCrashPoint(crash_at != nullptr ? crash_at : ""); !st) {
    std::fprintf(stderr, "relaisd: %s\n", st.error().ToString().c_str());
    return 2;
  }
#endif
  crypto::Init();
  return Serve(*config);
}
