// Plain C++ view of the wire protocol frames (schema/wire.capnp). See docs/protocol.md.
#ifndef RELAIS_SCHEMA_WIRE_H_
#define RELAIS_SCHEMA_WIRE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "schema/envelope.h"

namespace relais::schema {

enum class AckStatus : uint16_t { kOk = 0, kTransient, kFatal };
constexpr int kAckStatusCount = 3;
// "ok", "transient", "fatal"; "invalid" outside the range.
const char* AckStatusName(AckStatus s);
std::optional<AckStatus> ParseAckStatus(std::string_view name);

struct Publish {
  Envelope envelope;
  bool operator==(const Publish&) const = default;
};

struct PublishAck {
  Bytes event_id;
  uint64_t seq = 0;
  AckStatus status = AckStatus::kOk;
  std::string code;
  std::string message;
  bool duplicate = false;
  bool operator==(const PublishAck&) const = default;
};

struct Subscribe {
  enum class Resume : uint16_t { kStoredCursor = 0, kFromSeq, kFromNow };
  Resume resume = Resume::kStoredCursor;
  uint64_t from_seq = 0;  // with kFromSeq
  uint32_t credit = 0;
  bool operator==(const Subscribe&) const = default;
};

struct Deliver {
  uint64_t seq = 0;
  TimeMs received_at = 0;
  uint32_t attempt = 1;
  Envelope envelope;
  bool operator==(const Deliver&) const = default;
};

struct Ack {
  uint64_t seq = 0;
  std::vector<uint64_t> more;  // further seqs acknowledged by the same frame
  bool operator==(const Ack&) const = default;
};

struct Nack {
  uint64_t seq = 0;
  std::string reason;
  bool operator==(const Nack&) const = default;
};

struct Heartbeat {
  TimeMs sent_at = 0;
  bool operator==(const Heartbeat&) const = default;
};

struct ErrorFrame {
  std::string code;
  std::string message;
  bool operator==(const ErrorFrame&) const = default;
};

struct AdminRequest {
  enum class Op : uint16_t {
    kReloadRegistry = 0,
    kListDeadLetters,
    kRequeueDeadLetter,
    kCaseReceipt,
  };
  uint64_t request_id = 0;
  Op op = Op::kReloadRegistry;
  uint64_t seq = 0;      // with kRequeueDeadLetter
  std::string case_ref;  // with kCaseReceipt
  bool operator==(const AdminRequest&) const = default;
};

struct AdminReply {
  uint64_t request_id = 0;
  bool ok = false;
  std::string code;
  std::string message;
  std::vector<std::string> lines;
  bool operator==(const AdminReply&) const = default;
};

using Frame = std::variant<Publish, PublishAck, Subscribe, Deliver, Ack, Nack, Heartbeat,
                           ErrorFrame, AdminRequest, AdminReply>;

}  // namespace relais::schema

#endif  // RELAIS_SCHEMA_WIRE_H_
