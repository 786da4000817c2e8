// libFuzzer target: the audit record decoder of the audit chain over the stream
// (broker/stream_audit_record.h DecodeAuditRecord), which `relais audit verify --stream-url` and
// every relaisd's audit writer run on messages read from the audit stream. Besides not crashing
// and failing only with "bad_audit_record": a decoded record encodes back to exactly the input
// (the format is strict), and its audit message is a valid stream message.
#include <cstdint>
#include <cstring>

#include "broker/stream_audit_record.h"
#include "tests/fuzz/fuzz_die.h"

using relais::fuzz::Die;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais::broker;
  auto record = DecodeAuditRecord(relais::base::ByteView(data, size));
  if (!record) {
    if (record.error().code != "bad_audit_record") Die("unexpected DecodeAuditRecord error");
    return 0;
  }
  const relais::base::Bytes again = EncodeAuditRecord(*record);
  if (again.size() != size || std::memcmp(again.data(), data, size) != 0) {
    Die("a decoded record does not encode back to its input");
  }
  if (!ValidateMessage(AuditMessage(*record, "relais-audit.fuzz"))) {
    Die("the audit message of a decoded record is not a valid stream message");
  }
  return 0;
}
