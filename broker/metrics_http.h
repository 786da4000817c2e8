// The loopback HTTP endpoint for /metrics (Prometheus text) and /healthz, on its own thread.
// The only includer of httplib.h.
#ifndef RELAIS_BROKER_METRICS_HTTP_H_
#define RELAIS_BROKER_METRICS_HTTP_H_

#include <memory>
#include <string>
#include <thread>

#include "base/status.h"
#include "broker/metrics.h"

namespace relais::broker {

class MetricsHttp {
 public:
  // Binds host:port (port 0 picks a free port) and serves until destroyed.
  static base::Result<std::unique_ptr<MetricsHttp>> Start(const std::string& host, int port,
                                                          const BrokerMetrics& metrics);
  ~MetricsHttp();
  int Port() const { return port_; }

  struct Impl;

 private:
  MetricsHttp() = default;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace relais::broker

#endif  // RELAIS_BROKER_METRICS_HTTP_H_
