// Corruption (issue 11, durability): random bit flips and truncations of a journal written by a
// real relaisd under real traffic are detected when relaisd starts, and relaisd refuses to serve.
//
// The journal is built once: referrals published by a hospital and received and acked by three
// associations, then a clean stop (database checkpointed, no WAL); then more traffic and a SIGKILL
// (database plus WAL, as a crash leaves them). Each trial copies one of the two, damages the copy
// and starts relaisd on it. A trial is detected when relaisd exits non-zero with
// `journal_corrupt` in its log without ever logging `relaisd_ready`. Five kinds of damage, in turn:
//   1. one bit flipped anywhere in the checkpointed database file;
//   2. the checkpointed database file cut at a random length (1 byte to size - 1; half of the cuts
//      at a page boundary);
//   3. one bit flipped in the committed part of the WAL (header and frames up to the last commit
//      frame: what SQLite's recovery would use; stale frames of earlier WAL generations and an
//      uncommitted tail are never read as data);
//   4. one bit flipped anywhere in the database file, WAL kept;
//   5. the database file cut at a random length, WAL kept. A cut at a page boundary that removes
//      only pages the WAL holds committed copies of loses nothing (the start-up checkpoint writes
//      them back); relaisd may then serve, and the test checks that what it served is the
//      complete journal (every row, the chain, every page's checksum). Such trials are counted
//      apart, as "harmless", not as detected.
// Controls: relaisd starts and serves on an undamaged copy of each.
//
// RELAIS_CORRUPTION_TRIALS (default 50; the `long` variant 1,000), RELAIS_CORRUPTION_SEED
// (default random, printed so that a failure can be replayed).
#include <gtest/gtest.h>
#include <signal.h>

#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "broker/journal/integrity.h"
#include "broker/journal/reader.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::vector<std::string> kRecipients = {"assoc-a", "assoc-b", "assoc-c"};

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const fs::path& p, const std::string& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// `events` referrals to the three associations, each received and acked by all three.
void Traffic(const Deployment& deployment, const std::string& endpoint, int events) {
  auto hospital_id = deployment.Identity("hospital");
  auto hospital = ConnectClient(deployment, hospital_id, endpoint);
  std::vector<crypto::AgencyIdentity> ids;
  std::vector<std::unique_ptr<sdk::Client>> subs;
  for (const auto& agency : kRecipients) ids.push_back(deployment.Identity(agency));
  for (const auto& id : ids) {
    subs.push_back(ConnectClient(deployment, id, endpoint));
    schema::Subscribe s;
    s.credit = 500;
    ASSERT_TRUE(subs.back()->Subscribe(s));
  }
  int acked = 0;
  auto collect = [&](std::chrono::milliseconds wait) {
    for (auto& r : hospital->PollAcks(wait)) {
      ASSERT_TRUE(r.outcome) << r.outcome.error().ToString();
      ++acked;
    }
  };
  for (int i = 0; i < events; ++i) {
    while (hospital->PublishesInFlight() >= 32) collect(20ms);
    ASSERT_TRUE(hospital->SubmitPublish(MakeReferral(deployment, hospital_id, kRecipients),
                                        sdk::DeadlineAfter(30s)));
  }
  auto publish_end = std::chrono::steady_clock::now() + 30s;
  while (acked < events && std::chrono::steady_clock::now() < publish_end) collect(50ms);
  ASSERT_EQ(acked, events);
  for (auto& sub : subs) {
    int got = 0;
    auto end = std::chrono::steady_clock::now() + 30s;
    while (got < events && std::chrono::steady_clock::now() < end) {
      auto d = sub->Next(50ms);
      if (!d || !*d) continue;
      ASSERT_TRUE(sub->Ack(**d));
      ++got;
    }
    EXPECT_GE(got, events) << "deliveries missing before the journal was damaged";
  }
}

struct Outcome {
  bool detected = false;
  bool served = false;
  std::string summary;  // exit code and the refusal code seen, for the failure message
  std::string reason;   // the refusal message with numbers replaced by '#'
};

// The message of relaisd's refusal, with its numbers masked so that refusals can be tallied.
std::string RefusalReason(const std::string& log) {
  const std::string key = "message=\"";
  size_t at = log.find("journal_corrupt");
  if (at == std::string::npos) return "";
  at = log.find(key, at);
  if (at == std::string::npos) return "";
  at += key.size();
  std::string reason;
  for (size_t i = at; i < log.size() && log[i] != '"' && log[i] != '\n'; ++i) {
    if (std::isdigit(static_cast<unsigned char>(log[i]))) {
      if (reason.empty() || reason.back() != '#') reason += '#';
    } else {
      reason += log[i];
    }
  }
  return reason;
}

