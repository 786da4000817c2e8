#include "adapters/inbox/notifier.h"

#include <httplib.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "adapters/sdk/json.h"
#include "base/log.h"

extern char** environ;

namespace relais::inbox {

namespace {

std::string Plural(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n > 1 ? many : one);
}

bool OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string p(path);
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::filesystem::path candidate = std::filesystem::path(p.substr(start, end - start)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

bool DesktopSession() {
  return std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY") ||
         std::getenv("DBUS_SESSION_BUS_ADDRESS");
}

base::Status RunDetached(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) {
    return base::RetryLater("notify_failed", "cannot run the notification command " + argv[0]);
  }
  std::thread([pid] {
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      base::LogWarn("notify_command_failed", {{"pid", static_cast<int64_t>(pid)}});
    }
  }).detach();
  return base::Ok();
}

base::Status PostWebhook(const std::string& url, const std::string& text) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return base::InvalidInput("bad_webhook", "the webhook URL needs http:// or https://");
  }
  size_t path_start = url.find('/', scheme_end + 3);
  std::string origin = url.substr(0, path_start);
  std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client client(origin);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  client.set_write_timeout(5);
  auto res = client.Post(path, "{\"text\":" + sdk::JsonString(text) + "}", "application/json");
  if (!res || res->status < 200 || res->status >= 300) {
    return base::RetryLater(
        "notify_failed", "webhook " + origin + " answered " +
                             (res ? std::to_string(res->status) : httplib::to_string(res.error())));
  }
  return base::Ok();
}

}  // namespace

std::string NotificationText(int new_referrals, int deadlines_soon, int alerts) {
  std::vector<std::string> parts;
  if (new_referrals > 0) {
    parts.push_back(Plural(new_referrals, "nouvelle orientation", "nouvelles orientations"));
  }
  if (deadlines_soon > 0) {
    parts.push_back(Plural(deadlines_soon, "échéance < 48 h", "échéances < 48 h"));
  }
  if (alerts > 0) parts.push_back(Plural(alerts, "alerte territoriale", "alertes territoriales"));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

Notifier::Notifier(NotifierConfig config) : config_(std::move(config)) {
  command_ = config_.command;
  if (command_.empty() && config_.desktop_default && OnPath("notify-send") && DesktopSession()) {
    command_ = {"notify-send", "relais"};
  }
}

base::Status Notifier::Notify(const std::string& text) {
  if (text.empty()) return base::Ok();
  base::LogInfo("notification", {{"text", text}});
  base::Status first = base::Ok();
  if (!command_.empty()) {
    std::vector<std::string> argv = command_;
    argv.push_back(text);
    if (auto st = RunDetached(argv); !st && first) first = st;
  }
  if (!config_.webhook_url.empty()) {
    if (auto st = PostWebhook(config_.webhook_url, text); !st && first) first = st;
  }
  if (!first) base::LogWarn("notification_failed", {{"code", first.error().code}});
  return first;
}

}  // namespace relais::inbox
