#include "broker/stream_audit_record.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "base/check.h"

namespace relais::broker {

namespace {

constexpr char kMagic[] = "RAU1";
constexpr size_t kMagicSize = 4;
constexpr char kEventDomain[] = "relais-audit-event-v1";

void PutU64(base::Bytes& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<uint8_t>(v >> shift));
}

void PutU32(crypto::Blake2bHasher& h, uint32_t v) {
  const uint8_t b[4] = {static_cast<uint8_t>(v >> 24), static_cast<uint8_t>(v >> 16),
                        static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)};
  h.Update(base::ByteView(b, 4));
}

void PutU64(crypto::Blake2bHasher& h, uint64_t v) {
  base::Bytes b;
  PutU64(b, v);
  h.Update(b);
}

void PutStr(crypto::Blake2bHasher& h, std::string_view s) {
  PutU32(h, static_cast<uint32_t>(s.size()));
  h.Update(base::AsBytes(s));
}

uint64_t GetU64(base::ByteView b, size_t at) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | b[at + i];
  return v;
}

base::Error Bad(const std::string& why) {
  return base::Corruption("bad_audit_record", "audit record: " + why);
}

}  // namespace

crypto::Digest AuditEventHash(const LogRecord& event) {
  crypto::Blake2bHasher h;
  h.Update(base::AsBytes(kEventDomain));
  PutU64(h, event.seq);
  PutU64(h, static_cast<uint64_t>(event.stored_at));
  PutStr(h, event.msg.id);
  PutStr(h, event.msg.subject);
  std::vector<std::pair<std::string, std::string>> headers = event.msg.headers;
  std::sort(headers.begin(), headers.end());
  PutU32(h, static_cast<uint32_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    PutStr(h, name);
    PutStr(h, value);
  }
  PutU64(h, event.msg.data.size());
  h.Update(event.msg.data);
  return h.Final();
}

crypto::Digest AuditChainHash(const crypto::Digest& prev, const crypto::Digest& event_hash) {
  return crypto::Blake2b({crypto::View(prev), crypto::View(event_hash)});
}

AuditRecord MakeAuditRecord(const LogRecord& event, const crypto::Digest& prev) {
  AuditRecord r;
  r.event_seq = event.seq;
  r.event_id = event.msg.id;
  r.event_hash = AuditEventHash(event);
  r.chain_hash = AuditChainHash(prev, r.event_hash);
  return r;
}

base::Bytes EncodeAuditRecord(const AuditRecord& record) {
  RELAIS_CHECK(!record.event_id.empty() && record.event_id.size() <= kMaxAuditIdSize);
  base::Bytes out(kMagic, kMagic + kMagicSize);
  PutU64(out, record.event_seq);
  out.push_back(static_cast<uint8_t>(record.event_id.size()));
  out.insert(out.end(), record.event_id.begin(), record.event_id.end());
  out.insert(out.end(), record.event_hash.begin(), record.event_hash.end());
  out.insert(out.end(), record.chain_hash.begin(), record.chain_hash.end());
  return out;
}

base::Result<AuditRecord> DecodeAuditRecord(base::ByteView data) {
  constexpr size_t kFixed = kMagicSize + 8 + 1 + 2 * crypto::kDigestSize;
  if (data.size() < kFixed + 1 || std::memcmp(data.data(), kMagic, kMagicSize) != 0) {
    return Bad("no RAU1 prefix or too short");
  }
  AuditRecord r;
  r.event_seq = GetU64(data, kMagicSize);
  if (r.event_seq == 0) return Bad("event seq 0");
  const size_t id_size = data[kMagicSize + 8];
  if (id_size == 0 || id_size > kMaxAuditIdSize) return Bad("bad event id length");
  if (data.size() != kFixed + id_size) return Bad("wrong size");
  size_t at = kMagicSize + 9;
  r.event_id.assign(reinterpret_cast<const char*>(data.data() + at), id_size);
  for (char c : r.event_id) {
    if (c <= ' ' || c > '~') return Bad("bad event id character");
  }
  at += id_size;
  std::memcpy(r.event_hash.data(), data.data() + at, crypto::kDigestSize);
  at += crypto::kDigestSize;
  std::memcpy(r.chain_hash.data(), data.data() + at, crypto::kDigestSize);
  return r;
}

std::string AuditMessageId(uint64_t seq) { return "audit-" + std::to_string(seq); }

LogMessage AuditMessage(const AuditRecord& record, const std::string& subject) {
  LogMessage m;
  m.id = AuditMessageId(record.event_seq);
  m.subject = subject;
  m.headers = {{kHeaderAuditSeq, std::to_string(record.event_seq)},
               {kHeaderChainHash, base::HexEncode(crypto::View(record.chain_hash))}};
  std::sort(m.headers.begin(), m.headers.end());
  m.data = EncodeAuditRecord(record);
  return m;
}

}  // namespace relais::broker
