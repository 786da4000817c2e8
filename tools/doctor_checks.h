// The checks of `relais doctor` (tools/doctor_cmd.cc): each looks at one part of a deployment
// and says, in one line, what it found and what to do about it.
//
// A check never prints or returns key material or case data: only paths, modes, agency and key
// ids, seqs, dates and counts.
#ifndef RELAIS_TOOLS_DOCTOR_CHECKS_H_
#define RELAIS_TOOLS_DOCTOR_CHECKS_H_

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "crypto/identity.h"
#include "schema/registry.h"

namespace relais::tools {

enum class CheckLevel {
  kOk,
  kWarn,  // works today; needs attention (expiry soon, low disk, loose permissions)
  kFail,  // broken or unsafe: fix before relying on the deployment
  kSkip,  // could not run because an earlier check failed (never changes the exit code)
};

struct CheckResult {
  std::string check;  // "key", "registry", "agency", "broker", "journal", "disk", ...
  CheckLevel level = CheckLevel::kOk;
  std::string what;  // what was found
  std::string fix;   // what to do (empty for OK)
};

// The findings, in order, and the exit code they call for.
class DoctorReport {
 public:
  void Add(CheckResult result) { results_.push_back(std::move(result)); }
  void Ok(std::string check, std::string what) {
    Add({std::move(check), CheckLevel::kOk, std::move(what), {}});
  }
  void Warn(std::string check, std::string what, std::string fix) {
    Add({std::move(check), CheckLevel::kWarn, std::move(what), std::move(fix)});
  }
  void Fail(std::string check, std::string what, std::string fix) {
    Add({std::move(check), CheckLevel::kFail, std::move(what), std::move(fix)});
  }
  void Skip(std::string check, std::string why) {
    Add({std::move(check), CheckLevel::kSkip, std::move(why), {}});
  }
  const std::vector<CheckResult>& results() const { return results_; }
  // 0 when every check is OK (or skipped), 1 with warnings only, 2 with any failure.
  int ExitCode() const;
  // One line per check: "OK    key       what" / "WARN  disk      what -- fix: ...".
  void Print(std::ostream& out) const;

 private:
  std::vector<CheckResult> results_;
};

struct DoctorThresholds {
  int64_t key_warn_days = 30;      // an agency's last key ends within this many days: WARN
  int64_t registry_warn_days = 7;  // the registry edition expires within this many days: WARN
  double disk_warn_percent = 10;   // free space below this share of the filesystem: WARN
};

// The key file: exists, mode 0600 (no group/other bits), loads (crypto::LoadIdentity).
std::optional<crypto::AgencyIdentity> CheckKeyFile(const std::filesystem::path& key_file,
                                                   DoctorReport& report);

// The registry: signature by the authority, valid now; the edition's expiry and the agencies
// whose keys all end soon.
std::optional<schema::Registry> CheckRegistry(const std::filesystem::path& registry_file,
                                              const std::filesystem::path& authority_pub,
                                              base::TimeMs now, const DoctorThresholds& limits,
                                              DoctorReport& report);

// This agency (from its key file, else from the .pub beside it): listed, not revoked, and the key
// file's key is one of its registry keys, valid now.
void CheckAgency(const schema::Registry& registry, const crypto::PublicIdentity& me,
                 base::TimeMs now, DoctorReport& report);

// Connects to the broker with CURVE and waits for its answer to a heartbeat.
void CheckBroker(const std::vector<std::string>& endpoints, const std::string& broker_id,
                 const schema::Registry& registry, const crypto::AgencyIdentity& identity,
                 base::TimeMs now, DoctorReport& report);

// The journal: permissions, hash chain, stored checkpoints (signatures with the registry's
// broker keys when a registry is given); with `full`, every emitter signature too.
void CheckJournal(const std::filesystem::path& journal_file, const schema::Registry* registry,
                  bool full, DoctorReport& report);

// The directory exists and is not open to group/others ("state-dir" check).
void CheckStateDir(const std::filesystem::path& dir, DoctorReport& report);
// Free space of the filesystem holding `path` ("disk" check).
void CheckDiskSpace(const std::filesystem::path& path, const DoctorThresholds& limits,
                    DoctorReport& report);

}  // namespace relais::tools

#endif  // RELAIS_TOOLS_DOCTOR_CHECKS_H_
