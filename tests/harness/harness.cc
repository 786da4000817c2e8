#include "tests/harness/harness.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "adapters/sdk/envelope_builder.h"
#include "broker/journal/page_checksum.h"
#include "crypto/random.h"

namespace relais::testing {

namespace fs = std::filesystem;

const std::string& RelaisBin() {
  static const std::string bin = RELAIS_BIN;
  return bin;
}
const std::string& RelaisdBin() {
  static const std::string bin = RELAISD_BIN;
  return bin;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/relais-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("RELAIS_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    (void)!write(fd, request.data(), request.size());
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return response;
}

CommandResult RunCommand(const std::vector<std::string>& argv) {
  std::string cmd;
  for (const auto& a : argv) {
    std::string quoted = "'";
    for (char c : a) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    cmd += quoted + "' ";
  }
  cmd += "2>&1";
  CommandResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

base::Result<std::unique_ptr<Process>> Process::Start(const std::vector<std::string>& argv,
                                                      const fs::path& log) {
  pid_t pid = fork();
  if (pid < 0) return base::RetryLater("fork_failed", "fork failed");
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return std::unique_ptr<Process>(new Process(pid, log));
}

Process::~Process() {
  if (!reaped_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

void Process::Signal(int sig) {
  if (!reaped_) kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  if (reaped_) return 0;
  auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (std::chrono::steady_clock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

bool Process::Running() {
  if (reaped_) return false;
  return !Wait(std::chrono::milliseconds(0)).has_value();
}

std::string Process::Log() const {
  std::ifstream in(log_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Process::WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) const {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (Log().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

Deployment::Deployment(fs::path dir) : dir_(std::move(dir)) {
  fs::create_directories(dir_ / "keys");
  Run({"keygen", "--agency", "authority", "--out", (dir_ / "keys").string()});
  Run({"registry", "init", "--authority-key", (dir_ / "keys" / "authority.key").string(), "--out",
       RegistryFile().string()});
  Add({broker_id(), "broker", {}});
  Sign();
}

void Deployment::Run(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {RelaisBin()};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = RunCommand(argv);
  if (r.exit_code != 0) {
    throw std::runtime_error("relais " + args[0] + " failed (" + std::to_string(r.exit_code) +
                             "): " + r.output);
  }
}

void Deployment::KeygenOnly(const std::string& id) {
  Run({"keygen", "--agency", id, "--out", (dir_ / "keys").string()});
}

void Deployment::Add(const AgencySpec& spec) {
  KeygenOnly(spec.id);
  std::vector<std::string> args = {"registry",
                                   "add",
                                   RegistryFile().string(),
                                   "--pub",
                                   (dir_ / "keys" / (spec.id + ".pub")).string(),
                                   "--kind",
                                   spec.kind,
                                   "--name",
                                   "Test " + spec.id,
                                   "--territory",
                                   "75"};
  args.insert(args.end(), spec.extra.begin(), spec.extra.end());
  Run(args);
}

void Deployment::Revoke(const std::string& id) {
  Run({"registry", "revoke", RegistryFile().string(), "--agency", id});
}

void Deployment::Sign() {
  Run({"registry", "sign", RegistryFile().string(), "--authority-key",
       (dir_ / "keys" / "authority.key").string()});
}

fs::path Deployment::KeyFile(const std::string& id) const { return dir_ / "keys" / (id + ".key"); }

crypto::AgencyIdentity Deployment::Identity(const std::string& id) const {
  auto identity = crypto::LoadIdentity(KeyFile(id));
  if (!identity) throw std::runtime_error("cannot load identity: " + identity.error().ToString());
  return std::move(identity).value();
}

schema::Registry Deployment::Registry() const {
  auto r = sdk::LoadRegistry(RegistryFile(), AuthorityPub(), base::SystemClock().NowMs());
  if (!r) throw std::runtime_error("cannot load registry: " + r.error().ToString());
  return std::move(r).value();
}

void AddHospitalAndAssociations(Deployment& deployment,
                                const std::vector<std::string>& associations) {
  deployment.Add({"hospital",
                  "hospital",
                  {"--notice-without-consent", "hospital_discharge", "--may-receive"}});
  for (const auto& id : associations) deployment.Add({id, "association", {"--may-receive"}});
}

std::vector<std::string> AgencyFlags(const Deployment& deployment, const std::string& agency,
                                     const std::string& endpoint) {
  return {"--key",           deployment.KeyFile(agency).string(),
          "--registry",      deployment.RegistryFile().string(),
          "--authority-pub", deployment.AuthorityPub().string(),
          "--broker",        endpoint};
}

std::vector<std::string> JoinArgs(std::initializer_list<std::vector<std::string>> parts) {
  std::vector<std::string> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

BrokerProcess::BrokerProcess(const Deployment& deployment, std::vector<std::string> extra_flags)
    : deployment_(deployment),
      extra_flags_(std::move(extra_flags)),
      port_(FreePort()),
      metrics_port_(FreePort()),
      journal_(deployment.dir() / "journal.db") {}

BrokerProcess::~BrokerProcess() {
  if (process_) Kill();
}

void BrokerProcess::Start() {
  std::vector<std::string> argv;
  if (!env_.empty()) {
    argv.push_back("/usr/bin/env");
    argv.insert(argv.end(), env_.begin(), env_.end());
  }
  std::vector<std::string> flags = {binary_.empty() ? RelaisdBin() : binary_,
                                    "--listen",
                                    endpoint(),
                                    "--journal",
                                    journal_.string(),
                                    "--registry",
                                    deployment_.RegistryFile().string(),
                                    "--authority-pub",
                                    deployment_.AuthorityPub().string(),
                                    "--key",
                                    deployment_.KeyFile(deployment_.broker_id()).string(),
                                    "--metrics-listen",
                                    "127.0.0.1:" + std::to_string(metrics_port_)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.insert(argv.end(), extra_flags_.begin(), extra_flags_.end());
  fs::path log = deployment_.dir() / (name_ + "." + std::to_string(++starts_) + ".log");
  auto p = Process::Start(argv, log);
  if (!p) throw std::runtime_error("cannot start relaisd");
  process_ = std::move(p).value();
  if (!process_->WaitForLog("relaisd_ready", std::chrono::seconds(20))) {
    throw std::runtime_error("relaisd did not become ready: " + process_->Log());
  }
}

void BrokerProcess::set_name(const std::string& name) {
  name_ = name;
  journal_ = deployment_.dir() / (name + ".db");
}

void BrokerProcess::Stop() {
  if (!process_) return;
  process_->Signal(SIGTERM);
  process_->Wait(std::chrono::seconds(20));
  process_.reset();
}

void BrokerProcess::Kill() {
  if (!process_) return;
  process_->Signal(SIGKILL);
  process_->Wait(std::chrono::seconds(20));
  process_.reset();
}

void BrokerProcess::Reload() {
  if (process_) process_->Signal(SIGHUP);
}

std::unique_ptr<sdk::Client> ConnectClient(const Deployment& deployment,
                                           const crypto::AgencyIdentity& identity,
                                           const std::string& endpoint) {
  auto registry = deployment.Registry();
  auto key = sdk::BrokerCurveKey(registry, base::SystemClock().NowMs());
  if (!key) throw std::runtime_error("no broker key: " + key.error().ToString());
  sdk::ClientOptions options;
  options.endpoints = {endpoint};
  options.broker_curve_public = *key;
  options.identity = &identity;
  options.connect_timeout = std::chrono::milliseconds(5000);
  options.ack_timeout = std::chrono::milliseconds(2000);
  options.close_linger = std::chrono::milliseconds(500);
  auto client = sdk::Client::Connect(options);
  if (!client) throw std::runtime_error("connect failed: " + client.error().ToString());
  return std::move(client).value();
}

base::Result<std::unique_ptr<sdk::Client>> ConnectFailoverClient(
    const Deployment& deployment, const crypto::AgencyIdentity& identity,
    const std::string& endpoints) {
  using std::chrono::milliseconds;
  RELAIS_ASSIGN_OR_RETURN(auto key,
                          sdk::BrokerCurveKey(deployment.Registry(), base::SystemClock().NowMs()));
  sdk::ClientOptions o;
  o.endpoints = {endpoints};
  o.broker_curve_public = key;
  o.identity = &identity;
  o.heartbeat_interval = milliseconds(500);
  o.silence_timeout = milliseconds(3000);
  o.failover_timeout = milliseconds(500);
  o.ack_timeout = milliseconds(2000);
  o.close_linger = milliseconds(200);
  return sdk::Client::Connect(o);
}

schema::Header ReferralHeader(const std::vector<std::string>& recipients, base::TimeMs now,
                              const std::string& case_ref) {
  schema::Header h;
  h.kind = schema::EventKind::kReferral;
  h.referral_kind = schema::ReferralKind::kHospitalDischarge;
  h.case_ref = case_ref.empty() ? crypto::NewCaseRef() : case_ref;
  h.recipients = recipients;
  h.tier = schema::Tier::kNotice;
  h.legal_basis = schema::LegalBasis::kNoticeAllowed;
  h.purpose = schema::Purpose::kHousing;
  h.actor = "as-test-01";
  h.due_at = now + 5 * base::kMsPerDay;
  return h;
}

schema::Envelope MakeReferral(const Deployment& deployment, const crypto::AgencyIdentity& emitter,
                              const std::vector<std::string>& recipients,
                              const std::string& case_ref) {
  base::SystemClock clock;
  schema::Header h = ReferralHeader(recipients, clock.NowMs(), case_ref);
  schema::ReferralBody body;
  body.exit_place = "Service de médecine interne";
  body.referrer.name = "Assistante sociale de test";
  body.exit_date = h.due_at;
  auto env = sdk::BuildEnvelope(h, schema::EventBody(body), deployment.Registry(), emitter, clock);
  if (!env) throw std::runtime_error("cannot build envelope: " + env.error().ToString());
  return std::move(env).value();
}

CommandResult TamperJournal(const std::filesystem::path& journal, const std::string& sql) {
  CommandResult r = RunCommand({"sqlite3", journal.string(), sql});
  if (r.exit_code != 0) return r;
  std::fstream f(journal, std::ios::in | std::ios::out | std::ios::binary);
  uint8_t header[100] = {};
  f.read(reinterpret_cast<char*>(header), sizeof header);
  if (!f ||
      header[journal::internal::kHeaderReservedByte] != journal::internal::kPageChecksumBytes) {
    return r;  // not a format-3 journal: nothing to reseal
  }
  const size_t page = header[16] == 0 && header[17] == 1 ? 65536 : (header[16] << 8 | header[17]);
  const auto pages = std::filesystem::file_size(journal) / page;
  std::vector<uint8_t> buf(page);
  for (uint64_t pgno = 1; pgno <= pages; ++pgno) {
    const auto off = static_cast<std::streamoff>((pgno - 1) * page);
    f.seekg(off);
    f.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(page));
    journal::internal::SealPage(buf.data(), page, pgno);
    f.seekp(off);
    f.write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(page));
  }
  return r;
}

}  // namespace relais::testing
