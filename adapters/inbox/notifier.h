// Content-free notifications: "2 nouvelles orientations, 1 échéance < 48 h". Never a name, case
// ref or any other case data: the text is built from counts only (NotificationText).
//
// Channels (docs/adapters/inbox.md §Notifications), all optional, combined:
//   - a log line `notification text="..."` (always);
//   - a command run without a shell, the text appended as its last argument
//     (e.g. --notify-command notify-send --notify-command relais);
//   - a webhook: HTTP(S) POST of {"text": "..."} to a URL.
// By default (no command given) the inbox uses `notify-send relais TEXT` when notify-send is on
// the PATH and a desktop session is present (DISPLAY, WAYLAND_DISPLAY or DBUS_SESSION_BUS_ADDRESS).
//
// Threading: Notify may be called from any one thread at a time; commands run detached (reaped by
// a background thread) and webhooks are posted synchronously with a 5 s timeout.
#ifndef RELAIS_ADAPTERS_INBOX_NOTIFIER_H_
#define RELAIS_ADAPTERS_INBOX_NOTIFIER_H_

#include <string>
#include <vector>

#include "base/status.h"

namespace relais::inbox {

struct NotifierConfig {
  std::vector<std::string> command;  // argv; empty: default (notify-send when available)
  std::string webhook_url;           // http:// or https://; empty: none
  bool desktop_default = true;       // false: no notify-send fallback
};

// "1 nouvelle orientation", "2 nouvelles orientations, 1 échéance < 48 h", ... Empty when both
// counts are 0.
std::string NotificationText(int new_referrals, int deadlines_soon, int alerts = 0);

class Notifier {
 public:
  explicit Notifier(NotifierConfig config);
  // Sends `text` on every channel; returns the first channel error (kRetryLater "notify_failed"),
  // after trying them all.
  base::Status Notify(const std::string& text);
  const std::vector<std::string>& command() const { return command_; }

 private:
  NotifierConfig config_;
  std::vector<std::string> command_;
};

}  // namespace relais::inbox

#endif  // RELAIS_ADAPTERS_INBOX_NOTIFIER_H_
