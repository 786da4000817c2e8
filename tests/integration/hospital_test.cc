// The hospital adapter end to end (docs/adapters/hospital.md): a real relaisd, real CLI-made keys
// and registry, the real relais-hospital binary fed over TCP by a test MLLP client with the ADT
// corpus of tests/integration/hospital_corpus/, and two subscribing associations.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "adapters/sdk/envelope_builder.h"
#include "crypto/random.h"
#include "crypto/secret.h"
#include "schema/codec.h"
#include "tests/harness/harness.h"
#include "tests/integration/mllp_test_client.h"

namespace relais::testing {
namespace {

using namespace std::chrono_literals;
using schema::EventKind;

std::string ReadAll(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A corpus message with its placeholders filled. Files are stored with LF line ends; they are
// sent with CR (the standard) unless the name says _lf or _crlf.
std::string Corpus(const std::string& name, const std::string& ipp, const std::string& control,
                   const std::string& visit = "V-1") {
  std::string text = ReadAll(std::filesystem::path(RELAIS_HOSPITAL_CORPUS) / name);
  EXPECT_FALSE(text.empty()) << name;
  auto replace = [&](const std::string& from, const std::string& to) {
    for (size_t p; (p = text.find(from)) != std::string::npos;) text.replace(p, from.size(), to);
  };
  replace("${IPP}", ipp);
  replace("${CTRL}", control);
  replace("${VISIT}", visit);
  if (name.find("_lf.") != std::string::npos) return text;
  std::string out;
  for (char c : text) {
    if (c != '\n') {
      out += c;
    } else {
      out += name.find("_crlf.") != std::string::npos ? "\r\n" : "\r";
    }
  }
  return out;
}

class HospitalScenario : public ::testing::Test {
 protected:
  void SetUp() override {
    crypto::Init();
    deployment_ = std::make_unique<Deployment>(dir_.path());
    AddHospitalAndAssociations(*deployment_, {"assoc-a", "assoc-b"});
    deployment_->Sign();
    broker_ = std::make_unique<BrokerProcess>(*deployment_);
    broker_->Start();
    db_ = dir_.path() / "hospital.db";
    port_ = FreePort();
    StartAdapter();
  }

  void StartAdapter() {
    auto p = Process::Start(
        {RELAIS_HOSPITAL_BIN, "serve", "--listen", "127.0.0.1:" + std::to_string(port_), "--db",
         db_.string(), "--key", deployment_->KeyFile("hospital").string(), "--registry",
         deployment_->RegistryFile().string(), "--authority-pub",
         deployment_->AuthorityPub().string(), "--broker", broker_->endpoint(), "--log-level",
         "debug"},
        dir_.path() / "hospital.log");
    ASSERT_TRUE(p);
    adapter_ = std::move(*p);
    ASSERT_TRUE(adapter_->WaitForLog("hospital_ready", 10s)) << adapter_->Log();
  }

  std::vector<std::string> Agency(std::vector<std::string> args) {
    args.insert(args.end(), {"--key", deployment_->KeyFile("hospital").string(), "--registry",
                             deployment_->RegistryFile().string(), "--authority-pub",
                             deployment_->AuthorityPub().string()});
    return args;
  }

  // case open + case consent for both associations; returns the case ref.
  std::string OpenConsentedCase(const std::string& ipp) {
    auto open = RunCommand({RELAIS_HOSPITAL_BIN, "case", "open", "--db", db_.string(), "--patient",
                            ipp, "--actor", "as-01"});
    EXPECT_EQ(open.exit_code, 0) << open.output;
    size_t at = open.output.find("case=");
    EXPECT_NE(at, std::string::npos);
    std::string ref = open.output.substr(at + 5, open.output.find('\n', at) - at - 5);
    auto consent = RunCommand(Agency({RELAIS_HOSPITAL_BIN, "case", "consent", "--db", db_.string(),
                                      "--case", ref, "--recipients", "assoc-a,assoc-b"}));
    EXPECT_EQ(consent.exit_code, 0) << consent.output;
    return ref;
  }

  std::string CaseList() {
    return RunCommand({RELAIS_HOSPITAL_BIN, "case", "list", "--db", db_.string()}).output;
  }
  bool WaitOutboxEmpty(std::chrono::milliseconds timeout) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      if (CaseList().find("outbox pending=0 failed=0") != std::string::npos) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  std::unique_ptr<sdk::Client> Connect(const std::string& id) {
    identities_[id] = deployment_->Identity(id);
    auto client = ConnectClient(*deployment_, identities_[id], broker_->endpoint());
    schema::Subscribe s;
    s.credit = 100;
    EXPECT_TRUE(client->Subscribe(s));
    return client;
  }

  struct Received {
    schema::Header header;
    schema::EventBody body;
  };
  // Receives, verifies, opens and acks deliveries for `timeout` or until `kind` for the case came.
  std::vector<Received> Await(sdk::Client& client, const std::string& me, EventKind kind,
                              const std::string& case_ref,
                              std::chrono::milliseconds timeout = 10s) {
    std::vector<Received> got;
    auto registry = deployment_->Registry();
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      auto d = client.Next(100ms);
      if (!d) {
        ADD_FAILURE() << d.error().ToString();
        break;
      }
      if (!*d) continue;
      EXPECT_TRUE(client.Ack(**d));
      auto opened =
          sdk::VerifyAndOpen((*d)->envelope, registry, identities_[me], (*d)->received_at);
      EXPECT_TRUE(opened) << opened.error().ToString();
      if (!opened) continue;
      got.push_back({opened->header, opened->body});
      if (opened->header.kind == kind && opened->header.case_ref == case_ref) break;
    }
    return got;
  }
  static size_t Count(const std::vector<Received>& got, EventKind kind, const std::string& ref) {
    size_t n = 0;
    for (const auto& r : got) n += r.header.kind == kind && r.header.case_ref == ref;
    return n;
  }
  static const Received* Find(const std::vector<Received>& got, EventKind kind,
                              const std::string& ref) {
    for (const auto& r : got)
      if (r.header.kind == kind && r.header.case_ref == ref) return &r;
    return nullptr;
  }

  schema::Envelope Accept(const std::string& agency, const std::string& case_ref) {
    schema::Header h;
    h.kind = EventKind::kAccepted;
    h.case_ref = case_ref;
    h.recipients = {"hospital"};
    h.actor = "asso-01";
    base::SystemClock clock;
    auto env = sdk::BuildEnvelope(h, schema::EventBody(), deployment_->Registry(),
                                  identities_[agency], clock);
    EXPECT_TRUE(env) << env.error().ToString();
    return *env;
  }

  std::string AdapterLog() const { return adapter_->Log(); }

  TempDir dir_;
  std::unique_ptr<Deployment> deployment_;
  std::unique_ptr<BrokerProcess> broker_;
  std::unique_ptr<Process> adapter_;
  std::filesystem::path db_;
  int port_ = 0;
  std::map<std::string, crypto::AgencyIdentity> identities_;
};

TEST_F(HospitalScenario, A16ReachesBothAssociationsAndA25CancelsIt) {
  auto a = Connect("assoc-a");
  auto b = Connect("assoc-b");
  std::string ref = OpenConsentedCase("IPP-1001");
  MllpTestClient mllp(port_);
  auto ack = mllp.Exchange(Corpus("a16_v25_pam_fr.hl7", "IPP-1001", "MSG-1"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(MllpTestClient::AckCode(*ack), "AA") << *ack;
  EXPECT_NE(ack->find("MSA|AA|MSG-1"), std::string::npos);
  for (auto [client, id] : {std::pair{a.get(), "assoc-a"}, std::pair{b.get(), "assoc-b"}}) {
    auto got = Await(*client, id, EventKind::kReferral, ref);
    const Received* r = Find(got, EventKind::kReferral, ref);
    ASSERT_NE(r, nullptr) << id;
    EXPECT_EQ(r->header.emitter, "hospital");
    EXPECT_EQ(r->header.referral_kind, schema::ReferralKind::kHospitalDischarge);
    EXPECT_EQ(r->header.due_at, 1'930'914'000'000);  // 2031-03-10T14:00+01:00
    const auto& body = std::get<schema::ReferralBody>(r->body);
    EXPECT_EQ(body.person.family_name, "DUPONT");
    EXPECT_EQ(body.person.used_name, "MARTIN");
    EXPECT_EQ(body.person.birth_date, "1970-02-15");
    EXPECT_EQ(body.person.ins, "170027512345612");
    EXPECT_EQ(std::get<schema::HospitalDetails>(body.details).ward, "CARDIO");
  }
  ack = mllp.Exchange(Corpus("a25_v25.hl7", "IPP-1001", "MSG-2"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(MllpTestClient::AckCode(*ack), "AA") << *ack;
  for (auto [client, id] : {std::pair{a.get(), "assoc-a"}, std::pair{b.get(), "assoc-b"}}) {
    auto got = Await(*client, id, EventKind::kCancelled, ref);
    EXPECT_EQ(Count(got, EventKind::kCancelled, ref), 1u) << id;
  }
  std::string log = AdapterLog();
  for (const char* secret : {"DUPONT", "MARTIN", "19700215", "170027512345612", "IPP-1001"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << "the adapter log shows " << secret;
  }
}

TEST_F(HospitalScenario, A03AfterAcceptanceIsHandedOver) {
  auto a = Connect("assoc-a");
  std::string ref = OpenConsentedCase("IPP-2002");
  MllpTestClient mllp(port_);
  ASSERT_EQ(MllpTestClient::AckCode(*mllp.Exchange(Corpus("a16_v25_pam_fr.hl7", "IPP-2002", "M1"))),
            "AA");
  ASSERT_NE(Find(Await(*a, "assoc-a", EventKind::kReferral, ref), EventKind::kReferral, ref),
            nullptr);
  auto accepted = a->Publish(Accept("assoc-a", ref), sdk::DeadlineAfter(10s));
  ASSERT_TRUE(accepted) << accepted.error().ToString();
  ASSERT_TRUE(adapter_->WaitForLog("referral_accepted case=" + ref, 10s)) << AdapterLog();
  auto ack = mllp.Exchange(Corpus("a03_v24_zfm.hl7", "IPP-2002", "M2"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(MllpTestClient::AckCode(*ack), "AA") << *ack;
  auto got = Await(*a, "assoc-a", EventKind::kHandedOver, ref);
  const Received* r = Find(got, EventKind::kHandedOver, ref);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->header.recipients, std::vector<std::string>{"assoc-a"});
  const auto& body = std::get<schema::HandedOverBody>(r->body);
  EXPECT_EQ(body.disposition, "01");
  EXPECT_EQ(body.discharged_to, "LHSS");
  // A13: the discharge did not happen after all; the handover is cancelled.
  ack = mllp.Exchange(Corpus("a13_v25.hl7", "IPP-2002", "M3"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(MllpTestClient::AckCode(*ack), "AA") << *ack;
  auto cancelled = Await(*a, "assoc-a", EventKind::kCancelled, ref);
  EXPECT_EQ(Count(cancelled, EventKind::kCancelled, ref), 1u) << AdapterLog();
  EXPECT_TRUE(WaitOutboxEmpty(10s)) << CaseList();
}

TEST_F(HospitalScenario, CaseCloseSendsClosedAndForgetsThePatient) {
  auto b = Connect("assoc-b");
  std::string ref = OpenConsentedCase("IPP-6006");
  MllpTestClient mllp(port_);
  ASSERT_EQ(MllpTestClient::AckCode(*mllp.Exchange(Corpus("a16_v25_pam_fr.hl7", "IPP-6006", "K1"))),
            "AA");
  auto close = RunCommand(
      Agency({RELAIS_HOSPITAL_BIN, "case", "close", "--db", db_.string(), "--case", ref}));
  ASSERT_EQ(close.exit_code, 0) << close.output;
  auto got = Await(*b, "assoc-b", EventKind::kClosed, ref);
  EXPECT_EQ(Count(got, EventKind::kReferral, ref), 1u);
  EXPECT_EQ(Count(got, EventKind::kClosed, ref), 1u) << AdapterLog();
  EXPECT_NE(CaseList().find(ref + " closed"), std::string::npos) << CaseList();
  // The patient is no longer followed: a new A16 is acknowledged and produces nothing.
  ASSERT_EQ(MllpTestClient::AckCode(*mllp.Exchange(Corpus("a16_v25_pam_fr.hl7", "IPP-6006", "K2"))),
            "AA");
  EXPECT_TRUE(WaitOutboxEmpty(10s)) << CaseList();
  auto later = Await(*b, "assoc-b", EventKind::kReferral, ref, 1500ms);
  EXPECT_EQ(Count(later, EventKind::kReferral, ref), 0u);
  auto again = RunCommand({RELAIS_HOSPITAL_BIN, "case", "close", "--db", db_.string(), "--case",
                           ref, "--key", "k", "--registry", "r", "--authority-pub", "p"});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("no open case"), std::string::npos) << again.output;
}

TEST_F(HospitalScenario, BrokerDownDuringA16StillGetsAaAndTheReferralArrivesAfterRestart) {
  std::string ref = OpenConsentedCase("IPP-3003");
  ASSERT_TRUE(WaitOutboxEmpty(10s)) << CaseList();  // the consent reached the broker
  broker_->Stop();
  MllpTestClient mllp(port_);
  auto start = std::chrono::steady_clock::now();
  auto ack = mllp.Exchange(Corpus("a16_v25_pam_fr.hl7", "IPP-3003", "DOWN-1"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(MllpTestClient::AckCode(*ack), "AA") << *ack;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "the ACK waited for the broker";
  EXPECT_NE(CaseList().find("outbox pending=1"), std::string::npos) << CaseList();
  broker_->Start();
  auto a = Connect("assoc-a");
  auto b = Connect("assoc-b");
  for (auto [client, id] : {std::pair{a.get(), "assoc-a"}, std::pair{b.get(), "assoc-b"}}) {
    auto got = Await(*client, id, EventKind::kReferral, ref, 30s);
    EXPECT_EQ(Count(got, EventKind::kReferral, ref), 1u) << id << "\n" << AdapterLog();
  }
  EXPECT_TRUE(WaitOutboxEmpty(10s)) << CaseList();
}

TEST_F(HospitalScenario, AdapterRestartKeepsTheOutboxAndResentMessagesAreNotDuplicated) {
  std::string ref = OpenConsentedCase("IPP-4004");
  ASSERT_TRUE(WaitOutboxEmpty(10s)) << CaseList();
  broker_->Stop();
  std::string a16 = Corpus("a16_v25_pam_fr.hl7", "IPP-4004", "DUP-1");
  {
    MllpTestClient mllp(port_);
    EXPECT_EQ(MllpTestClient::AckCode(*mllp.Exchange(a16)), "AA");
  }
  adapter_->Signal(SIGKILL);  // crash with the event only in the outbox
  adapter_->Wait(5s);
  StartAdapter();
  broker_->Start();
  {
    MllpTestClient mllp(port_);  // the interface engine re-sends: same MSH-3/4/10
    EXPECT_EQ(MllpTestClient::AckCode(*mllp.Exchange(a16)), "AA");
  }
  auto a = Connect("assoc-a");
  auto got = Await(*a, "assoc-a", EventKind::kReferral, ref, 30s);
  EXPECT_EQ(Count(got, EventKind::kReferral, ref), 1u) << AdapterLog();
  auto more = Await(*a, "assoc-a", EventKind::kCancelled, ref, 1500ms);
  EXPECT_EQ(Count(more, EventKind::kReferral, ref), 0u) << "referral delivered twice";
  EXPECT_NE(AdapterLog().find("adt_duplicate"), std::string::npos);
}

TEST_F(HospitalScenario, CorpusOverOneConnectionGetsTheRightAcksAndEvents) {
  auto a = Connect("assoc-a");
  std::string ref = OpenConsentedCase("IPP-5005");
  std::string prov = OpenConsentedCase("IPP-PROV");
  MllpTestClient mllp(port_);
  struct Step {
    std::string file;
    std::string ipp;
    std::string expect;
  } steps[] = {
      {"a01_v25_admit.hl7", "IPP-5005", "AA"},
      {"a16_v25_pam_fr.hl7", "IPP-5005", "AA"},
      {"a08_v25_date_change.hl7", "IPP-5005", "AA"},
      {"z99_v25_update_a16.hl7", "IPP-5005", "AA"},
      {"a21_v24_leave_crlf.hl7", "IPP-5005", "AA"},
      {"a22_v24_return.hl7", "IPP-5005", "AA"},
      {"a02_v23_transfer_escaped.hl7", "IPP-5005", "AA"},
      {"bad_past_date.hl7", "IPP-5005", "AE"},
      {"bad_malformed_date.hl7", "IPP-5005", "AE"},
      {"bad_unknown_trigger.hl7", "IPP-5005", "AR"},
      {"bad_not_adt.hl7", "IPP-5005", "AR"},
      {"bad_not_hl7.txt", "IPP-5005", "AR"},
      {"a16_v23_evn3_lf.hl7", "IPP-NOCASE", "AA"},
      {"a16_v25_prov_ins.hl7", "IPP-PROV", "AA"},
      {"a25_v25.hl7", "IPP-5005", "AA"},
  };
  int n = 0;
  for (const auto& s : steps) {
    auto ack = mllp.Exchange(Corpus(s.file, s.ipp, "C-" + std::to_string(++n)));
    ASSERT_TRUE(ack) << s.file;
    EXPECT_EQ(MllpTestClient::AckCode(*ack), s.expect) << s.file << "\n" << *ack;
    if (s.file == "bad_past_date.hl7") {
      EXPECT_NE(ack->find("PV2-9"), std::string::npos) << *ack;
      EXPECT_NE(ack->find("ERR|"), std::string::npos) << *ack;
    }
    if (s.file == "bad_unknown_trigger.hl7") {
      EXPECT_NE(ack->find("201^Unsupported event code"), std::string::npos) << *ack;
    }
  }
  // A frame cut short by a new start byte gets AR; the connection stays usable.
  mllp.SendRaw("\x0bMSH|^~\\&|half");
  mllp.Send(Corpus("a01_v25_admit.hl7", "IPP-5005", "C-LAST"));
  auto ar = mllp.ReadAck();
  ASSERT_TRUE(ar);
  EXPECT_EQ(MllpTestClient::AckCode(*ar), "AR");
  EXPECT_NE(ar->find("interrupted"), std::string::npos) << *ar;
  auto ok = mllp.ReadAck();
  ASSERT_TRUE(ok);
  EXPECT_EQ(MllpTestClient::AckCode(*ok), "AA");

  auto got = Await(*a, "assoc-a", EventKind::kCancelled, ref);
  std::vector<EventKind> kinds;
  for (const auto& r : got)
    if (r.header.case_ref == ref) kinds.push_back(r.header.kind);
  // (consent_granted has no recipients: the broker keeps it.)
  EXPECT_EQ(kinds, (std::vector<EventKind>{EventKind::kReferral, EventKind::kDeadlineChanged,
                                           EventKind::kDeadlineChanged, EventKind::kCancelled}));
  const Received* last_move = nullptr;
  for (const auto& r : got)
    if (r.header.kind == EventKind::kDeadlineChanged && r.header.case_ref == ref) last_move = &r;
  ASSERT_NE(last_move, nullptr);
  EXPECT_EQ(last_move->header.due_at, 1'931'504'400'000);  // Z99: 2031-03-17T10:00+01:00
  auto prov_got = got;
  if (!Find(prov_got, EventKind::kReferral, prov)) {
    auto more = Await(*a, "assoc-a", EventKind::kReferral, prov);
    prov_got.insert(prov_got.end(), more.begin(), more.end());
  }
  const Received* p = Find(prov_got, EventKind::kReferral, prov);
  ASSERT_NE(p, nullptr);
  const auto& person = std::get<schema::ReferralBody>(p->body).person;
  EXPECT_EQ(person.family_name, "LEROY");
  EXPECT_EQ(person.ins, "") << "a provisional identity's INS was forwarded";
  EXPECT_EQ(ReadAll(dir_.path() / "hospital.log").find("299017512345678"), std::string::npos);
}

TEST_F(HospitalScenario, MessagesForPatientsWithoutACaseLeaveNoTrace) {
  MllpTestClient mllp(port_);
  auto ack = mllp.Exchange(Corpus("a16_v25_pam_fr.hl7", "IPP-GHOST-777", "G-1"));
  ASSERT_TRUE(ack);
  EXPECT_EQ(MllpTestClient::AckCode(*ack), "AA");
  ack = mllp.Exchange(Corpus("a03_v24_zfm.hl7", "IPP-GHOST-777", "G-2"));
  EXPECT_EQ(MllpTestClient::AckCode(*ack), "AA");
  std::string stored;
  for (const char* suffix : {"", "-wal"}) {
    auto path = db_.string() + suffix;
    if (std::filesystem::exists(path)) stored += ReadAll(path);
  }
  ASSERT_FALSE(stored.empty());
  for (const char* secret : {"IPP-GHOST-777", "DUPONT", "G-1", "G-2"}) {
    EXPECT_EQ(stored.find(secret), std::string::npos) << secret << " stored";
  }
  EXPECT_EQ(AdapterLog().find("IPP-GHOST-777"), std::string::npos);
}

}  // namespace
}  // namespace relais::testing
