#include "adapters/hospital/mllp_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <list>
#include <optional>
#include <vector>

#include "adapters/hospital/mllp.h"
#include "base/log.h"

namespace relais::hospital {

struct MllpServer::Connection {
  int fd = -1;
  MllpDecoder decoder;
  std::string out;  // ACK bytes not yet written
  bool closed = false;
  uint64_t id = 0;
};

namespace {

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK); }

}  // namespace

base::Result<std::unique_ptr<MllpServer>> MllpServer::Listen(const std::string& host, int port,
                                                             AdtProcessor& processor) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (port < 0 || port > 65535 || inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    return base::InvalidInput("bad_listen", "--listen: expected IPV4:PORT, e.g. 0.0.0.0:2575");
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 64) != 0) {
    std::string why = std::strerror(errno);
    if (fd >= 0) close(fd);
    return base::RetryLater("listen_failed",
                            "cannot listen on " + host + ":" + std::to_string(port) + ": " + why);
  }
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  SetNonBlocking(fd);
  return std::unique_ptr<MllpServer>(new MllpServer(fd, ntohs(addr.sin_port), processor));
}

MllpServer::~MllpServer() { close(listen_fd_); }

namespace {

void Flush(MllpServer::Connection& c) {
  while (!c.out.empty()) {
    ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      c.closed = true;
      return;
    }
  }
}

}  // namespace

void MllpServer::Run() {
  std::list<Connection> conns;
  uint64_t next_id = 0;
  std::vector<pollfd> fds;
  char buf[65536];
  while (!stop_.load()) {
    fds.clear();
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& c : conns) {
      fds.push_back({c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
    }
    int n = poll(fds.data(), fds.size(), 100);
    if (n < 0 && errno != EINTR) break;
    if (n <= 0) continue;
    const size_t polled = conns.size();  // connections accepted below were not polled yet
    if (fds[0].revents & POLLIN) {
      while (true) {
        int cfd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (cfd < 0) break;
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conns.emplace_back();
        conns.back().fd = cfd;
        conns.back().id = ++next_id;
        base::LogInfo("mllp_connected", {{"conn", conns.back().id}});
      }
    }
    // Read everything available; collect the frames of every connection into one batch.
    std::vector<std::string> batch;
    std::vector<std::pair<Connection*, std::optional<base::Error>>> owners;
    size_t i = 1;
    for (auto& c : conns) {
      if (i > polled) break;
      short ev = fds[i++].revents;
      if (ev & POLLOUT) Flush(c);
      if (!(ev & (POLLIN | POLLHUP | POLLERR))) continue;
      while (true) {
        ssize_t r = recv(c.fd, buf, sizeof buf, 0);
        if (r > 0) {
          std::vector<base::Result<std::string>> frames;
          c.decoder.Feed(std::string_view(buf, static_cast<size_t>(r)), frames);
          for (auto& f : frames) {
            if (f) {
              batch.push_back(std::move(*f));
              owners.push_back({&c, std::nullopt});
            } else {
              owners.push_back({&c, std::move(f).error()});
            }
          }
          if (static_cast<size_t>(r) < sizeof buf) break;
        } else if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          break;
        } else if (r < 0 && errno == EINTR) {
          continue;
        } else {
          c.closed = true;
          break;
        }
      }
    }
    if (!owners.empty()) {
      std::vector<std::string> acks = processor_.HandleBatch(batch);
      size_t next = 0;
      for (auto& [conn, error] : owners) {
        std::string ack = error ? processor_.FramingError(*error) : std::move(acks[next++]);
        conn->out += MllpFrame(ack);
      }
      for (auto& c : conns) Flush(c);
    }
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->closed) {
        base::LogInfo("mllp_closed", {{"conn", it->id}});
        close(it->fd);
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& c : conns) close(c.fd);
}

}  // namespace relais::hospital
