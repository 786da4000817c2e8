// A minimal MLLP client for the hospital adapter's tests, written independently of the adapter's
// own framer: blocking TCP, 0x0B message 0x1C 0x0D out, reads up to the next 0x1C back.
#ifndef RELAIS_TESTS_INTEGRATION_MLLP_TEST_CLIENT_H_
#define RELAIS_TESTS_INTEGRATION_MLLP_TEST_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace relais::testing {

class MllpTestClient {
 public:
  // Connects to 127.0.0.1:port, retrying for up to `wait`.
  explicit MllpTestClient(int port, std::chrono::milliseconds wait = std::chrono::seconds(10)) {
    auto end = std::chrono::steady_clock::now() + wait;
    while (true) {
      fd_ = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(static_cast<uint16_t>(port));
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) break;
      close(fd_);
      if (std::chrono::steady_clock::now() > end) throw std::runtime_error("MLLP connect failed");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SetTimeout(std::chrono::seconds(20));
  }
  ~MllpTestClient() { close(fd_); }
  MllpTestClient(const MllpTestClient&) = delete;
  MllpTestClient& operator=(const MllpTestClient&) = delete;

  void SetTimeout(std::chrono::milliseconds t) {
    timeval tv{static_cast<time_t>(t.count() / 1000),
               static_cast<suseconds_t>(t.count() % 1000 * 1000)};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  void SendRaw(const std::string& bytes) {
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("MLLP send failed");
      off += static_cast<size_t>(n);
    }
  }
  void Send(const std::string& message) { SendRaw("\x0b" + message + "\x1c\x0d"); }

  // The next framed answer, or nullopt on timeout / closed connection.
  std::optional<std::string> ReadAck() {
    while (true) {
      size_t start = buffer_.find('\x0b');
      size_t end = start == std::string::npos ? std::string::npos : buffer_.find('\x1c', start);
      if (end != std::string::npos) {
        std::string msg = buffer_.substr(start + 1, end - start - 1);
        buffer_.erase(0, end + 1);
        if (!buffer_.empty() && buffer_[0] == '\x0d') buffer_.erase(0, 1);
        return msg;
      }
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }
  std::optional<std::string> Exchange(const std::string& message) {
    Send(message);
    return ReadAck();
  }

  // MSA-1 of an ACK ("AA", "AE", "AR"), assuming the default separators.
  static std::string AckCode(const std::string& ack) {
    size_t msa = ack.find("MSA|");
    return msa == std::string::npos ? "" : ack.substr(msa + 4, 2);
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace relais::testing

#endif  // RELAIS_TESTS_INTEGRATION_MLLP_TEST_CLIENT_H_
