// Test-only: 1 or 3 Debian `nats-server` processes with JetStream on 127.0.0.1, free ports,
// temporary store directories (a cluster with routes for 3 nodes), health checks on the monitor
// port, and the failover tools (SIGKILL the stream leader, restart a node on the same ports and
// store). Every process started here is stopped by its PID (SIGTERM, then SIGKILL) by the
// destructor. Used by tests/conformance and tests/bench.
#ifndef RELAIS_TESTS_HARNESS_NATS_CLUSTER_H_
#define RELAIS_TESTS_HARNESS_NATS_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "tests/harness/harness.h"

namespace relais::testing {

// $NATS_SERVER when set (empty if that file does not exist), else /usr/sbin/nats-server or
// /usr/bin/nats-server; empty when none exists.
std::string NatsServerBin();

class NatsCluster {
 public:
  // Starts `nodes` (1 or 3) servers under `dir` (config, logs, stores) and waits until every one
  // answers /healthz?js-server-only=true. kNotFound "nats_server_missing" when no binary exists
  // (install it with scripts/install-deps.sh); kRetryLater "nats_not_healthy" on timeout.
  static base::Result<std::unique_ptr<NatsCluster>> Start(int nodes, std::filesystem::path dir);
  ~NatsCluster();
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  int size() const { return static_cast<int>(nodes_.size()); }
  // Client URLs of every node ("nats://127.0.0.1:PORT"), node 0 first.
  std::vector<std::string> urls() const;
  std::string name(int node) const { return nodes_[node].name; }  // "n1", "n2", ...
  pid_t pid(int node) const;                                      // -1 when the node is down
  std::filesystem::path store_dir(int node) const { return nodes_[node].store; }
  std::string Log(int node) const;

  void Kill(int node);  // SIGKILL, waits for the exit
  void Stop(int node);  // SIGTERM, waits for the exit (SIGKILL after 20 s)
  // Starts a stopped node again on the same ports and store and waits until healthy.
  base::Status Restart(int node);
  // Stops every node (SIGTERM), starts them all again on the same ports and stores, waits healthy.
  base::Status RestartAll();
  base::Status WaitHealthy(int node, std::chrono::milliseconds timeout);

  // GET `path` (e.g. "/jsz?streams=true&config=true") on a node's monitoring port: the body.
  base::Result<std::string> Monitor(int node, const std::string& path) const;

  // The node currently leading `stream`'s Raft group, asked from the monitoring endpoint
  // (/jsz?accounts=true&streams=true) of the running nodes. kNotFound "no_stream_leader".
  base::Result<int> StreamLeader(const std::string& stream);
  // SIGKILLs the stream leader; returns its index (restart it with Restart).
  base::Result<int> KillStreamLeader(const std::string& stream);

 private:
  struct Node {
    std::string name;
    int port = 0;
    int monitor_port = 0;
    int cluster_port = 0;
    std::filesystem::path config;
    std::filesystem::path store;
    std::filesystem::path log;
    std::unique_ptr<Process> process;
  };
  NatsCluster() = default;
  base::Status Launch(int node);

  std::string bin_;
  std::vector<Node> nodes_;
};

}  // namespace relais::testing

#endif  // RELAIS_TESTS_HARNESS_NATS_CLUSTER_H_
