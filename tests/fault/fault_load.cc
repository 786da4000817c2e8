#include "tests/fault/fault_load.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "adapters/sdk/envelope_builder.h"
#include "crypto/random.h"
#include "schema/codec.h"

namespace relais::testing {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string& RelaisdTestHooksBin() {
  static const std::string bin = RELAISD_TEST_HOOKS_BIN;
  return bin;
}

AgencyFiles FilesOf(const Deployment& deployment, const std::string& agency,
                    const std::string& endpoint) {
  return {deployment.KeyFile(agency), deployment.RegistryFile(), deployment.AuthorityPub(),
          endpoint};
}

namespace {

struct Connected {
  crypto::AgencyIdentity identity;
  schema::Registry registry;
  std::unique_ptr<sdk::Client> client;
};

// Loads the agency's files and connects; throws on failure (a broken set-up, not a finding).
std::unique_ptr<Connected> Connect(const AgencyFiles& files) {
  auto c = std::make_unique<Connected>();
  auto identity = crypto::LoadIdentity(files.key);
  if (!identity) throw std::runtime_error("identity: " + identity.error().ToString());
  c->identity = std::move(identity).value();
  base::SystemClock clock;
  auto registry = sdk::LoadRegistry(files.registry, files.authority_pub, clock.NowMs());
  if (!registry) throw std::runtime_error("registry: " + registry.error().ToString());
  c->registry = std::move(registry).value();
  auto key = sdk::BrokerCurveKey(c->registry, clock.NowMs());
  if (!key) throw std::runtime_error("no broker key: " + key.error().ToString());
  sdk::ClientOptions options;
  options.endpoints = {files.endpoint};
  options.broker_curve_public = *key;
  options.identity = &c->identity;
  options.connect_timeout = 5000ms;
  options.ack_timeout = 2000ms;
  options.close_linger = 500ms;
  // A broker stopped for a few seconds is not dead: keep the session rather than fail over.
  options.silence_timeout = 15000ms;
  auto client = sdk::Client::Connect(options);
  if (!client) throw std::runtime_error("connect: " + client.error().ToString());
  c->client = std::move(client).value();
  return c;
}

schema::Envelope BuildReferral(const Connected& c, const std::vector<std::string>& recipients,
                               const base::Clock& clock, PublisherLog& log, bool* built) {
  schema::Header h = ReferralHeader(recipients, clock.NowMs());
  schema::ReferralBody body;
  body.exit_place = "Service de test";
  body.exit_date = h.due_at;
  auto env = sdk::BuildEnvelope(h, schema::EventBody(body), c.registry, c.identity, clock);
  *built = env.has_value();
  if (!env) {
    log.fatal.push_back("build:" + env.error().code);
    return {};
  }
  return std::move(env).value();
}

}  // namespace

void RunPublisher(const AgencyFiles& files, const PublisherOptions& options,
                  const std::atomic<bool>& stop, PublisherLog& log) {
  auto c = Connect(files);
  sdk::Client& client = *c->client;
  base::SystemClock clock;
  auto locked = [&](auto&& f) {
    if (options.mu == nullptr) return f();
    std::lock_guard lock(*options.mu);
    return f();
  };
  auto collect = [&](std::chrono::milliseconds wait) {
    auto results = client.PollAcks(wait);
    locked([&] {
      for (auto& r : results) {
        if (r.outcome) {
          const std::string hex_id = base::HexEncode(r.event_id);
          log.ok[hex_id] = r.outcome->seq;
          if (options.on_ok) options.on_ok(hex_id, r.outcome->seq);
        } else if (r.outcome.error().code == "publish_timeout") {
          ++log.timeouts;
        } else {
          log.fatal.push_back(r.outcome.error().code);
        }
      }
      log.resends = client.stats().publish_resends;
      log.transient_acks = client.stats().transient_acks;
    });
  };
  while (!stop.load()) {
    if (client.PublishesInFlight() >= options.window) {
      collect(20ms);
      continue;
    }
    bool built = false;
    schema::Envelope env =
        locked([&] { return BuildReferral(*c, options.recipients, clock, log, &built); });
    if (!built) return;
    if (client.SubmitPublish(env, sdk::DeadlineAfter(options.publish_deadline))) {
      locked([&] { ++log.submitted; });
    }
    collect(0ms);
  }
  auto end = Clock::now() + options.drain;
  while (client.PublishesInFlight() > 0 && Clock::now() < end) collect(50ms);
  locked([&] {
    log.resends = client.stats().publish_resends;
    log.transient_acks = client.stats().transient_acks;
  });
}

void RunSubscriber(const AgencyFiles& files, const std::string& agency,
                   const std::atomic<bool>& stop, std::mutex& mu,
                   const std::function<void(uint64_t seq)>& on_seq,
                   std::vector<std::string>& errors) {
  auto c = Connect(files);
  sdk::Client& client = *c->client;
  schema::Subscribe sub;
  sub.credit = 500;
  if (!client.Subscribe(sub)) {
    std::lock_guard lock(mu);
    errors.push_back(agency + ": subscribe failed");
    return;
  }
  while (!stop.load()) {
    auto d = client.Next(50ms);
    if (!d) {
      // A broker killed or stopped mid-stream is not an error for the subscriber: the SDK
      // reconnects and resubscribes.
      if (sdk::IsRefusal(d.error())) {
        std::lock_guard lock(mu);
        errors.push_back(agency + ": " + d.error().code);
        return;
      }
      continue;
    }
    if (!*d) continue;
    (void)client.Ack(**d);  // may be lost in a crash: the event is then redelivered
    std::lock_guard lock(mu);
    on_seq((*d)->seq);
  }
}

LoadRun::LoadRun(const Deployment& deployment, const std::string& endpoint,
                 std::vector<std::string> recipients)
    : recipients_(std::move(recipients)) {
  options_.recipients = recipients_;
  options_.mu = &mu_;
  for (const auto& agency : recipients_) seen_[agency];  // no map insertion once threads run
  publisher_ = std::thread([this, files = FilesOf(deployment, "hospital", endpoint)] {
    RunPublisher(files, options_, stop_publishing_, log_);
  });
  for (const auto& agency : recipients_) {
    subscribers_.emplace_back([this, agency, files = FilesOf(deployment, agency, endpoint)] {
      RunSubscriber(
          files, agency, stop_receiving_, mu_,
          [this, agency](uint64_t seq) { seen_[agency].insert(seq); }, errors_);
    });
  }
}

LoadRun::~LoadRun() {
  StopPublishing();
  StopReceiving();
}

size_t LoadRun::Acked() {
  std::lock_guard lock(mu_);
  return log_.ok.size();
}

bool LoadRun::WaitAcked(size_t n, std::chrono::milliseconds timeout) {
  auto end = Clock::now() + timeout;
  while (Acked() < n) {
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

void LoadRun::StopPublishing() {
  stop_publishing_ = true;
  if (publisher_.joinable()) publisher_.join();
}

size_t LoadRun::CatchUp(const std::set<uint64_t>& referral_seqs,
                        std::chrono::milliseconds timeout) {
  auto missing = [&] {
    std::lock_guard lock(mu_);
    return MissingDeliveries(referral_seqs, seen_, recipients_);
  };
  auto end = Clock::now() + timeout;
  while (missing() > 0 && Clock::now() < end) std::this_thread::sleep_for(20ms);
  return missing();
}

void LoadRun::StopReceiving() {
  stop_receiving_ = true;
  for (auto& t : subscribers_) {
    if (t.joinable()) t.join();
  }
}

uint64_t Percentile(std::vector<uint64_t> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

JournalScan ScanJournal(journal::JournalReader& reader) {
  JournalScan scan;
  std::set<std::string> event_ids;
  uint64_t last_seq = 0;
  auto st = reader.ForEachFrom(
      1,
      [&](const journal::StoredEntry& e) {
        ++scan.rows;
        scan.gap |= e.seq != last_seq + 1;
        last_seq = e.seq;
        event_ids.insert(base::HexEncode(e.event_id));
        if (e.kind == schema::EventKind::kReferral) scan.referral_seqs.insert(e.seq);
        return true;
      },
      journal::ReadScope::kMetadata);
  EXPECT_TRUE(st) << st.error().ToString();
  scan.unique_event_ids = event_ids.size();
  return scan;
}

void ExpectAckedAreJournaled(journal::JournalReader& reader, const PublisherLog& log) {
  size_t lost = 0;
  size_t wrong_seq = 0;
  for (const auto& [hex_id, seq] : log.ok) {
    auto id = base::HexDecode(hex_id);
    ASSERT_TRUE(id);
    auto found = reader.FindEvent(*id);
    ASSERT_TRUE(found) << found.error().ToString();
    if (!found->has_value()) {
      ++lost;
    } else if ((*found)->seq != seq) {
      ++wrong_seq;
    }
  }
  EXPECT_EQ(lost, 0u) << "publishes acked ok but not journaled";
  EXPECT_EQ(wrong_seq, 0u) << "acks naming another seq than the journal's";
}

void ExpectJournalSound(journal::JournalReader& reader, const JournalScan& scan) {
  EXPECT_FALSE(scan.gap) << "a seq gap in the journal";
  EXPECT_EQ(scan.unique_event_ids, scan.rows) << "an event id is journaled twice";
  auto chain = reader.VerifyChain();
  ASSERT_TRUE(chain) << chain.error().ToString();
  EXPECT_FALSE(chain->fault.has_value()) << chain->ToStatus().error().ToString();
  EXPECT_EQ(chain->rows, scan.rows);
  auto integrity = reader.IntegrityCheck();
  EXPECT_TRUE(integrity) << integrity.error().ToString();
}

size_t MissingDeliveries(const std::set<uint64_t>& referral_seqs,
                         const std::map<std::string, std::set<uint64_t>>& seen,
                         const std::vector<std::string>& recipients) {
  size_t n = 0;
  for (const auto& agency : recipients) {
    auto it = seen.find(agency);
    for (uint64_t s : referral_seqs) {
      n += it == seen.end() || it->second.count(s) == 0 ? 1 : 0;
    }
  }
  return n;
}

}  // namespace relais::testing
