// The audit chain over the stream's order (JetStream mode, docs/scale-out.md section 11): one
// audit message per event-stream message, audit seq i covering event seq i. Everything here is
// deterministic, so every relaisd computes the same audit message for the same event and the
// audit stream's expected-last-seq fence elects one writer per message.
//
//   eventHash(i) = BLAKE2b-256( "relais-audit-event-v1"
//                             ‖ u64 seq ‖ i64 storedAt (ms, the engine's clock)
//                             ‖ str id ‖ str subject
//                             ‖ u32 nHeaders ‖ (str name ‖ str value)*   sorted by name, value
//                             ‖ u64 len(data) ‖ data )
//   chainHash(i) = BLAKE2b-256( chainHash(i-1) ‖ eventHash(i) ),  chainHash(0) = 32 zero bytes
//   str x = u32 len(x) ‖ x; integers big-endian.
//
// Audit message i: id "audit-<i>", subject the audit subject, headers Relais-Audit-Seq (i) and
// Relais-Chain-Hash (hex), data = the record below (exactly 4 + 8 + 1 + idLen + 32 + 32 bytes):
//
//   record = "RAU1" ‖ u64 eventSeq ‖ u8 idLen (1..128) ‖ eventId (printable ASCII, no space)
//          ‖ eventHash (32) ‖ chainHash (32)
//
// No personal data: seqs, the event id and hashes only. Pure functions, any thread.
#ifndef RELAIS_BROKER_STREAM_AUDIT_RECORD_H_
#define RELAIS_BROKER_STREAM_AUDIT_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "broker/stream_log.h"
#include "crypto/hash.h"

namespace relais::broker {

inline constexpr char kHeaderAuditSeq[] = "Relais-Audit-Seq";
inline constexpr char kHeaderChainHash[] = "Relais-Chain-Hash";
inline constexpr crypto::Digest kAuditGenesis{};  // chainHash(0)
inline constexpr size_t kMaxAuditIdSize = 128;

struct AuditRecord {
  uint64_t event_seq = 0;
  std::string event_id;
  crypto::Digest event_hash{};
  crypto::Digest chain_hash{};
};

crypto::Digest AuditEventHash(const LogRecord& event);
crypto::Digest AuditChainHash(const crypto::Digest& prev, const crypto::Digest& event_hash);

// The record of `event` after the chain hash `prev` (that of event.seq - 1).
AuditRecord MakeAuditRecord(const LogRecord& event, const crypto::Digest& prev);

base::Bytes EncodeAuditRecord(const AuditRecord& record);
// Strict: exact size, magic, id length and characters. kCorruption "bad_audit_record".
base::Result<AuditRecord> DecodeAuditRecord(base::ByteView data);

// "audit-<seq>".
std::string AuditMessageId(uint64_t seq);
LogMessage AuditMessage(const AuditRecord& record, const std::string& subject);

}  // namespace relais::broker

#endif  // RELAIS_BROKER_STREAM_AUDIT_RECORD_H_
