// The broker's TCP listener, guarded by the kernel. A classic BPF socket filter on the listening
// socket drops every packet from a refused source, the connection request (SYN) included: such a
// client never completes the TCP handshake, so it costs the broker no accept, no ZeroMQ work and
// no CURVE work (docs/threat-model.md §4). ZeroMQ then serves on this socket (ZMQ_USE_FD); its
// accept filter stays as a second check of the allowed networks.
//
// Refused sources: addresses outside the allowed networks (--allow-from), and addresses banned
// for a while after opening too many connections (BanList). Only IPv4 is handled in the kernel:
// an endpoint that is not an IPv4 literal (a host or interface name, IPv6) or a network that is
// not IPv4 leaves the filtering to ZeroMQ's accept filter alone, and there are no bans.
#ifndef RELAIS_BROKER_TRANSPORT_LISTEN_FILTER_H_
#define RELAIS_BROKER_TRANSPORT_LISTEN_FILTER_H_

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"

namespace relais::transport {

struct Ipv4Network {
  uint32_t address = 0;  // host byte order, already masked
  uint32_t mask = 0;
  bool Contains(uint32_t ip) const { return (ip & mask) == address; }
};

// "192.0.2.7" or "10.1.0.0/16"; nullopt for anything else (IPv6, a name, a bad prefix).
std::optional<Ipv4Network> ParseIpv4Network(const std::string& text);
std::string FormatIpv4(uint32_t ip);

// The filter's jumps reach at most 255 instructions ahead: the program holds at most this many
// networks (beyond, the kernel filter is not used) and bans (beyond, the oldest ban is lifted).
inline constexpr size_t kMaxKernelNetworks = 40;
inline constexpr size_t kMaxBans = 100;

// A listening socket bound to `endpoint` ("tcp://A.B.C.D:PORT", "tcp://*:PORT", PORT may be "*"),
// non-blocking, close-on-exec, with a filter allowing `networks` (empty: every address) attached
// before bind. nullopt, with the reason in `why_not`, when the endpoint or a network is not IPv4
// (see above) or when the kernel refuses socket filters to this process (some sandboxes do, for
// unprivileged users). Errors: "bad_endpoint" (cannot bind or listen).
base::Result<std::optional<int>> OpenFilteredListener(const std::string& endpoint,
                                                      const std::vector<std::string>& networks,
                                                      int backlog, std::string* why_not);

// Replaces the filter of listening socket `fd`: drop `banned`, then allow `networks` (every
// address when empty). Connections already accepted keep the filter they were accepted with.
base::Status AttachListenFilter(int fd, const std::vector<Ipv4Network>& networks,
                                const std::vector<uint32_t>& banned);

// Source addresses opening connection after connection: more than `limit` connections within
// `window_ms` ban the address for `ban_ms`. Thread-safe.
class BanList {
 public:
  BanList(int limit, int64_t window_ms, int64_t ban_ms)
      : limit_(limit), window_ms_(window_ms), ban_ms_(ban_ms) {}
  bool enabled() const { return limit_ > 0; }
  // A connection from `ip`; true when this one bans it.
  bool Counted(uint32_t ip, int64_t now_ms);
  // Lifts the bans that expired; true when one was lifted.
  bool Expire(int64_t now_ms);
  std::vector<uint32_t> Banned() const;

 private:
  struct Source {
    int64_t window_start_ms = 0;
    int connections = 0;
  };
  const int limit_;
  const int64_t window_ms_, ban_ms_;
  mutable std::mutex mu_;
  std::map<uint32_t, Source> counting_;
  std::map<uint32_t, int64_t> banned_until_ms_;
};

}  // namespace relais::transport

#endif  // RELAIS_BROKER_TRANSPORT_LISTEN_FILTER_H_