// Starts relaisd on `journal` and waits for it to refuse (exit) or to become ready.
Outcome StartOn(const Deployment& deployment, const fs::path& journal, const fs::path& log) {
  std::vector<std::string> argv = {RelaisdBin(),
                                   "--listen",
                                   "tcp://127.0.0.1:" + std::to_string(FreePort()),
                                   "--journal",
                                   journal.string(),
                                   "--registry",
                                   deployment.RegistryFile().string(),
                                   "--authority-pub",
                                   deployment.AuthorityPub().string(),
                                   "--key",
                                   deployment.KeyFile(deployment.broker_id()).string(),
                                   "--metrics-listen",
                                   "off"};
  auto p = Process::Start(argv, log);
  if (!p) throw std::runtime_error("cannot start relaisd");
  // Until it exits or says it serves (bounded; a refusal takes tens of milliseconds).
  std::optional<int> code;
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (!code && std::chrono::steady_clock::now() < end &&
         (*p)->Log().find("relaisd_ready") == std::string::npos) {
    code = (*p)->Wait(10ms);
  }
  const std::string text = (*p)->Log();
  Outcome o;
  const bool ready = text.find("relaisd_ready") != std::string::npos;
  o.served = ready;
  if (ready) {  // a clean stop, so that the journal it served can be inspected
    (*p)->Signal(SIGTERM);
    (*p)->Wait(20s);
  }
  const bool corrupt = text.find("journal_corrupt") != std::string::npos;
  o.detected = code.has_value() && *code != 0 && corrupt && !ready;
  o.reason = RefusalReason(text);
  o.summary = (code ? "exit " + std::to_string(*code) : std::string("still running")) +
              (ready ? ", served" : "") + (corrupt ? ", journal_corrupt" : ", no journal_corrupt");
  if (!o.detected) o.summary += "; log: " + text.substr(0, 600);
  return o;
}

struct Base {
  std::string db;
  std::string wal;  // empty: checkpointed, no WAL
  int64_t wal_committed_bytes = 0;
  std::set<uint64_t> wal_pages;  // page numbers with a committed frame in the WAL
  uint64_t rows = 0;
};

uint32_t Be32(const std::string& s, size_t at) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data() + at);
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}

// The pages of the committed WAL frames (page size from the WAL header).
std::set<uint64_t> WalPages(const std::string& wal, int64_t committed_bytes) {
  std::set<uint64_t> pages;
  const int64_t frame = 24 + Be32(wal, 8);
  for (int64_t off = 32; off + frame <= committed_bytes; off += frame) {
    pages.insert(Be32(wal, static_cast<size_t>(off)));
  }
  return pages;
}

// A cut of the database that loses nothing: every page it removed has a committed version in the
// WAL, which the start-up checkpoint writes back. Then the journal relaisd served must be the
// complete one: every row, the chain verified, every page's checksum.
bool ServedComplete(const fs::path& journal, const Base& base, uint64_t cut) {
  for (uint64_t pgno = cut / 4096 + 1; pgno <= base.db.size() / 4096; ++pgno) {
    if (base.wal_pages.count(pgno) == 0) return false;
  }
  auto reader = journal::JournalReader::Open({journal, ""});
  if (!reader) return false;
  auto chain = (*reader)->VerifyChain();
  if (!chain || chain->fault.has_value() || chain->rows != base.rows) return false;
  return journal::internal::ScrubPages(journal.string(), nullptr, 0).has_value();
}

