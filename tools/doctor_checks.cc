#include "tools/doctor_checks.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ostream>

#include "adapters/sdk/client.h"
#include "adapters/sdk/envelope_builder.h"
#include "base/bytes.h"

namespace relais::tools {

namespace fs = std::filesystem;

namespace {

const char* LevelName(CheckLevel level) {
  switch (level) {
    case CheckLevel::kOk:
      return "OK";
    case CheckLevel::kWarn:
      return "WARN";
    case CheckLevel::kFail:
      return "FAIL";
    case CheckLevel::kSkip:
      return "SKIP";
  }
  return "?";
}

std::string OctalMode(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string Days(base::TimeMs ms) {
  int64_t days = ms / base::kMsPerDay;
  return std::to_string(days) + (days == 1 ? " day" : " days");
}

// The registry error's fix, by code (docs/registry.md).
std::string RegistryFix(const std::string& code) {
  if (code == "registry_expired") {
    return "the authority signs a new edition (relais registry sign REG --authority-key ...), "
           "then install it and reload relaisd (systemctl reload relaisd)";
  }
  if (code == "registry_unsigned") {
    return "the registry was edited: the authority must sign it (relais registry sign)";
  }
  if (code == "registry_bad_signature" || code == "wrong_authority") {
    return "use the registry file and the --authority-pub of the same authority; if both are "
           "right the file was altered: fetch it again from the authority";
  }
  if (code == "no_pub_file" || code == "bad_pub_file") {
    return "give the registry authority's .pub file with --authority-pub";
  }
  return "check --registry and --authority-pub (relais registry verify REG --authority-pub ...)";
}

}  // namespace

int DoctorReport::ExitCode() const {
  int code = 0;
  for (const CheckResult& r : results_) {
    if (r.level == CheckLevel::kFail) return 2;
    if (r.level == CheckLevel::kWarn) code = 1;
  }
  return code;
}

void DoctorReport::Print(std::ostream& out) const {
  for (const CheckResult& r : results_) {
    std::string level = LevelName(r.level);
    std::string check = r.check;
    level.resize(6, ' ');
    check.resize(std::max<size_t>(check.size() + 1, 10), ' ');
    out << level << check << r.what;
    if (!r.fix.empty()) out << " -- fix: " << r.fix;
    out << "\n";
  }
}

std::optional<crypto::AgencyIdentity> CheckKeyFile(const fs::path& key_file, DoctorReport& report) {
  struct stat st;
  if (::stat(key_file.c_str(), &st) != 0) {
    report.Fail("key", key_file.string() + ": no such file",
                "give this agency's key file with --key (made by relais keygen)");
    return std::nullopt;
  }
  if ((st.st_mode & 077) != 0) {
    report.Fail("key",
                key_file.string() + " has mode " + OctalMode(st.st_mode) +
                    ": the secret keys are readable by group or others",
                "chmod 600 " + key_file.string() +
                    " (owned by the user that runs the service), and consider the keys "
                    "exposed if others could log in: rotate them (docs/operations.md)");
    return std::nullopt;
  }
  auto identity = crypto::LoadIdentity(key_file);
  if (!identity) {
    report.Fail("key",
                key_file.string() + ": " + identity.error().code + ": " + identity.error().message,
                "run doctor as the key's owner or root (runuser -u relais -- relais doctor "
                "...); the file must be one made by relais keygen");
    return std::nullopt;
  }
  report.Ok("key", key_file.string() + ": agency " + identity->pub.agency_id + ", key id " +
                       identity->pub.key_id + ", mode " + OctalMode(st.st_mode));
  return std::move(*identity);
}

std::optional<schema::Registry> CheckRegistry(const fs::path& registry_file,
                                              const fs::path& authority_pub, base::TimeMs now,
                                              const DoctorThresholds& limits,
                                              DoctorReport& report) {
  auto registry = sdk::LoadRegistry(registry_file, authority_pub, now);
  if (!registry) {
    report.Fail(
        "registry",
        registry_file.string() + ": " + registry.error().code + ": " + registry.error().message,
        RegistryFix(registry.error().code));
    return std::nullopt;
  }
  const base::TimeMs left = registry->expires_at - now;
  const std::string edition = registry_file.string() + ": serial " +
                              std::to_string(registry->serial) + ", signature valid, " +
                              std::to_string(registry->agencies.size()) + " agencies, expires " +
                              base::FormatIsoUtc(registry->expires_at);
  if (left < limits.registry_warn_days * base::kMsPerDay) {
    report.Warn("registry", edition + " (in " + Days(left) + ")",
                "the authority signs the next edition (relais registry sign), then install it "
                "and reload relaisd before it expires: an expired registry stops every exchange");
  } else {
    report.Ok("registry", edition);
  }
  // Agencies whose every key has ended or ends soon (valid_until 0: no end).
  std::vector<std::string> ending;
  for (const schema::Agency& agency : registry->agencies) {
    if (agency.revoked || agency.keys.empty()) continue;
    base::TimeMs last = 0;
    bool endless = false;
    for (const schema::AgencyKey& key : agency.keys) {
      if (key.valid_until == 0) endless = true;
      last = std::max(last, key.valid_until);
    }
    if (endless) continue;
    if (last <= now) {
      ending.push_back(agency.id + " (ended " + base::FormatIsoUtc(last) + ")");
    } else if (last - now < limits.key_warn_days * base::kMsPerDay) {
      ending.push_back(agency.id + " (" + base::FormatIsoUtc(last) + ")");
    }
  }
  if (ending.empty()) {
    report.Ok("keys",
              "no agency's keys end within " + std::to_string(limits.key_warn_days) + " days");
  } else {
    std::string list;
    for (size_t i = 0; i < ending.size() && i < 5; ++i) list += (i ? ", " : "") + ending[i];
    if (ending.size() > 5) list += ", ...";
    report.Warn("keys",
                std::to_string(ending.size()) + " agencies' keys have ended or end within " +
                    std::to_string(limits.key_warn_days) + " days: " + list,
                "each agency makes a new key (relais keygen) and the authority registers it "
                "and signs the registry before the old one ends (docs/operations.md)");
  }
  return std::move(*registry);
}

void CheckAgency(const schema::Registry& registry, const crypto::PublicIdentity& me,
                 base::TimeMs now, DoctorReport& report) {
  const schema::Agency* agency = registry.Find(me.agency_id);
  if (agency == nullptr) {
    report.Fail("agency", "agency " + me.agency_id + " is not in the registry",
                "send " + me.agency_id +
                    ".pub to the registry authority (relais registry add, then sign), or use "
                    "the key file of an agency that is listed");
    return;
  }
  if (agency->revoked) {
    report.Fail(
        "agency",
        "agency " + me.agency_id + " is revoked since " + base::FormatIsoUtc(agency->revoked_at),
        "the broker refuses a revoked agency: ask the registry authority, or use the "
        "key of the agency that replaces it");
    return;
  }
  const schema::AgencyKey* key = nullptr;
  for (const schema::AgencyKey& k : agency->keys) {
    if (k.key_id == me.key_id) key = &k;
  }
  if (key == nullptr) {
    report.Fail("agency",
                "the key file's key id " + me.key_id + " is not a registry key of " + me.agency_id,
                "use the key file whose .pub was registered, or register this one (relais "
                "registry add) and sign the registry");
    return;
  }
  if (key->valid_from > now || (key->valid_until != 0 && key->valid_until <= now)) {
    report.Fail("agency",
                "key " + me.key_id + " of " + me.agency_id + " is not valid now (valid " +
                    base::FormatIsoUtc(key->valid_from) + " to " +
                    (key->valid_until ? base::FormatIsoUtc(key->valid_until) : "no end") + ")",
                "register a current key for this agency and sign the registry");
    return;
  }
  report.Ok("agency", me.agency_id + " (" + schema::AgencyKindName(agency->kind) +
                          ") is listed, not revoked, key " + me.key_id + " valid now");
}

void CheckBroker(const std::vector<std::string>& endpoints, const std::string& broker_id,
                 const schema::Registry& registry, const crypto::AgencyIdentity& identity,
                 base::TimeMs now, DoctorReport& report) {
  std::string where;
  for (const std::string& e : endpoints) where += (where.empty() ? "" : ", ") + e;
  auto broker_key = sdk::BrokerCurveKey(registry, now, broker_id);
  if (!broker_key) {
    report.Fail("broker", broker_key.error().code + ": " + broker_key.error().message,
                "the registry must list one broker agency (or give --broker-id)");
    return;
  }
  sdk::ClientOptions options;
  options.endpoints = endpoints;
  options.broker_curve_public = std::move(*broker_key);
  options.identity = &identity;
  options.connect_timeout = std::chrono::milliseconds(3000);
  options.close_linger = std::chrono::milliseconds(0);
  const auto started = std::chrono::steady_clock::now();
  auto client = sdk::Client::Connect(options);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - started)
                      .count();
  if (client) {
    report.Ok("broker", where + " answered the CURVE handshake and a heartbeat in " +
                            std::to_string(ms) + " ms");
    return;
  }
  const base::Error& error = client.error();
  if (error.code == "handshake_refused") {
    report.Fail("broker", where + " refused this agency's CURVE key",
                "the registry relaisd has loaded does not list this key, or lists the agency "
                "as revoked: install the current registry and reload relaisd "
                "(systemctl reload relaisd, or relais admin reload)");
  } else if (error.code == "no_answer") {
    report.Fail("broker", "no answer from " + where + " within 3 s",
                "is relaisd running there (systemctl status relaisd; journalctl -u relaisd), "
                "does the firewall let the port through, and does relaisd's registry list "
                "this agency's CURVE key?");
  } else {
    report.Fail("broker", where + ": " + error.code + ": " + error.message,
                "check --broker (tcp://HOST:PORT)");
  }
}

void CheckDiskSpace(const fs::path& path, const DoctorThresholds& limits, DoctorReport& report) {
  struct statvfs vfs;
  if (::statvfs(path.c_str(), &vfs) != 0 || vfs.f_blocks == 0) {
    report.Fail("disk", "cannot read the free space of " + path.string(),
                "check that the path exists");
    return;
  }
  const double percent =
      100.0 * static_cast<double>(vfs.f_bavail) / static_cast<double>(vfs.f_blocks);
  const uint64_t free_mib = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize >> 20;
  char text[128];
  std::snprintf(text, sizeof text, ": %.1f%% free (%llu MiB)", percent,
                static_cast<unsigned long long>(free_mib));
  if (percent < limits.disk_warn_percent) {
    report.Warn("disk", path.string() + text,
                "free space or grow the filesystem: relaisd stops accepting events when the "
                "journal cannot grow (sizing in docs/operations.md)");
  } else {
    report.Ok("disk", path.string() + text);
  }
}

void CheckStateDir(const fs::path& dir, DoctorReport& report) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    report.Fail("state-dir", dir.string() + ": no such directory",
                "install -d -o relais -g relais -m 0700 " + dir.string() +
                    " (the systemd unit's StateDirectory= creates it)");
    return;
  }
  if ((st.st_mode & 077) != 0) {
    report.Warn("state-dir",
                dir.string() + " has mode " + OctalMode(st.st_mode) +
                    ": open to group or others (the journal holds sealed case data)",
                "chmod 700 " + dir.string());
  } else {
    report.Ok("state-dir", dir.string() + ": mode " + OctalMode(st.st_mode));
  }
}

}  // namespace relais::tools
