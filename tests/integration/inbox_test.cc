// The association inbox end to end (issue 8): a real relaisd, keys and registry made by the real
// `relais` CLI, a hospital emitter publishing through the SDK, and the real `relais-inbox` binary
// (its `run` subscriber and its CLI commands) on loopback.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <thread>

#include "adapters/sdk/envelope_builder.h"
#include "broker/journal/reader.h"
#include "crypto/random.h"
#include "schema/codec.h"
#include "tests/harness/harness.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;
using schema::EventKind;

const std::string kInboxBin = RELAIS_INBOX_BIN;
constexpr const char* kSecretSituation = "Situation-confidentielle-de-test-7f3a";

class InboxScenario : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    deployment_ = std::make_unique<Deployment>(dir_.path());
    deployment_->Add({"hospital", "hospital", {"--may-receive"}});
    deployment_->Add({"assoc-a", "association", {"--may-receive"}});
    deployment_->Sign();
    registry_ = deployment_->Registry();
    broker_ = std::make_unique<BrokerProcess>(*deployment_);
    broker_->Start();
    store_ = dir_.path() / "inbox.db";
    store_key_ = dir_.path() / "inbox-store.key";
    auto init = Inbox({"init", "--create-key-file"});
    ASSERT_EQ(init.exit_code, 0) << init.output;
  }

  std::vector<std::string> Common() {
    return {"--store",
            store_.string(),
            "--store-key-file",
            store_key_.string(),
            "--key",
            deployment_->KeyFile("assoc-a").string(),
            "--registry",
            deployment_->RegistryFile().string(),
            "--authority-pub",
            deployment_->AuthorityPub().string(),
            "--broker",
            broker_->endpoint(),
            "--contact-name",
            "Accueil Assoc A",
            "--contact-phone",
            "01 00 00 00 09"};
  }

  CommandResult Inbox(std::vector<std::string> args) {
    std::vector<std::string> argv = {kInboxBin};
    argv.insert(argv.end(), args.begin(), args.end());
    for (auto& a : Common()) argv.push_back(a);
    return RunCommand(argv);
  }

  void StartInbox() {
    std::vector<std::string> argv = {kInboxBin,          "run", "--no-web", "--no-desktop-notify",
                                     "--notify-command", "true"};
    for (auto& a : Common()) argv.push_back(a);
    auto p = Process::Start(argv, dir_.path() / "inbox.log");
    ASSERT_TRUE(p) << p.error().ToString();
    inbox_ = std::move(*p);
    ASSERT_TRUE(inbox_->WaitForLog("inbox_subscribed", 10s)) << inbox_->Log();
  }

  schema::Envelope Build(schema::Header h, schema::EventBody body = schema::EventBody()) {
    auto identity = deployment_->Identity("hospital");
    base::SystemClock clock;
    auto env = sdk::BuildEnvelope(std::move(h), body, registry_, identity, clock);
    if (!env) throw std::runtime_error("cannot build envelope: " + env.error().ToString());
    return std::move(env).value();
  }

  // Consent + referral-tier referral for assoc-a; returns the case ref.
  std::string Refer(sdk::Client& hospital) {
    base::TimeMs now = base::SystemClock().NowMs();
    std::string case_ref = crypto::NewCaseRef();
    schema::Header consent;
    consent.kind = EventKind::kConsentGranted;
    consent.case_ref = case_ref;
    consent.actor = "as-test-01";
    schema::ConsentTerms t;
    t.consent_id = "consent-" + case_ref;
    t.purposes = {schema::Purpose::kHousing};
    t.recipient_agencies = {"assoc-a"};
    t.valid_from = now - base::kMsPerHour;
    t.valid_until = now + 30 * base::kMsPerDay;
    t.collected_at = now - base::kMsPerHour;
    consent.consent = t;
    EXPECT_TRUE(hospital.Publish(Build(consent), sdk::DeadlineAfter(10s)));

    schema::Header h;
    h.kind = EventKind::kReferral;
    h.referral_kind = schema::ReferralKind::kHospitalDischarge;
    h.case_ref = case_ref;
    h.recipients = {"assoc-a"};
    h.consent_ref = t.consent_id;
    h.purpose = schema::Purpose::kHousing;
    h.actor = "as-test-01";
    h.due_at = now + 3 * base::kMsPerDay;
    schema::ReferralBody body;
    body.person.family_name = "Durand";
    body.person.given_names = "Karim";
    body.exit_date = h.due_at;
    body.exit_place = "Hôpital de test, accueil";
    body.situation = kSecretSituation;
    body.needs.housing_need = "hébergement d'urgence";
    body.referrer.name = "C. Assistante";
    body.referrer.phone = "01 00 00 00 02";
    body.consent_summary = "Accepte le partage avec Assoc A pour l'hébergement.";
    auto r = hospital.Publish(Build(h, body), sdk::DeadlineAfter(10s));
    EXPECT_TRUE(r) << r.error().ToString();
    return case_ref;
  }

  // Polls `relais-inbox list --json` until it mentions `needle` (or 10 s pass).
  bool ListShows(const std::string& needle) {
    auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end) {
      auto r = Inbox({"list", "--json"});
      if (r.exit_code == 0 && r.output.find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  bool StoreFilesContain(const std::string& needle) {
    for (const char* suffix : {"", "-wal"}) {
      std::ifstream in(store_.string() + suffix, std::ios::binary);
      std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (all.find(needle) != std::string::npos) return true;
    }
    return false;
  }

  size_t JournalRows(EventKind kind, const std::string& case_ref, const std::string& emitter) {
    auto reader = journal::JournalReader::Open({broker_->journal(), ""});
    EXPECT_TRUE(reader);
    if (!reader) return 0;
    size_t n = 0;
    auto st = (*reader)->ForEachFrom(
        1,
        [&](const journal::StoredEntry& e) {
          auto h = schema::DecodeHeader(e.envelope.header);
          if (h && h->kind == kind && h->case_ref == case_ref && h->emitter == emitter) ++n;
          return true;
        },
        journal::ReadScope::kMetadata);
    EXPECT_TRUE(st) << st.error().ToString();
    return n;
  }

  // Waits up to 10 s for a delivery of `kind` for the case to `client`.
  bool Await(sdk::Client& client, EventKind kind, const std::string& case_ref) {
    auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end) {
      auto d = client.Next(100ms);
      if (!d || !*d) continue;
      EXPECT_TRUE(client.Ack(**d));
      auto h = schema::DecodeHeader((*d)->envelope.header);
      if (h && h->kind == kind && h->case_ref == case_ref) return true;
    }
    return false;
  }

  TempDir dir_;
  std::unique_ptr<Deployment> deployment_;
  schema::Registry registry_;
  std::unique_ptr<BrokerProcess> broker_;
  std::filesystem::path store_;
  std::filesystem::path store_key_;
  std::unique_ptr<Process> inbox_;
};

