#include "broker/stream_payload.h"

#include <cstring>

#include "crypto/hash.h"
#include "schema/codec.h"

namespace relais::broker {

namespace {

constexpr char kMagic[] = "RSP1";
constexpr size_t kMagicSize = 4;

base::Error BadPayload(const std::string& why) {
  return base::Corruption("bad_stream_payload", "stream payload: " + why);
}

}  // namespace

std::optional<std::string> FindHeader(const LogMessage& m, std::string_view name) {
  for (const auto& [k, v] : m.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

base::Result<LogMessage> AckToMessage(const std::string& agency, base::ByteView event_id,
                                      const StreamNaming& naming) {
  LogMessage m;
  const std::string hex = base::HexEncode(event_id);
  m.id = "ack-" + hex + "-" + agency;
  m.subject = "relais." + naming.deployment + "." + naming.territory + ".delivery_acked";
  m.headers = {{kHeaderAgency, agency},
               {kHeaderEvent, hex},
               {kHeaderOrigin, naming.instance},
               {kHeaderRecord, "ack"}};
  RELAIS_RETURN_IF_ERROR(ValidateMessage(m));
  return m;
}

base::Result<std::optional<StreamAck>> DecodeAckMessage(const LogMessage& m) {
  if (FindHeader(m, kHeaderRecord) != "ack") return std::optional<StreamAck>();
  auto agency = FindHeader(m, kHeaderAgency);
  auto event = FindHeader(m, kHeaderEvent);
  if (!agency || agency->empty() || !event) {
    return BadPayload("ack record without its agency or event");
  }
  auto id = base::HexDecode(*event);
  if (!id || id->empty()) return BadPayload("ack record with a bad event id");
  return std::optional<StreamAck>(StreamAck{*agency, std::move(id).value()});
}

std::string CaseKeyName(const crypto::AtRestKey& secret, const std::string& case_ref) {
  const crypto::Digest d = crypto::Blake2b(
      {secret.secret().View(), base::AsBytes("relais-case-key-v1"), base::AsBytes(case_ref)});
  return "ck-" + base::HexEncode(base::ByteView(d.data(), 16));
}

base::Result<LogMessage> EntryToMessage(const journal::StoredEntry& entry,
                                        const StreamNaming& naming, const crypto::AtRestKey* key) {
  const bool has_sealed = !entry.erased && !entry.envelope.body.empty();
  const bool sealed = has_sealed && key != nullptr && !key->Empty();
  schema::Envelope meta = entry.envelope;
  meta.body.clear();
  meta.wraps.clear();
  const base::Bytes meta_bytes = schema::EncodeEnvelope(meta);
  LogMessage m;
  m.id = base::HexEncode(entry.event_id);
  m.subject = "relais." + naming.deployment + "." + naming.territory + "." +
              schema::EventKindName(entry.kind);
  auto schema_version = schema::DecodeHeader(entry.envelope.header);
  m.headers = {
      {kHeaderEmitter, entry.emitter},
      {kHeaderEntryHash,
       base::HexEncode(base::ByteView(entry.entry_hash.data(), entry.entry_hash.size()))},
      {kHeaderOrigin, naming.instance},
      {kHeaderOriginSeq, std::to_string(entry.seq)},
      {kHeaderSchema, std::to_string(schema_version ? schema_version->version : 0)},
      {kHeaderSealed, sealed ? "case-key" : (has_sealed ? "withheld" : "none")},
  };
  m.data.assign(kMagic, kMagic + kMagicSize);
  const uint32_t n = static_cast<uint32_t>(meta_bytes.size());
  for (int shift = 24; shift >= 0; shift -= 8) m.data.push_back(static_cast<uint8_t>(n >> shift));
  m.data.insert(m.data.end(), meta_bytes.begin(), meta_bytes.end());
  if (sealed) {
    const base::Bytes full = schema::EncodeEnvelope(entry.envelope);
    const base::Bytes ct = crypto::SealAtRest(*key, full, entry.event_id);
    m.data.insert(m.data.end(), ct.begin(), ct.end());
  }
  return m;
}

base::Result<StreamPayload> DecodeStreamPayload(base::ByteView data, const crypto::AtRestKey* key) {
  if (data.size() < kMagicSize + 4 || std::memcmp(data.data(), kMagic, kMagicSize) != 0) {
    return BadPayload("no RSP1 prefix");
  }
  uint32_t n = 0;
  for (size_t i = 0; i < 4; ++i) n = (n << 8) | data[kMagicSize + i];
  const size_t start = kMagicSize + 4;
  if (n > data.size() - start) return BadPayload("truncated");
  StreamPayload out;
  RELAIS_ASSIGN_OR_RETURN(out.envelope, schema::DecodeEnvelope(data.subspan(start, n)));
  const base::ByteView sealed = data.subspan(start + n);
  out.had_sealed = !sealed.empty();
  if (!out.had_sealed || key == nullptr) return out;
  RELAIS_ASSIGN_OR_RETURN(auto header, schema::DecodeHeader(out.envelope.header));
  RELAIS_ASSIGN_OR_RETURN(auto full_bytes, crypto::OpenAtRest(*key, sealed, header.event_id));
  RELAIS_ASSIGN_OR_RETURN(auto full, schema::DecodeEnvelope(full_bytes));
  if (full.header != out.envelope.header) return BadPayload("sealed part of another event");
  out.envelope = std::move(full);
  out.opened = true;
  return out;
}

}  // namespace relais::broker
