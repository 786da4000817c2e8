// relais_bench_hospital: ADT messages per second through MLLP to the HL7 ACK (which is sent only
// once the resulting event is durably in the adapter's outbox), with the real relais-hospital and
// relaisd, against baselines measured in the same run on the same disk:
//   - outbox_commit: LocalStore single-envelope transactions (BEGIN, insert 1.2 KiB, COMMIT) —
//     what one durable ack costs at least;
//   - no_case: the same messages for patients without a case (parse, validate, ACK; no write).
// Every measured message is an A08 moving the expected discharge date of an open, consented case,
// so each one yields a signed and sealed deadline_changed event. Reports also the end-to-end rate
// to the broker's durable ack (until the outbox is drained).
//
//   relais_bench_hospital [--out FILE.json] [--messages N] [--cases C] [--dir DIR]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "adapters/hospital/store.h"
#include "base/clock.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "tests/harness/harness.h"
#include "tests/integration/mllp_test_client.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;

struct Args {
  std::string out;
  size_t messages = 20'000;
  size_t cases = 40;
  std::string dir = "/var/tmp";
};

std::string A08(const std::string& ipp, size_t n) {
  char due[32];
  // Dates in 2031, moving by one minute per message so every A08 changes the deadline.
  std::snprintf(due, sizeof due, "2031031%01zu%02zu%02zu00+0100", 1 + n / 1440 % 8, n / 60 % 24,
                n % 60);
  return "MSH|^~\\&|SIH|CHU|RELAIS|CHU|20310301||ADT^A08^ADT_A01|B" + std::to_string(n) +
         "|P|2.5\rEVN||20310301\rPID|||" + ipp +
         "^^^CHU^PI||DUPONT^Jean^^^^^L||19700215|M\rPV1||I|CARDIO^1^1^CHU||||||||||||||||V1\r"
         "PV2|||||||||" +
         due + "\r";
}

std::string A16(const std::string& ipp, size_t n) {
  return "MSH|^~\\&|SIH|CHU|RELAIS|CHU|20310301||ADT^A16^ADT_A16|I" + std::to_string(n) +
         "|P|2.5\rEVN||20310301\rPID|||" + ipp +
         "^^^CHU^PI||DUPONT^Jean^^^^^L||19700215|M\rPV1||I|CARDIO^1^1^CHU||||||||||||||||V1\r"
         "PV2|||||||||20310320\r";
}

// Sends `per_conn` messages on each of `conns` connections (one in flight per connection, as an
// interface engine in original mode does); returns messages/s. Counts non-AA answers in `errors`.
double Drive(int port, size_t conns, size_t per_conn, size_t first, size_t cases,
             const std::string& prefix, size_t& errors) {
  std::vector<std::thread> threads;
  std::vector<size_t> errs(conns, 0);
  int64_t start = base::MonotonicMicros();
  for (size_t c = 0; c < conns; ++c) {
    threads.emplace_back([&, c] {
      MllpTestClient client(port);
      for (size_t i = 0; i < per_conn; ++i) {
        size_t n = first + c * per_conn + i;
        // Each connection has its own cases: a case's messages stay in order.
        std::string ipp = prefix + std::to_string(c * (cases / conns) + i % (cases / conns));
        auto ack = client.Exchange(A08(ipp, n));
        if (!ack || MllpTestClient::AckCode(*ack) != "AA") ++errs[c];
      }
    });
  }
  for (auto& t : threads) t.join();
  double secs = (base::MonotonicMicros() - start) / 1e6;
  for (size_t e : errs) errors += e;
  return conns * per_conn / secs;
}

double OutboxBaseline(const std::filesystem::path& dir, size_t n) {
  auto store = hospital::LocalStore::Open(dir / "baseline.db");
  if (!store) throw std::runtime_error(store.error().ToString());
  base::Bytes blob = crypto::RandomBytes(1229);
  int64_t start = base::MonotonicMicros();
  for (size_t i = 0; i < n; ++i) {
    hospital::OutboxEntry e;
    e.case_ref = "c-bench";
    e.event_id = crypto::RandomBytes(16);
    e.kind = "deadline_changed";
    e.envelope = blob;
    if (!(*store)->Begin() || !(*store)->Enqueue(e) || !(*store)->Commit()) {
      throw std::runtime_error("baseline commit failed");
    }
  }
  return n / ((base::MonotonicMicros() - start) / 1e6);
}

