#include "broker/journal/signature_audit.h"

#include <algorithm>
#include <future>
#include <optional>
#include <thread>

#include "base/bytes.h"
#include "crypto/registry_sign.h"
#include "crypto/seal.h"
#include "crypto/sign.h"
#include "schema/codec.h"

namespace relais::journal {

namespace {

constexpr size_t kChunk = 8192;

struct Row {
  uint64_t seq = 0;
  base::TimeMs received_at = 0;
  base::Bytes header;
  base::Bytes signature;
  base::Bytes body_digest;
  base::Bytes wraps_digest;
};

std::string ValidityText(const schema::Agency& agency, const schema::AgencyKey& key) {
  std::string text = "valid from " + base::FormatIsoUtc(key.valid_from);
  if (key.valid_until != 0) text += " until " + base::FormatIsoUtc(key.valid_until);
  if (agency.revoked) {
    text += agency.revoked_at != 0 ? ", agency revoked at " + base::FormatIsoUtc(agency.revoked_at)
                                   : ", agency revoked";
  }
  return text;
}

std::optional<SignatureFinding> CheckRow(const Row& row, const schema::Registry& registry) {
  auto finding = [&row](std::string code, std::string reason) {
    return SignatureFinding{row.seq, std::move(code), std::move(reason)};
  };
  auto header = schema::DecodeHeader(row.header);
  if (!header) return finding("malformed_header", "stored header does not decode");
  const schema::Agency* emitter = registry.Find(header->emitter);
  if (emitter == nullptr) {
    return finding("unknown_emitter", "emitter " + header->emitter + " is not in the registry");
  }
  const schema::AgencyKey* key = nullptr;
  for (const schema::AgencyKey& k : emitter->keys) {
    if (k.key_id == header->emitter_key_id) key = &k;
  }
  if (key == nullptr) {
    return finding("unknown_key", "key " + header->emitter_key_id + " of " + header->emitter +
                                      " is not in the registry");
  }
  if (crypto::FindValidKey(*emitter, key->key_id, row.received_at) == nullptr) {
    return finding("key_not_valid", "key " + key->key_id + " of " + header->emitter +
                                        " was not valid at reception " +
                                        base::FormatIsoUtc(row.received_at) + " (" +
                                        ValidityText(*emitter, *key) + ")");
  }
  base::Bytes message = crypto::EnvelopeSigningMessage(crypto::HeaderHash(row.header),
                                                       row.body_digest, row.wraps_digest);
  if (auto st = crypto::Verify(key->sign_key, message, row.signature); !st) {
    return finding("bad_signature", "signature of " + header->emitter + " (key " + key->key_id +
                                        ") does not verify");
  }
  return std::nullopt;
}

// Verifies rows [begin, end) of `rows`.
std::vector<SignatureFinding> CheckRange(const std::vector<Row>& rows, size_t begin, size_t end,
                                         const schema::Registry& registry) {
  std::vector<SignatureFinding> out;
  for (size_t i = begin; i < end; ++i) {
    if (auto f = CheckRow(rows[i], registry)) out.push_back(std::move(*f));
  }
  return out;
}

// Starts verifying `rows` on `threads` threads; the future yields the findings in seq order.
std::future<std::vector<SignatureFinding>> StartChunk(std::shared_ptr<std::vector<Row>> rows,
                                                      const schema::Registry& registry,
                                                      size_t threads) {
  return std::async(std::launch::async, [rows, &registry, threads] {
    const size_t n = rows->size();
    const size_t per = (n + threads - 1) / std::max<size_t>(threads, 1);
    std::vector<std::future<std::vector<SignatureFinding>>> parts;
    for (size_t t = 1; t < threads && t * per < n; ++t) {
      parts.push_back(std::async(std::launch::async, CheckRange, std::cref(*rows), t * per,
                                 std::min(n, (t + 1) * per), std::cref(registry)));
    }
    std::vector<SignatureFinding> out = CheckRange(*rows, 0, std::min(n, per), registry);
    for (auto& p : parts) {
      auto more = p.get();
      out.insert(out.end(), more.begin(), more.end());
    }
    return out;
  });
}

base::Result<std::shared_ptr<std::vector<Row>>> ReadRows(JournalReader& reader, uint64_t from,
                                                         uint64_t last) {
  auto rows = std::make_shared<std::vector<Row>>();
  rows->reserve(kChunk);
  RELAIS_RETURN_IF_ERROR(reader.ForEachFrom(
      from,
      [&](const StoredEntry& e) {
        if (e.seq > last) return false;
        rows->push_back(Row{e.seq, e.received_at, e.envelope.header, e.envelope.signature,
                            e.envelope.body_digest, e.envelope.wraps_digest});
        return rows->size() < kChunk;
      },
      ReadScope::kMetadata));
  return rows;
}

}  // namespace

base::Result<SignatureAuditResult> AuditSignatures(JournalReader& reader,
                                                   const schema::Registry& registry,
                                                   const SignatureAuditOptions& options) {
  SignatureAuditResult result;
  uint64_t last = options.last_seq;
  if (last == 0) {
    RELAIS_ASSIGN_OR_RETURN(Head head, reader.GetHead());
    last = head.seq;
  }
  const size_t threads = std::max<size_t>(options.threads, 1);
  std::optional<std::future<std::vector<SignatureFinding>>> running;
  uint64_t next = 1;
  while (true) {
    RELAIS_ASSIGN_OR_RETURN(auto rows, ReadRows(reader, next, last));
    if (running) {
      auto found = running->get();
      result.findings.insert(result.findings.end(), found.begin(), found.end());
      running.reset();
    }
    if (rows->empty()) break;
    next = rows->back().seq + 1;
    result.checked += rows->size();
    if (options.progress) options.progress(rows->back().seq, last);
    running = StartChunk(rows, registry, threads);
  }
  return result;
}

}  // namespace relais::journal
