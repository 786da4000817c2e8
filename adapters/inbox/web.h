// The inbox's local web page (docs/adapters/inbox.md §Web page): cpp-httplib bound to 127.0.0.1,
// staff login (Argon2id hashes in the store), session cookie HttpOnly + SameSite=Strict, a CSRF
// token on every form, server-rendered French HTML (web_pages.h). Actions (accept, decline,
// pickup) publish through the broker with a connection per action and show the broker's ack.
//
// Threading: httplib serves requests on its own thread pool; the server opens its own Store
// connection and serialises its use with a mutex. Start() returns once the socket listens.
#ifndef RELAIS_ADAPTERS_INBOX_WEB_H_
#define RELAIS_ADAPTERS_INBOX_WEB_H_

#include <filesystem>
#include <memory>
#include <string>

#include "adapters/inbox/agency.h"
#include "adapters/inbox/store.h"
#include "base/clock.h"
#include "base/status.h"

namespace relais::inbox {

struct WebOptions {
  std::string bind = "127.0.0.1";  // anything but a loopback address is refused
  int port = 8470;                 // 0: any free port (see WebServer::port)
  std::filesystem::path store;
  StoreKeySource key;
  int session_minutes = 480;  // a working day
};

class WebServer {
 public:
  // Errors: kInvalidInput "not_loopback" (bind is not 127.0.0.1 / ::1 / localhost), the store's
  // errors, kRetryLater "cannot_listen".
  static base::Result<std::unique_ptr<WebServer>> Start(const InboxAgency& agency,
                                                        WebOptions options,
                                                        const base::Clock& clock);
  ~WebServer();  // stops and joins
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;
  int port() const;

  struct Impl;

 private:
  explicit WebServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace relais::inbox

#endif  // RELAIS_ADAPTERS_INBOX_WEB_H_
