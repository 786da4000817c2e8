// The engines under the StreamLog conformance suite: the embedded SQLite file, and JetStream on a
// single node (R1) or a 3-node cluster (R3) started by the test with tests/harness/nats_cluster.h.
#ifndef RELAIS_TESTS_CONFORMANCE_BACKEND_H_
#define RELAIS_TESTS_CONFORMANCE_BACKEND_H_

#include <memory>
#include <ostream>
#include <string>

#include "base/status.h"
#include "broker/stream_log.h"
#include "tests/harness/harness.h"
#include "tests/harness/nats_cluster.h"

namespace relais::conformance {

struct BackendSpec {
  std::string name;  // "sqlite", "jetstream_r1", "jetstream_r3" (test name suffix)
  int nodes = 0;     // 0: SQLite; 1 or 3: JetStream servers (and replicas)
};

inline void PrintTo(const BackendSpec& spec, std::ostream* os) { *os << spec.name; }

inline constexpr char kStream[] = "RELAIS_CONFORMANCE";
inline constexpr char kSubjects[] = "relais.test.>";

class Backend {
 public:
  explicit Backend(BackendSpec spec) : spec_(std::move(spec)) {}
  // Starts the servers (JetStream) and opens the log.
  base::Status Start();
  broker::StreamLog& log() { return *log_; }
  // Closes the log (every cursor must be gone) and opens it again.
  base::Status Reopen();
  // Closes the log, stops the engine (JetStream: every server, SIGTERM), starts it again on the
  // same data and reopens the log.
  base::Status RestartEngine();
  testing::NatsCluster* cluster() { return cluster_.get(); }
  const BackendSpec& spec() const { return spec_; }

 private:
  base::Status Open();

  BackendSpec spec_;
  testing::TempDir dir_;
  std::unique_ptr<testing::NatsCluster> cluster_;
  std::unique_ptr<broker::StreamLog> log_;
};

}  // namespace relais::conformance

#endif  // RELAIS_TESTS_CONFORMANCE_BACKEND_H_