TEST(Corruption, BitFlipsAndTruncationsAreDetectedOnStart) {
  const int trials = EnvInt("RELAIS_CORRUPTION_TRIALS", 50);
  const auto seed = static_cast<uint32_t>(
      EnvInt("RELAIS_CORRUPTION_SEED", static_cast<int>(std::random_device{}())));
  std::printf("corruption: %d trials, RELAIS_CORRUPTION_SEED=%u\n", trials, seed);
  std::mt19937_64 rng(seed);

  crypto::Init();
  TempDir dir;
  Deployment deployment(dir.path());
  AddHospitalAndAssociations(deployment, kRecipients);
  deployment.Sign();
  Base clean, crashed;
  {
    BrokerProcess broker(deployment);
    broker.Start();
    Traffic(deployment, broker.endpoint(), 150);
    broker.Stop();
    ASSERT_FALSE(fs::exists(broker.journal().string() + "-wal")) << "a clean stop leaves no WAL";
    clean.db = ReadAll(broker.journal());
    broker.Start();
    Traffic(deployment, broker.endpoint(), 60);
    broker.Kill();
    crashed.db = ReadAll(broker.journal());
    crashed.wal = ReadAll(broker.journal().string() + "-wal");
    auto wal = journal::internal::CheckWal(broker.journal().string() + "-wal");
    ASSERT_TRUE(wal) << wal.error().ToString();
    ASSERT_GT(wal->committed_frames, 0) << "the killed broker left no committed WAL frames";
    crashed.wal_committed_bytes = wal->committed_bytes;
    crashed.wal_pages = WalPages(crashed.wal, wal->committed_bytes);
    crashed.rows = 210;
  }
  std::printf(
      "corruption: database %zu bytes (checkpointed); %zu bytes + WAL %zu bytes, "
      "%lld committed (after SIGKILL)\n",
      clean.db.size(), crashed.db.size(), crashed.wal.size(),
      static_cast<long long>(crashed.wal_committed_bytes));

  const fs::path trial_dir = dir.path() / "trial";
  auto prepare = [&](const std::string& db, const std::string& wal) {
    fs::remove_all(trial_dir);
    fs::create_directories(trial_dir);
    WriteAll(trial_dir / "journal.db", db);
    if (!wal.empty()) WriteAll(trial_dir / "journal.db-wal", wal);
    return trial_dir / "journal.db";
  };
  // Half the cuts at a page boundary (as a filesystem would cut), half at any byte; never to 0
  // bytes (an empty file is a new journal, see docs/journal-format.md §1.2).
  auto cut = [&](const std::string& data) -> uint64_t {
    const uint64_t pages = data.size() / 4096;
    if (rng() % 2 == 0 && pages > 1) return (1 + rng() % (pages - 1)) * 4096;
    return 1 + rng() % (data.size() - 1);
  };
  auto flip = [&](std::string data, uint64_t limit_bytes, uint64_t* bit) {
    *bit = rng() % (limit_bytes * 8);
    data[*bit / 8] = static_cast<char>(data[*bit / 8] ^ (1 << (*bit % 8)));
    return data;
  };

  // Controls: undamaged copies are served.
  for (const Base* base : {&clean, &crashed}) {
    Outcome o = StartOn(deployment, prepare(base->db, base->wal), dir.path() / "control.log");
    EXPECT_FALSE(o.detected) << "an undamaged copy was refused: " << o.summary;
    EXPECT_NE(ReadAll(dir.path() / "control.log").find("relaisd_ready"), std::string::npos);
  }

  const std::array<const char*, 5> kinds = {"bit flip, database", "truncation, database",
                                            "bit flip, WAL", "bit flip, database with WAL",
                                            "truncation, database with WAL"};
  std::array<int, 5> tried{}, detected{};
  int harmless = 0;
  std::vector<std::string> missed;
  std::map<std::string, int> reasons;
  for (int t = 0; t < trials; ++t) {
    const int kind = t % 5;
    uint64_t where = 0;
    fs::path journal;
    switch (kind) {
      case 0:
        journal = prepare(flip(clean.db, clean.db.size(), &where), "");
        break;
      case 1:
        where = cut(clean.db);
        journal = prepare(clean.db.substr(0, where), "");
        break;
      case 2:
        journal =
            prepare(crashed.db,
                    flip(crashed.wal, static_cast<uint64_t>(crashed.wal_committed_bytes), &where));
        break;
      case 3:
        journal = prepare(flip(crashed.db, crashed.db.size(), &where), crashed.wal);
        break;
      default:
        where = cut(crashed.db);
        journal = prepare(crashed.db.substr(0, where), crashed.wal);
        break;
    }
    Outcome o = StartOn(deployment, journal, trial_dir / "relaisd.log");
    ++tried[kind];
    if (o.detected) {
      ++detected[kind];
      ++reasons[o.reason];
    } else if (kind == 4 && where % 4096 == 0 && o.served &&
               ServedComplete(journal, crashed, where)) {
      ++harmless;
    } else {
      missed.push_back(std::string(kinds[kind]) + " at " + std::to_string(where) + ": " +
                       o.summary);
    }
  }
  int total = 0;
  for (size_t k = 0; k < kinds.size(); ++k) {
    std::printf("corruption: %-30s %d/%d detected\n", kinds[k], detected[k], tried[k]);
    total += detected[k];
  }
  for (const auto& [reason, n] : reasons) {
    std::printf("corruption:   %5d x %s\n", n, reason.c_str());
  }
  std::printf(
      "corruption: %d/%d detected (%.1f%%); %d more cut only pages that the WAL held committed "
      "copies of: nothing lost, relaisd served the complete journal (every row, chain and page "
      "checksums verified)\n",
      total, trials - harmless, trials > harmless ? 100.0 * total / (trials - harmless) : 0.0,
      harmless);
  ::testing::Test::RecordProperty("detected", total);
  ::testing::Test::RecordProperty("trials", trials);
  ::testing::Test::RecordProperty("harmless", harmless);
  EXPECT_EQ(total + harmless, trials);
  for (const auto& m : missed) ADD_FAILURE() << "not detected: " << m;
}

}  // namespace
}  // namespace relais::testing
