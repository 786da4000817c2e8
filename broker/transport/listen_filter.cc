#include "broker/transport/listen_filter.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace relais::transport {

namespace {

// The endpoint's address and port; nullopt when it is not "tcp://IPV4:PORT".
std::optional<sockaddr_in> ParseEndpoint(const std::string& endpoint) {
  const std::string scheme = "tcp://";
  if (endpoint.rfind(scheme, 0) != 0) return std::nullopt;
  const std::string rest = endpoint.substr(scheme.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  const std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (host == "*") {
    sa.sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (in_addr a{}; inet_pton(AF_INET, host.c_str(), &a) == 1) {
    sa.sin_addr = a;
  } else {
    return std::nullopt;
  }
  if (port != "*") {
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != port.npos) {
      return std::nullopt;
    }
    const int n = std::stoi(port);
    if (n > 65535) return std::nullopt;
    sa.sin_port = htons(static_cast<uint16_t>(n));
  }
  return sa;
}

sock_filter Stmt(uint16_t code, uint32_t k) { return BPF_STMT(code, k); }
sock_filter Jump(uint32_t k, size_t from, size_t to_true) {
  return BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, k, static_cast<uint8_t>(to_true - (from + 1)), 0);
}

// Loads the IPv4 source address and drops each banned address; then, per network, loads it
// again, masks and compares. The last two instructions drop (return 0) and accept (return the whole
// packet).
std::vector<sock_filter> FilterProgram(const std::vector<Ipv4Network>& networks,
                                       const std::vector<uint32_t>& banned) {
  const uint32_t kSource = static_cast<uint32_t>(SKF_NET_OFF + 12);
  const size_t drop_at = 1 + banned.size() + (networks.empty() ? 1 : 3 * networks.size());
  const size_t accept_at = drop_at + 1;
  std::vector<sock_filter> code;
  code.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kSource));
  for (uint32_t ip : banned) code.push_back(Jump(ip, code.size(), drop_at));
  if (networks.empty()) code.push_back(Stmt(BPF_RET | BPF_K, 0xffffffffu));
  for (const Ipv4Network& n : networks) {
    code.push_back(Stmt(BPF_LD | BPF_W | BPF_ABS, kSource));
    code.push_back(Stmt(BPF_ALU | BPF_AND | BPF_K, n.mask));
    code.push_back(Jump(n.address, code.size(), accept_at));
  }
  code.push_back(Stmt(BPF_RET | BPF_K, 0));
  code.push_back(Stmt(BPF_RET | BPF_K, 0xffffffffu));
  return code;
}

std::string Errno(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

std::string FormatIpv4(uint32_t ip) {
  in_addr a{htonl(ip)};
  char text[INET_ADDRSTRLEN];
  return inet_ntop(AF_INET, &a, text, sizeof text) != nullptr ? text : "?";
}

std::optional<Ipv4Network> ParseIpv4Network(const std::string& text) {
  const size_t slash = text.find('/');
  const std::string address = text.substr(0, slash);
  in_addr a{};
  if (inet_pton(AF_INET, address.c_str(), &a) != 1) return std::nullopt;
  int prefix = 32;
  if (slash != std::string::npos) {
    const std::string p = text.substr(slash + 1);
    if (p.empty() || p.size() > 2 || p.find_first_not_of("0123456789") != p.npos) {
      return std::nullopt;
    }
    prefix = std::stoi(p);
    if (prefix > 32) return std::nullopt;
  }
  const uint32_t mask = prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
  return Ipv4Network{ntohl(a.s_addr) & mask, mask};
}

base::Status AttachListenFilter(int fd, const std::vector<Ipv4Network>& networks,
                                const std::vector<uint32_t>& banned) {
  std::vector<sock_filter> code = FilterProgram(networks, banned);
  sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof program) != 0) {
    return base::FailStop("listen_filter", Errno("SO_ATTACH_FILTER"));
  }
  return base::Ok();
}

base::Result<std::optional<int>> OpenFilteredListener(const std::string& endpoint,
                                                      const std::vector<std::string>& networks,
                                                      int backlog, std::string* why_not) {
  const std::optional<int> none;
  auto address = ParseEndpoint(endpoint);
  if (!address) {
    *why_not = "the endpoint is not tcp://IPV4:PORT";
    return none;
  }
  if (networks.size() > kMaxKernelNetworks) {
    *why_not = "more than " + std::to_string(kMaxKernelNetworks) + " allow-from networks";
    return none;
  }
  std::vector<Ipv4Network> parsed;
  for (const std::string& text : networks) {
    auto n = ParseIpv4Network(text);
    if (!n) {
      *why_not = "an allow-from network is not IPv4";
      return none;
    }
    parsed.push_back(*n);
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return base::FailStop("bad_endpoint", Errno("socket"));
  auto fail = [fd, &endpoint](const std::string& code, const std::string& why) -> base::Error {
    close(fd);
    return base::InvalidInput(code, "cannot listen on " + endpoint + ": " + why);
  };
  // Attached before bind: no connection is queued before the filter is in place.
  if (auto st = AttachListenFilter(fd, parsed, {}); !st) {
    close(fd);
    *why_not = "the kernel refused the socket filter (" + st.error().message + ")";
    return none;
  }
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
    return fail("bad_endpoint", Errno("SO_REUSEADDR"));
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0) {
    return fail("bad_endpoint", Errno("bind"));
  }
  if (listen(fd, backlog) != 0) return fail("bad_endpoint", Errno("listen"));
  return std::optional<int>(fd);
}

bool BanList::Counted(uint32_t ip, int64_t now_ms) {
  if (!enabled()) return false;
  std::lock_guard lock(mu_);
  if (banned_until_ms_.contains(ip)) return false;
  Source& s = counting_[ip];
  if (now_ms - s.window_start_ms > window_ms_) s = Source{now_ms, 0};
  if (++s.connections <= limit_) return false;
  counting_.erase(ip);
  if (banned_until_ms_.size() >= kMaxBans) {
    banned_until_ms_.erase(
        std::min_element(banned_until_ms_.begin(), banned_until_ms_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; }));
  }
  banned_until_ms_[ip] = now_ms + ban_ms_;
  // Sources counted long ago are forgotten, so that the table stays small.
  std::erase_if(counting_,
                [&](const auto& kv) { return now_ms - kv.second.window_start_ms > window_ms_; });
  return true;
}

bool BanList::Expire(int64_t now_ms) {
  std::lock_guard lock(mu_);
  return std::erase_if(banned_until_ms_, [&](const auto& kv) { return kv.second <= now_ms; }) > 0;
}

std::vector<uint32_t> BanList::Banned() const {
  std::lock_guard lock(mu_);
  std::vector<uint32_t> out;
  for (const auto& [ip, until] : banned_until_ms_) out.push_back(ip);
  return out;
}

}  // namespace relais::transport
