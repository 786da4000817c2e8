// Cross-process test harness: temporary directories, child processes, and a deployment (keys and
// a signed registry made with the real `relais` CLI) served by a real `relaisd`.
//
// Test-only code. Paths of the binaries come from the build (RELAIS_BIN, RELAISD_BIN).
#ifndef RELAIS_TESTS_HARNESS_HARNESS_H_
#define RELAIS_TESTS_HARNESS_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "adapters/sdk/client.h"
#include "base/clock.h"
#include "base/status.h"
#include "crypto/identity.h"
#include "schema/events.h"
#include "schema/registry.h"

namespace relais::testing {

const std::string& RelaisBin();
const std::string& RelaisdBin();

// A fresh directory under $TMPDIR (or /tmp), removed on destruction unless RELAIS_KEEP_TEST_DIRS
// is set.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
int FreePort();
// A plain HTTP/1.0 GET on 127.0.0.1; the whole response (status line, headers, body), or "" when
// nothing listens.
std::string HttpGet(int port, const std::string& path);

// Runs a command to completion; returns its exit code and its stdout+stderr.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult RunCommand(const std::vector<std::string>& argv);
// Runs `sql` on a stopped journal with the sqlite3 command-line tool, then recomputes every
// page checksum (docs/journal-format.md §1.1): an attacker with file access who knows the public
// checksum algorithm. Without the second step the page checksums alone give the edit away.
CommandResult TamperJournal(const std::filesystem::path& journal, const std::string& sql);

// A child process with stdout and stderr appended to `log`.
class Process {
 public:
  static base::Result<std::unique_ptr<Process>> Start(const std::vector<std::string>& argv,
                                                      const std::filesystem::path& log);
  ~Process();  // SIGKILL if still running
  void Signal(int sig);
  // Waits for exit; returns the exit status (or 128+signal), nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  bool Running();
  pid_t pid() const { return pid_; }
  std::string Log() const;
  // Waits until the log contains `needle`.
  bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) const;

 private:
  Process(pid_t pid, std::filesystem::path log) : pid_(pid), log_(std::move(log)) {}
  pid_t pid_;
  std::filesystem::path log_;
  bool reaped_ = false;
};

struct AgencySpec {
  std::string id;
  std::string kind;                // registry kind name: hospital, association, siao, ...
  std::vector<std::string> extra;  // more `relais registry add` flags
};

// Keys and a signed registry under `dir`, built with the `relais` CLI.
class Deployment {
 public:
  // Creates the authority and the broker ("broker-test") and signs an initial registry.
  explicit Deployment(std::filesystem::path dir);
  void Add(const AgencySpec& spec);  // keygen + registry add; call Sign() afterwards
  void Revoke(const std::string& id);
  void Sign();
  // Generates keys for an agency that is NOT in the registry.
  void KeygenOnly(const std::string& id);

  crypto::AgencyIdentity Identity(const std::string& id) const;
  schema::Registry Registry() const;
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path RegistryFile() const { return dir_ / "registry.bin"; }
  std::filesystem::path AuthorityPub() const { return dir_ / "keys" / "authority.pub"; }
  std::filesystem::path KeyFile(const std::string& id) const;
  std::string broker_id() const { return "broker-test"; }

 private:
  void Run(const std::vector<std::string>& args) const;
  std::filesystem::path dir_;
};

// Registers "hospital" (may send notice-tier discharge referrals without consent, may receive the
// answers) and receiving associations with the given ids. Call Sign() afterwards.
void AddHospitalAndAssociations(Deployment& deployment,
                                const std::vector<std::string>& associations);

// relaisd serving a Deployment on a free port.
// The flags of every agency-side command (relais consent/admin, relais-import, relais-inbox, ...):
// --key (the agency's key file) --registry --authority-pub --broker.
std::vector<std::string> AgencyFlags(const Deployment& deployment, const std::string& agency,
                                     const std::string& endpoint);
// The parts one after the other (a command line built from AgencyFlags and others).
std::vector<std::string> JoinArgs(std::initializer_list<std::vector<std::string>> parts);

class BrokerProcess {
 public:
  BrokerProcess(const Deployment& deployment, std::vector<std::string> extra_flags = {});
  ~BrokerProcess();
  // Starts (or restarts on the same port and journal) and waits until it serves.
  void Start();
  void Stop();    // SIGTERM and wait
  void Kill();    // SIGKILL and wait
  void Reload();  // SIGHUP
  // For the next Start()s: another relaisd binary (e.g. relaisd_test_hooks) and environment
  // variables ("NAME=value", set through /usr/bin/env); empty = RelaisdBin() / inherited.
  void set_binary(std::string binary) { binary_ = std::move(binary); }
  void set_env(std::vector<std::string> env) { env_ = std::move(env); }
  // For several relaisd on one Deployment: this one's journal is NAME.db and its logs NAME.N.log
  // (instead of journal.db and relaisd.N.log). Call before the first Start().
  void set_name(const std::string& name);
  std::string endpoint() const { return "tcp://127.0.0.1:" + std::to_string(port_); }
  std::filesystem::path journal() const { return journal_; }
  Process* process() { return process_.get(); }
  int metrics_port() const { return metrics_port_; }

 private:
  const Deployment& deployment_;
  std::vector<std::string> extra_flags_;
  std::string binary_;
  std::vector<std::string> env_;
  std::string name_ = "relaisd";
  int port_;
  int metrics_port_;
  std::filesystem::path journal_;
  std::unique_ptr<Process> process_;
  int starts_ = 0;
};

// An SDK client of the failover tests: `endpoints` lists several brokers (comma-separated), and
// the client moves on after 500 ms without a working connection (heartbeats every 500 ms,
// silence 3 s, ack timeout 2 s). An error is returned, not thrown (clients may connect while a
// broker is down).
base::Result<std::unique_ptr<sdk::Client>> ConnectFailoverClient(
    const Deployment& deployment, const crypto::AgencyIdentity& identity,
    const std::string& endpoints);

// An SDK client for an agency of the deployment, connected to the broker.
std::unique_ptr<sdk::Client> ConnectClient(const Deployment& deployment,
                                           const crypto::AgencyIdentity& identity,
                                           const std::string& endpoint);

// A referral from `emitter` to `recipients`, signed and sealed (notice tier, no consent needed
// for the transport tests: the registry must allow it).
// The header of a notice-tier hospital discharge referral to `recipients`, due 5 days after
// `now` (a new case unless `case_ref` is given): the one every test and benchmark publishes.
schema::Header ReferralHeader(const std::vector<std::string>& recipients, base::TimeMs now,
                              const std::string& case_ref = "");
schema::Envelope MakeReferral(const Deployment& deployment, const crypto::AgencyIdentity& emitter,
                              const std::vector<std::string>& recipients,
                              const std::string& case_ref = "");

}  // namespace relais::testing

#endif  // RELAIS_TESTS_HARNESS_HARNESS_H_
