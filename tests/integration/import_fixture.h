// Shared fixture of the list importer scenarios (import_test.cc): a real relaisd on a test clock,
// the real relais-import binary, and subscribing associations that open what arrives.
#ifndef RELAIS_TESTS_INTEGRATION_IMPORT_FIXTURE_H_
#define RELAIS_TESTS_INTEGRATION_IMPORT_FIXTURE_H_

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "adapters/sdk/envelope_builder.h"
#include "base/bytes.h"
#include "crypto/secret.h"
#include "tests/harness/harness.h"

namespace relais::testing {

using namespace std::chrono_literals;
using schema::EventKind;

// What one delivery said, opened by the subscriber.
struct Received {
  schema::Header header;
  schema::EventBody body;
};

class ImportScenario : public ::testing::Test {
 protected:
  // `emitter`/`kind`: the importing agency and its registry kind; `extra`: registry flags.
  void Deploy(const std::string& emitter, const std::string& kind,
              std::vector<std::string> extra = {}) {
    crypto::Init();
    emitter_ = emitter;
    deployment_ = std::make_unique<Deployment>(dir_.path());
    deployment_->Add({emitter, kind, std::move(extra)});
    for (const char* id : {"assoc-a", "assoc-b"}) {
      deployment_->Add({id, "association", {"--may-receive"}});
    }
    deployment_->Sign();
    // The scenarios live in January 2027: the registry must still be valid then.
    auto r = RunCommand({RelaisBin(), "registry", "sign", deployment_->RegistryFile().string(),
                         "--authority-key", (dir_.path() / "keys" / "authority.key").string(),
                         "--validity-days", "400"});
    ASSERT_EQ(r.exit_code, 0) << r.output;
    clock_file_ = dir_.path() / "clock";
    std::ofstream(clock_file_) << "2027-01-15T12:00:00Z\n";
    broker_ = std::make_unique<BrokerProcess>(
        *deployment_, std::vector<std::string>{"--test-clock-file", clock_file_.string()});
    broker_->Start();
    for (const char* id : {"assoc-a", "assoc-b"}) {
      identities_.emplace(id, deployment_->Identity(id));
      clients_[id] = ConnectClient(*deployment_, identities_.at(id), broker_->endpoint());
      schema::Subscribe s;
      s.credit = 1000;
      ASSERT_TRUE(clients_[id]->Subscribe(s));
    }
  }

  static std::string Source(const std::string& rel) {
    return std::string(RELAIS_SOURCE_DIR) + "/" + rel;
  }

  // Runs relais-import; returns its exit code and output.
  CommandResult Import(const std::string& kind, const std::vector<std::string>& files,
                       const std::string& today, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv =
        JoinArgs({{RELAIS_IMPORT_BIN, kind},
                  AgencyFlags(*deployment_, emitter_, broker_->endpoint()),
                  {"--store", (dir_.path() / "mapping.db").string(), "--recipients", "assoc-a",
                   "--today", today, "--timeout", "60"}});
    argv.insert(argv.end(), files.begin(), files.end());
    argv.insert(argv.end(), extra.begin(), extra.end());
    return RunCommand(argv);
  }

  // The counters of the "summary ..." line.
  static std::map<std::string, int> Summary(const std::string& output) {
    std::map<std::string, int> out;
    auto pos = output.find("summary ");
    if (pos == std::string::npos) return out;
    std::istringstream line(output.substr(pos + 8, output.find('\n', pos) - pos - 8));
    std::string item;
    while (line >> item) {
      auto eq = item.find('=');
      if (eq != std::string::npos) out[item.substr(0, eq)] = std::stoi(item.substr(eq + 1));
    }
    return out;
  }

  // Deliveries to `id` of the kinds an importer publishes (referral, deadline_changed,
  // cancelled) until `n` arrived or nothing came for `quiet`; acked and opened. The broker's own
  // reminders and escalations (the test clock may be past their time) are acked and skipped.
  std::vector<Received> Receive(const std::string& id, size_t n,
                                std::chrono::milliseconds quiet = 1500ms) {
    std::vector<Received> got;
    auto registry = deployment_->Registry();
    auto last = std::chrono::steady_clock::now();
    auto& client = *clients_.at(id);
    while (got.size() < n && std::chrono::steady_clock::now() - last < quiet) {
      auto d = client.Next(100ms);
      if (!d) {
        ADD_FAILURE() << d.error().ToString();
        break;
      }
      if (!*d) continue;
      last = std::chrono::steady_clock::now();
      EXPECT_TRUE(client.Ack(**d));
      auto opened =
          sdk::VerifyAndOpen((*d)->envelope, registry, identities_.at(id), (*d)->received_at);
      if (!opened) {
        ADD_FAILURE() << "cannot open: " << opened.error().ToString();
        continue;
      }
      EventKind k = opened->header.kind;
      if (k == EventKind::kReferral || k == EventKind::kDeadlineChanged ||
          k == EventKind::kCancelled) {
        got.push_back({opened->header, opened->body});
      }
    }
    return got;
  }

  static std::vector<Received> OfKind(const std::vector<Received>& all, schema::EventKind kind) {
    std::vector<Received> out;
    for (const auto& r : all) {
      if (r.header.kind == kind) out.push_back(r);
    }
    return out;
  }

  // (line, column) pairs of the quarantine file.
  std::set<std::pair<int, std::string>> Quarantine() const {
    std::ifstream in(dir_.path() / "mapping.db.quarantine.csv");
    std::set<std::pair<int, std::string>> out;
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::vector<std::string> cells;
      std::string cell;
      std::istringstream s(line);
      while (std::getline(s, cell, ',')) cells.push_back(cell);
      if (cells.size() >= 3) out.insert({std::stoi(cells[1]), cells[2]});
    }
    return out;
  }

  std::string ReadText(const std::filesystem::path& p) const {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  static base::TimeMs Day(const char* iso) {
    return *base::ParseIsoTime(std::string(iso) + "T00:00:00Z");
  }

  TempDir dir_;
  std::string emitter_;
  std::unique_ptr<Deployment> deployment_;
  std::filesystem::path clock_file_;
  std::unique_ptr<BrokerProcess> broker_;
  std::map<std::string, crypto::AgencyIdentity> identities_;
  std::map<std::string, std::unique_ptr<sdk::Client>> clients_;
};

}  // namespace relais::testing

#endif  // RELAIS_TESTS_INTEGRATION_IMPORT_FIXTURE_H_
