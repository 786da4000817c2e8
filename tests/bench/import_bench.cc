// The list importers' throughput: a generated prison list of N rows (default 100,000) imported by
// the real relais-import into a real relaisd, to durable broker acks, against two baselines
// measured in the same run on the same machine:
//   - sdk_publish_many: the same kind of envelopes, sealed beforehand, published with the SDK's
//     PublishMany (no parsing, no sealing in the timed part): the broker-bound ceiling;
//   - seal_1_thread / seal_2_threads: raw BuildEnvelope rate of the pipeline's first stage.
// Not a test: nothing is asserted; the figures and ratios go to stdout and --out FILE.json.
//
//   relais_bench_import [--out FILE.json] [--rows N]
#include <cstdio>
#include <fstream>
#include <sstream>

#include "adapters/importer/dates.h"
#include "adapters/importer/publisher.h"
#include "base/clock.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "tests/harness/harness.h"

namespace relais {
namespace {

using namespace std::chrono_literals;

struct Args {
  std::string out;
  size_t rows = 100000;
};

double Seconds(int64_t us) { return static_cast<double>(us) / 1e6; }

// A prison list without consent columns (notice tier, one event per row): release dates spread
// over the next 30-80 days, so every row is within the 90-day lead.
void WriteList(const std::filesystem::path& path, size_t rows, const importer::CivilDate& today) {
  std::ofstream out(path);
  out << "person_id;family_name;given_names;birth_date;establishment;release_date;release_type;"
         "needs;consent\n";
  int64_t base_day = importer::DaysFromCivil(today);
  for (size_t i = 0; i < rows; ++i) {
    importer::CivilDate d = importer::CivilFromDays(base_day + 30 + static_cast<int64_t>(i % 50));
    out << "E-" << i << ";Nom" << i << ";Prenom;01/02/1985;CP Bench;" << importer::FormatDate(d)
        << ";" << (i % 3 == 0 ? "amenagement" : "fin_de_peine") << ";housing|health;non\n";
  }
}

std::vector<importer::OutgoingEvent> NoticeReferrals(size_t n, base::TimeMs due) {
  std::vector<importer::OutgoingEvent> events(n);
  base::SystemClock clock;
  for (auto& e : events) {
    schema::Header& h = e.header;
    h.event_id = crypto::NewEventId(clock.NowMs());
    h.kind = schema::EventKind::kReferral;
    h.referral_kind = schema::ReferralKind::kPrisonRelease;
    h.case_ref = crypto::NewCaseRef();
    h.recipients = {"assoc-a"};
    h.tier = schema::Tier::kNotice;
    h.legal_basis = schema::LegalBasis::kNoticeAllowed;
    h.purpose = schema::Purpose::kHousing;
    h.actor = "import-prison";
    h.due_at = due;
    schema::ReferralBody body;
    body.exit_date = due;
    body.exit_place = "CP Bench";
    body.details = schema::PrisonDetails{"CP Bench", true};
    e.body = body;
  }
  return events;
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--out") {
      a.out = v;
    } else if (k == "--rows") {
      a.rows = std::stoul(v);
    } else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(1);
    }
  }
  return a;
}

// A deployment (importing SPIP allowed the notice tier, one association) served by its own
// relaisd, so that each measurement starts from an empty journal.
struct Setup {
  testing::TempDir dir;
  std::unique_ptr<testing::Deployment> deployment;
  std::unique_ptr<testing::BrokerProcess> broker;

  Setup() {
    deployment = std::make_unique<testing::Deployment>(dir.path());
    deployment->Add({"spip-75", "prison_service", {"--notice-without-consent", "prison_release"}});
    deployment->Add({"assoc-a", "association", {"--may-receive"}});
    deployment->Sign();
    broker = std::make_unique<testing::BrokerProcess>(*deployment);
    broker->Start();
  }
};