TEST_F(InboxScenario, ReferralIsStoredEncryptedAndAcceptFromTheCliReachesTheEmitter) {
  StartInbox();
  auto hospital =
      ConnectClient(*deployment_, deployment_->Identity("hospital"), broker_->endpoint());
  schema::Subscribe s;
  s.credit = 100;
  ASSERT_TRUE(hospital->Subscribe(s));
  std::string case_ref = Refer(*hospital);
  ASSERT_TRUE(ListShows(case_ref)) << inbox_->Log();
  auto list = Inbox({"list", "--json"});
  EXPECT_NE(list.output.find("\"state\":\"to_answer\""), std::string::npos) << list.output;

  auto show = Inbox({"show", case_ref, "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.output;
  EXPECT_NE(show.output.find(kSecretSituation), std::string::npos);
  // Encrypted at rest: the body's text is nowhere in the store files.
  EXPECT_FALSE(StoreFilesContain(kSecretSituation));
  EXPECT_FALSE(StoreFilesContain("Durand"));
  // The inbox logs carry no case data; the notification is counts only.
  EXPECT_TRUE(inbox_->WaitForLog("notification text=\"1 nouvelle orientation", 5s))
      << inbox_->Log();
  EXPECT_EQ(inbox_->Log().find("Durand"), std::string::npos);

  auto accept = Inbox({"accept", case_ref, "--note", "Place réservée"});
  ASSERT_EQ(accept.exit_code, 0) << accept.output;
  EXPECT_NE(accept.output.find("ok accepted seq="), std::string::npos) << accept.output;
  EXPECT_TRUE(Await(*hospital, EventKind::kAccepted, case_ref));
  EXPECT_EQ(JournalRows(EventKind::kAccepted, case_ref, "assoc-a"), 1u);

  auto after = Inbox({"list", "--json"});
  EXPECT_NE(after.output.find("\"state\":\"accepted\""), std::string::npos) << after.output;
  // A second accept is refused locally (the case is no longer to answer).
  auto again = Inbox({"accept", case_ref});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("not_answerable"), std::string::npos) << again.output;

  auto pickup = Inbox({"pickup", case_ref, "--place", "CHU d'urgence", "--json"});
  ASSERT_EQ(pickup.exit_code, 0) << pickup.output;
  EXPECT_NE(pickup.output.find("\"kind\":\"picked_up\""), std::string::npos) << pickup.output;
  EXPECT_TRUE(Await(*hospital, EventKind::kPickedUp, case_ref));

  auto fhir = Inbox({"export-fhir", case_ref});
  ASSERT_EQ(fhir.exit_code, 0) << fhir.output;
  EXPECT_NE(fhir.output.find("\"resourceType\": \"Bundle\""), std::string::npos) << fhir.output;
  EXPECT_NE(fhir.output.find("\"status\": \"completed\""), std::string::npos) << fhir.output;
}

TEST_F(InboxScenario, DeclineNeedsAReasonAndReachesTheBroker) {
  StartInbox();
  auto hospital =
      ConnectClient(*deployment_, deployment_->Identity("hospital"), broker_->endpoint());
  std::string case_ref = Refer(*hospital);
  ASSERT_TRUE(ListShows(case_ref)) << inbox_->Log();
  auto no_reason = Inbox({"decline", case_ref});
  EXPECT_EQ(no_reason.exit_code, 2) << no_reason.output;
  auto decline = Inbox({"decline", case_ref, "--reason", "no_capacity"});
  ASSERT_EQ(decline.exit_code, 0) << decline.output;
  EXPECT_EQ(JournalRows(EventKind::kDeclined, case_ref, "assoc-a"), 1u);
}

TEST_F(InboxScenario, WithdrawalPurgesTheLocalCopyAndTheBrokerRecordsTheReceipt) {
  StartInbox();
  auto hospital =
      ConnectClient(*deployment_, deployment_->Identity("hospital"), broker_->endpoint());
  std::string case_ref = Refer(*hospital);
  ASSERT_TRUE(ListShows(case_ref)) << inbox_->Log();
  schema::Header withdraw;
  withdraw.kind = EventKind::kConsentWithdrawn;
  withdraw.case_ref = case_ref;
  withdraw.consent_ref = "consent-" + case_ref;
  withdraw.actor = "as-test-01";
  ASSERT_TRUE(hospital->Publish(Build(withdraw), sdk::DeadlineAfter(10s)));

  ASSERT_TRUE(inbox_->WaitForLog("purge_receipt_sent", 10s)) << inbox_->Log();
  auto show = Inbox({"show", case_ref});
  EXPECT_NE(show.exit_code, 0);
  EXPECT_NE(show.output.find("no_case"), std::string::npos) << show.output;
  auto purges = Inbox({"purges", "--json"});
  ASSERT_EQ(purges.exit_code, 0) << purges.output;
  EXPECT_NE(purges.output.find(case_ref), std::string::npos) << purges.output;
  EXPECT_NE(purges.output.find("\"receipt_sent\":true"), std::string::npos) << purges.output;
  EXPECT_EQ(JournalRows(EventKind::kPurgeReceipt, case_ref, "assoc-a"), 1u);
}

TEST_F(InboxScenario, AnInboxThatWasOffCatchesUpOnStart) {
  auto hospital =
      ConnectClient(*deployment_, deployment_->Identity("hospital"), broker_->endpoint());
  std::string first = Refer(*hospital);
  std::string second = Refer(*hospital);
  StartInbox();  // started after both were published
  ASSERT_TRUE(ListShows(first)) << inbox_->Log();
  ASSERT_TRUE(ListShows(second)) << inbox_->Log();
  // Restarting redelivers nothing twice: the store deduplicates by event id.
  inbox_->Signal(SIGTERM);
  ASSERT_TRUE(inbox_->Wait(10s).has_value());
  inbox_.reset();
  StartInbox();
  std::this_thread::sleep_for(500ms);
  auto list = Inbox({"list", "--json"});
  size_t n = 0;
  for (size_t p = list.output.find("\"case_ref\""); p != std::string::npos;
       p = list.output.find("\"case_ref\"", p + 1)) {
    ++n;
  }
  EXPECT_EQ(n, 2u) << list.output;
}

TEST_F(InboxScenario, WrongStoreKeyIsRefused) {
  auto other_key = dir_.path() / "other.key";
  auto r =
      RunCommand({kInboxBin, "init", "--create-key-file", "--store",
                  (dir_.path() / "other.db").string(), "--store-key-file", other_key.string()});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto wrong = RunCommand(
      {kInboxBin, "list", "--store", store_.string(), "--store-key-file", other_key.string()});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.output.find("wrong_store_key"), std::string::npos) << wrong.output;
}

}  // namespace
}  // namespace relais::testing
