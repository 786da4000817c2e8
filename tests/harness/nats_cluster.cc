#include "tests/harness/nats_cluster.h"

#include <httplib.h>

#include <cctype>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>

namespace relais::testing {

std::string NatsServerBin() {
  if (const char* env = std::getenv("NATS_SERVER"); env != nullptr && *env != '\0') {
    return std::filesystem::exists(env) ? env : "";
  }
  for (const char* p : {"/usr/sbin/nats-server", "/usr/bin/nats-server"}) {
    if (std::filesystem::exists(p)) return p;
  }
  return "";
}

namespace {

base::Result<std::string> MonitorGet(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(std::chrono::milliseconds(500));
  client.set_read_timeout(std::chrono::seconds(2));
  auto res = client.Get(path);
  if (!res) return base::RetryLater("nats_not_healthy", "no answer on the monitor port");
  if (res->status != 200) {
    return base::RetryLater("nats_not_healthy", "HTTP " + std::to_string(res->status));
  }
  return res->body;
}

}  // namespace

base::Result<std::unique_ptr<NatsCluster>> NatsCluster::Start(int nodes,
                                                              std::filesystem::path dir) {
  std::unique_ptr<NatsCluster> c(new NatsCluster());
  c->bin_ = NatsServerBin();
  if (c->bin_.empty()) {
    return base::NotFound("nats_server_missing",
                          "nats-server not found ($NATS_SERVER, /usr/sbin, /usr/bin): the "
                          "JetStream cases need it; run scripts/install-deps.sh");
  }
  c->nodes_.resize(static_cast<size_t>(nodes));
  for (int i = 0; i < nodes; ++i) {
    Node& n = c->nodes_[i];
    n.name = "n" + std::to_string(i + 1);
    n.port = FreePort();
    n.monitor_port = FreePort();
    n.cluster_port = nodes > 1 ? FreePort() : 0;
    n.config = dir / (n.name + ".conf");
    n.store = dir / (n.name + "-store");
    n.log = dir / (n.name + ".log");
  }
  for (const Node& n : c->nodes_) {
    std::ofstream conf(n.config);
    conf << "server_name: " << n.name << "\nlisten: 127.0.0.1:" << n.port
         << "\nhttp: 127.0.0.1:" << n.monitor_port << "\njetstream {\n  store_dir: \""
         << n.store.string() << "\"\n}\n";
    if (nodes > 1) {
      conf << "cluster {\n  name: relais-test\n  listen: 127.0.0.1:" << n.cluster_port
           << "\n  routes: [\n";
      for (const Node& peer : c->nodes_) {
        if (&peer != &n) conf << "    nats://127.0.0.1:" << peer.cluster_port << "\n";
      }
      conf << "  ]\n}\n";
    }
  }
  for (int i = 0; i < nodes; ++i) RELAIS_RETURN_IF_ERROR(c->Launch(i));
  for (int i = 0; i < nodes; ++i) {
    RELAIS_RETURN_IF_ERROR(c->WaitHealthy(i, std::chrono::seconds(20)));
  }
  return c;
}

NatsCluster::~NatsCluster() {
  for (Node& n : nodes_) {
    if (n.process != nullptr && n.process->Running()) n.process->Signal(SIGTERM);
  }
  for (int i = 0; i < size(); ++i) Stop(i);
}

base::Status NatsCluster::Launch(int node) {
  Node& n = nodes_[node];
  auto p = Process::Start({bin_, "-c", n.config.string()}, n.log);
  if (!p) return std::move(p).error();
  n.process = std::move(*p);
  return base::Ok();
}

std::vector<std::string> NatsCluster::urls() const {
  std::vector<std::string> out;
  for (const Node& n : nodes_) out.push_back("nats://127.0.0.1:" + std::to_string(n.port));
  return out;
}

pid_t NatsCluster::pid(int node) const {
  const auto& p = nodes_[node].process;
  return p != nullptr ? p->pid() : -1;
}

std::string NatsCluster::Log(int node) const {
  std::ifstream in(nodes_[node].log);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void NatsCluster::Kill(int node) {
  auto& p = nodes_[node].process;
  if (p == nullptr) return;
  p->Signal(SIGKILL);
  p->Wait(std::chrono::seconds(20));
  p.reset();
}

void NatsCluster::Stop(int node) {
  auto& p = nodes_[node].process;
  if (p == nullptr) return;
  p->Signal(SIGTERM);
  if (!p->Wait(std::chrono::seconds(20))) {
    p->Signal(SIGKILL);
    p->Wait(std::chrono::seconds(20));
  }
  p.reset();
}

base::Status NatsCluster::Restart(int node) {
  if (nodes_[node].process != nullptr) Stop(node);
  RELAIS_RETURN_IF_ERROR(Launch(node));
  return WaitHealthy(node, std::chrono::seconds(20));
}

base::Status NatsCluster::RestartAll() {
  for (int i = 0; i < size(); ++i) Stop(i);
  for (int i = 0; i < size(); ++i) RELAIS_RETURN_IF_ERROR(Launch(i));
  for (int i = 0; i < size(); ++i) {
    RELAIS_RETURN_IF_ERROR(WaitHealthy(i, std::chrono::seconds(20)));
  }
  return base::Ok();
}

base::Status NatsCluster::WaitHealthy(int node, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto body = MonitorGet(nodes_[node].monitor_port, "/healthz?js-server-only=true");
    if (body) return base::Ok();
    if (nodes_[node].process == nullptr || !nodes_[node].process->Running()) {
      return base::RetryLater("nats_not_healthy", name(node) + " exited: " + Log(node));
    }
    if (std::chrono::steady_clock::now() >= end) {
      return base::RetryLater("nats_not_healthy", name(node) + ": " + body.error().message);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

base::Result<std::string> NatsCluster::Monitor(int node, const std::string& path) const {
  return MonitorGet(nodes_[node].monitor_port, path);
}

base::Result<int> NatsCluster::StreamLeader(const std::string& stream) {
  for (int i = 0; i < size(); ++i) {
    if (nodes_[i].process == nullptr) continue;
    auto body = MonitorGet(nodes_[i].monitor_port, "/jsz?accounts=true&streams=true");
    if (!body) continue;
    std::erase_if(*body, [](char ch) { return std::isspace(static_cast<unsigned char>(ch)); });
    // ... "stream_detail":[{"name":"S", ..., "cluster":{"name":"relais-test","leader":"n2",...
    const size_t at = body->find("\"name\":\"" + stream + "\"");
    if (at == std::string::npos) continue;
    const std::string key = "\"leader\":\"";
    const size_t l = body->find(key, at);
    if (l == std::string::npos) continue;
    const size_t start = l + key.size();
    const std::string leader = body->substr(start, body->find('"', start) - start);
    for (int k = 0; k < size(); ++k) {
      if (nodes_[k].name == leader) return k;
    }
  }
  return base::NotFound("no_stream_leader", "no node reports a leader for the stream");
}

base::Result<int> NatsCluster::KillStreamLeader(const std::string& stream) {
  RELAIS_ASSIGN_OR_RETURN(int leader, StreamLeader(stream));
  Kill(leader);
  return leader;
}

}  // namespace relais::testing
