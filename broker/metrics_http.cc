#include "broker/metrics_http.h"

#include <httplib.h>

namespace relais::broker {

struct MetricsHttp::Impl {
  httplib::Server server;
};

base::Result<std::unique_ptr<MetricsHttp>> MetricsHttp::Start(const std::string& host, int port,
                                                              const BrokerMetrics& metrics) {
  std::unique_ptr<MetricsHttp> http(new MetricsHttp());
  http->impl_ = std::make_unique<Impl>();
  httplib::Server& s = http->impl_->server;
  s.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.Render(), "text/plain; version=0.0.4");
  });
  s.Get("/healthz", [&metrics](const httplib::Request&, httplib::Response& res) {
    bool ok = metrics.healthy.load();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "unhealthy\n", "text/plain");
  });
  int bound = port == 0 ? s.bind_to_any_port(host) : (s.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return base::InvalidInput("bad_metrics_listen",
                              "cannot listen on " + host + ":" + std::to_string(port));
  }
  http->port_ = bound;
  http->thread_ = std::thread([raw = http.get()] { raw->impl_->server.listen_after_bind(); });
  return http;
}

MetricsHttp::~MetricsHttp() {
  if (impl_) impl_->server.stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace relais::broker
