// The MLLP listener: TCP connections from the hospital's interface engine, each message answered
// with its HL7 ACK once the AdtProcessor has durably handled it. One thread (poll loop): all the
// frames that arrived together, from every connection, are handled in one batch (group commit).
// A broken frame gets an AR; the connection stays usable.
//
// Threading: Run() on one thread; Stop() from any thread (or a signal handler).
#ifndef RELAIS_ADAPTERS_HOSPITAL_MLLP_SERVER_H_
#define RELAIS_ADAPTERS_HOSPITAL_MLLP_SERVER_H_

#include <atomic>
#include <memory>
#include <string>

#include "adapters/hospital/adt_processor.h"
#include "base/status.h"

namespace relais::hospital {

class MllpServer {
 public:
  // Binds host:port (port 0: any free port). Errors: kInvalidInput "bad_listen",
  // kRetryLater "listen_failed".
  static base::Result<std::unique_ptr<MllpServer>> Listen(const std::string& host, int port,
                                                          AdtProcessor& processor);
  ~MllpServer();
  MllpServer(const MllpServer&) = delete;
  MllpServer& operator=(const MllpServer&) = delete;

  int port() const { return port_; }
  void Run();
  void Stop() { stop_.store(true); }

  struct Connection;  // one accepted TCP connection (mllp_server.cc)

 private:
  MllpServer(int fd, int port, AdtProcessor& processor)
      : listen_fd_(fd), port_(port), processor_(processor) {}
  int listen_fd_;
  int port_;
  AdtProcessor& processor_;
  std::atomic<bool> stop_{false};
};

}  // namespace relais::hospital

#endif  // RELAIS_ADAPTERS_HOSPITAL_MLLP_SERVER_H_