int Run(int argc, char** argv) {
  Args args = Parse(argc, argv);
  crypto::Init();
  base::SystemClock clock;
  importer::CivilDate today = importer::FromTimeMs(clock.NowMs());
  auto setup = std::make_unique<Setup>();
  testing::Deployment& deployment = *setup->deployment;
  auto list = setup->dir.path() / "list.csv";
  WriteList(list, args.rows, today);

  // 1. The importer, end to end (process start, parsing, diff, sealing, publishing, acks).
  int64_t t0 = base::MonotonicMicros();
  auto r = testing::RunCommand(
      {RELAIS_IMPORT_BIN, "prison", list.string(), "--key", deployment.KeyFile("spip-75").string(),
       "--registry", deployment.RegistryFile().string(), "--authority-pub",
       deployment.AuthorityPub().string(), "--broker", setup->broker->endpoint(), "--store",
       (setup->dir.path() / "map.db").string(), "--recipients", "assoc-a", "--progress", "always"});
  double import_s = Seconds(base::MonotonicMicros() - t0);
  std::string summary = r.output.substr(r.output.find("summary"));
  summary = summary.substr(0, summary.find('\n'));
  if (r.exit_code != 0 ||
      summary.find("accepted=" + std::to_string(args.rows)) == std::string::npos) {
    std::fprintf(stderr, "import failed (%d): %s\n", r.exit_code, r.output.c_str());
    return 1;
  }
  double import_rate = static_cast<double>(args.rows) / import_s;

  // 2. Raw sealing rate, 1 and 2 threads.
  setup.reset();  // stop the first relaisd
  // The baselines run against a fresh relaisd (empty journal, like the importer's).
  Setup fresh;
  auto me = fresh.deployment->Identity("spip-75");
  auto registry = fresh.deployment->Registry();
  base::TimeMs due = clock.NowMs() + 40 * base::kMsPerDay;
  auto events = NoticeReferrals(args.rows, due);
  double seal_rate[2];
  std::vector<schema::Envelope> envelopes;
  for (int threads = 1; threads <= 2; ++threads) {
    t0 = base::MonotonicMicros();
    auto sealed = importer::SealAll(events, registry, me, clock, threads);
    seal_rate[threads - 1] = static_cast<double>(args.rows) / Seconds(base::MonotonicMicros() - t0);
    if (threads == 2) {
      for (auto& s : sealed) envelopes.push_back(std::move(s).value());
    }
  }

  // 3. The same number of envelopes, already sealed, through the SDK's PublishMany.
  auto client = testing::ConnectClient(*fresh.deployment, me, fresh.broker->endpoint());
  t0 = base::MonotonicMicros();
  auto results = client->PublishMany(envelopes, 1024, sdk::DeadlineAfter(600s));
  double publish_s = Seconds(base::MonotonicMicros() - t0);
  for (auto& res : results) {
    if (!res) {
      std::fprintf(stderr, "publish failed: %s\n", res.error().ToString().c_str());
      return 1;
    }
  }
  double publish_rate = static_cast<double>(args.rows) / publish_s;

  std::printf("\n%-28s %12s\n", "variant", "rows/s");
  std::printf("%-28s %12.0f   (%.1f s, %s)\n", "relais-import prison", import_rate, import_s,
              summary.c_str());
  std::printf("%-28s %12.0f\n", "sdk_publish_many (sealed)", publish_rate);
  std::printf("%-28s %12.0f\n", "seal_1_thread", seal_rate[0]);
  std::printf("%-28s %12.0f\n", "seal_2_threads", seal_rate[1]);
  std::printf(
      "\nimport / publish_many: %.2fx   import / seal_2_threads: %.2fx   "
      "seal 2 threads / 1 thread: %.2fx\n",
      import_rate / publish_rate, import_rate / seal_rate[1], seal_rate[1] / seal_rate[0]);
  if (!args.out.empty()) {
    std::ostringstream j;
    j << "{\n  \"benchmark\": \"import\",\n  \"rows\": " << args.rows
      << ",\n  \"results\": [\n    {\"name\": \"relais_import_prison\", \"rows_per_s\": "
      << import_rate << "},\n    {\"name\": \"sdk_publish_many\", \"rows_per_s\": " << publish_rate
      << "},\n    {\"name\": \"seal_1_thread\", \"rows_per_s\": " << seal_rate[0]
      << "},\n    {\"name\": \"seal_2_threads\", \"rows_per_s\": " << seal_rate[1]
      << "}\n  ],\n  \"ratio_import_to_publish_many\": " << import_rate / publish_rate
      << ",\n  \"ratio_import_to_seal_2_threads\": " << import_rate / seal_rate[1] << "\n}\n";
    std::ofstream(args.out) << j.str();
  }
  return 0;
}

}  // namespace
}  // namespace relais

int main(int argc, char** argv) { return relais::Run(argc, argv); }