int Run(const Args& args) {
  setenv("TMPDIR", args.dir.c_str(), 1);
  crypto::Init();
  TempDir dir;
  Deployment deployment(dir.path());
  AddHospitalAndAssociations(deployment, {"assoc-a", "assoc-b"});
  deployment.Sign();
  BrokerProcess broker(deployment);
  broker.Start();
  auto db = dir.path() / "hospital.db";
  int port = FreePort();
  auto adapter = Process::Start(
      {RELAIS_HOSPITAL_BIN, "serve", "--listen", "127.0.0.1:" + std::to_string(port), "--db",
       db.string(), "--key", deployment.KeyFile("hospital").string(), "--registry",
       deployment.RegistryFile().string(), "--authority-pub", deployment.AuthorityPub().string(),
       "--broker", broker.endpoint(), "--log-level", "warn"},
      dir.path() / "hospital.log");
  if (!adapter || !(*adapter)->WaitForLog("hospital_ready", 10s)) {
    std::fprintf(stderr, "relais-hospital did not start\n");
    return 1;
  }
  auto cli = [&](std::vector<std::string> a) { return RunCommand(a); };
  std::fprintf(stderr, "opening %zu consented cases...\n", args.cases);
  for (size_t i = 0; i < args.cases; ++i) {
    std::string ipp = "BENCH" + std::to_string(i);
    auto open = cli({RELAIS_HOSPITAL_BIN, "case", "open", "--db", db.string(), "--patient", ipp});
    std::string ref = open.output.substr(5, open.output.find('\n') - 5);
    auto consent =
        cli({RELAIS_HOSPITAL_BIN, "case", "consent", "--db", db.string(), "--case", ref,
             "--recipients", "assoc-a,assoc-b", "--key", deployment.KeyFile("hospital").string(),
             "--registry", deployment.RegistryFile().string(), "--authority-pub",
             deployment.AuthorityPub().string()});
    if (open.exit_code != 0 || consent.exit_code != 0) {
      std::fprintf(stderr, "case setup failed: %s %s\n", open.output.c_str(),
                   consent.output.c_str());
      return 1;
    }
  }
  size_t errors = 0;
  {
    MllpTestClient client(port);  // every case gets its referral first
    for (size_t i = 0; i < args.cases; ++i) {
      auto ack = client.Exchange(A16("BENCH" + std::to_string(i), i));
      if (!ack || MllpTestClient::AckCode(*ack) != "AA") ++errors;
    }
  }
  auto drained = [&](std::chrono::seconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto out = cli({RELAIS_HOSPITAL_BIN, "case", "list", "--db", db.string()}).output;
      if (out.find("outbox pending=0 ") != std::string::npos) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  };
  drained(60s);

  struct Row {
    std::string name;
    size_t conns;
    double per_s;
  };
  std::vector<Row> rows;
  double baseline = OutboxBaseline(dir.path(), std::min<size_t>(args.messages / 4, 5000));
  rows.push_back({"outbox_commit (baseline)", 1, baseline});
  size_t first = 1000;
  size_t none_err = 0;
  rows.push_back({"no_case (AA, nothing stored)", 1,
                  Drive(port, 1, args.messages / 4, first, 4, "NOCASE", none_err)});
  first += args.messages;
  size_t n1 = args.messages / 4;
  rows.push_back({"a08_to_durable_ack", 1, Drive(port, 1, n1, first, args.cases, "BENCH", errors)});
  first += args.messages;
  int64_t t4 = base::MonotonicMicros();
  size_t per4 = args.messages / 4;
  rows.push_back(
      {"a08_to_durable_ack", 4, Drive(port, 4, per4, first, args.cases, "BENCH", errors)});
  first += args.messages;
  rows.push_back({"a08_to_durable_ack", 8,
                  Drive(port, 8, args.messages / 8, first, args.cases, "BENCH", errors)});
  bool ok = drained(600s);
  double e2e =
      (n1 * 0 + 4 * per4 + 8 * (args.messages / 8)) / ((base::MonotonicMicros() - t4) / 1e6);
  rows.push_back({"a08_to_broker_ack (4+8 conns, until drained)", 12, ok ? e2e : 0});

  std::printf("%-46s %6s %12s %9s\n", "measure", "conns", "msgs/s", "ratio");
  for (const auto& r : rows) {
    std::printf("%-46s %6zu %12.0f %9.2f\n", r.name.c_str(), r.conns, r.per_s, r.per_s / baseline);
  }
  std::printf("non-AA answers: %zu (no_case: %zu); outbox drained: %s\n", errors, none_err,
              ok ? "yes" : "NO");
  if (!args.out.empty()) {
    std::ofstream out(args.out);
    out << "{\"benchmark\":\"hospital\",\"messages\":" << args.messages
        << ",\"cases\":" << args.cases << ",\"errors\":" << errors << ",\"rows\":[";
    for (size_t i = 0; i < rows.size(); ++i) {
      out << (i ? "," : "") << "{\"name\":\"" << rows[i].name
          << "\",\"connections\":" << rows[i].conns << ",\"per_s\":" << rows[i].per_s
          << ",\"ratio_to_baseline\":" << rows[i].per_s / baseline << "}";
    }
    out << "]}\n";
  }
  return errors == 0 && none_err == 0 && ok ? 0 : 1;
}

}  // namespace
}  // namespace relais::testing

int main(int argc, char** argv) {
  relais::testing::Args args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--out") {
      args.out = next();
    } else if (a == "--messages") {
      args.messages = std::stoul(next());
    } else if (a == "--cases") {
      args.cases = std::stoul(next());
    } else if (a == "--dir") {
      args.dir = next();
    } else {
      std::fprintf(stderr,
                   "usage: relais_bench_hospital [--out FILE.json] [--messages N] [--cases C] "
                   "[--dir DIR]\n");
      return 2;
    }
  }
  if (args.cases < 8 || args.messages < 64) {
    std::fprintf(stderr, "--cases must be at least 8 and --messages at least 64\n");
    return 2;
  }
  return relais::testing::Run(args);
}
