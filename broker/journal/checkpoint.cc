#include "broker/journal/checkpoint.h"

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "base/check.h"
#include "crypto/sign.h"

namespace relais::journal {

namespace {

constexpr std::string_view kCheckpointDomain = "relais-checkpoint-v1";
constexpr std::string_view kWitnessDomain = "relais-checkpoint-witness-v1";
constexpr std::string_view kFileMagic = "relais-checkpoint-v1";
constexpr size_t kMaxAgencyBytes = 128;

base::Error BadFile(size_t line, const std::string& why) {
  return base::InvalidInput("bad_checkpoint_file", "line " + std::to_string(line) + ": " + why);
}

bool IsToken(std::string_view s) {
  if (s.empty() || s.size() > kMaxAgencyBytes) return false;
  for (char c : s) {
    if (c <= ' ' || c == 0x7f) return false;
  }
  return true;
}

template <typename Int>
bool ParseInt(std::string_view s, Int& out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

bool ParseHexExact(std::string_view s, size_t bytes, base::Bytes& out) {
  if (s.size() != bytes * 2) return false;
  auto decoded = base::HexDecode(s);
  if (!decoded) return false;
  out = std::move(decoded).value();
  return true;
}

// Splits `text` into lines, dropping '#' comments and blank lines, keeping 1-based numbers.
std::vector<std::pair<size_t, std::string_view>> MeaningfulLines(std::string_view text) {
  std::vector<std::pair<size_t, std::string_view>> lines;
  size_t number = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    lines.emplace_back(number, line);
  }
  return lines;
}

// "key value" with exactly one space.
bool SplitField(std::string_view line, std::string_view key, std::string_view& value) {
  if (line.size() <= key.size() + 1 || line.substr(0, key.size()) != key ||
      line[key.size()] != ' ') {
    return false;
  }
  value = line.substr(key.size() + 1);
  return true;
}

base::Result<Witness> ParseWitness(size_t number, std::string_view rest) {
  std::vector<std::string_view> parts;
  while (!rest.empty()) {
    size_t sp = rest.find(' ');
    parts.push_back(rest.substr(0, sp));
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  }
  Witness w;
  if (parts.size() != 4) return BadFile(number, "a witness line has 4 fields");
  if (!IsToken(parts[0])) return BadFile(number, "bad witness agency");
  base::Bytes key_id;
  if (!ParseHexExact(parts[1], 8, key_id)) return BadFile(number, "bad witness key id");
  if (!ParseInt(parts[2], w.witnessed_at)) return BadFile(number, "bad witnessed-at time");
  if (!ParseHexExact(parts[3], crypto::kSignatureSize, w.signature)) {
    return BadFile(number, "bad witness signature");
  }
  w.agency = std::string(parts[0]);
  w.key_id = std::string(parts[1]);
  return w;
}

}  // namespace

void KeySet::Add(std::string owner, base::ByteView public_key) {
  RELAIS_CHECK(public_key.size() == crypto::kSignPublicKeySize);
  keys_[crypto::KeyId(public_key)] =
      Entry{std::move(owner), base::Bytes(public_key.begin(), public_key.end())};
}

const KeySet::Entry* KeySet::Find(const std::string& key_id) const {
  auto it = keys_.find(key_id);
  return it == keys_.end() ? nullptr : &it->second;
}

base::Bytes SigningPublicKey(const crypto::Secret& secret_key) {
  RELAIS_CHECK(secret_key.Size() == crypto::kSignSecretKeySize);
  base::ByteView v = secret_key.View();
  return base::Bytes(v.begin() + 32, v.end());
}

base::Bytes CheckpointMessage(uint64_t seq, const crypto::Digest& head_hash, base::TimeMs time) {
  base::Bytes out;
  base::AppendRaw(out, base::AsBytes(kCheckpointDomain));
  base::AppendU64(out, seq);
  base::AppendRaw(out, crypto::View(head_hash));
  base::AppendI64(out, time);
  return out;
}

Checkpoint SignCheckpoint(uint64_t seq, const crypto::Digest& head_hash, base::TimeMs time,
                          const crypto::Secret& broker_key) {
  Checkpoint cp{seq, head_hash, time, crypto::KeyId(SigningPublicKey(broker_key)), {}};
  cp.signature = crypto::Sign(broker_key, CheckpointMessage(seq, head_hash, time));
  return cp;
}

base::Status VerifyCheckpoint(const Checkpoint& checkpoint, const KeySet& broker_keys) {
  const KeySet::Entry* key = broker_keys.Find(checkpoint.key_id);
  if (key == nullptr) {
    return base::Unauthenticated("unknown_checkpoint_key",
                                 "checkpoint at seq " + std::to_string(checkpoint.seq) +
                                     " is signed by unknown key " + checkpoint.key_id);
  }
  if (!crypto::Verify(key->public_key,
                      CheckpointMessage(checkpoint.seq, checkpoint.head_hash, checkpoint.time),
                      checkpoint.signature)) {
    return base::Unauthenticated("bad_checkpoint_signature",
                                 "the signature of the checkpoint at seq " +
                                     std::to_string(checkpoint.seq) + " does not verify");
  }
  return base::Ok();
}

base::Bytes WitnessMessage(const Checkpoint& checkpoint, std::string_view agency,
                           base::TimeMs witnessed_at) {
  base::Bytes out;
  base::AppendRaw(out, base::AsBytes(kWitnessDomain));
  base::AppendRaw(out, CheckpointMessage(checkpoint.seq, checkpoint.head_hash, checkpoint.time));
  base::AppendRaw(out, checkpoint.signature);
  base::AppendLengthPrefixed(out, base::AsBytes(agency));
  base::AppendI64(out, witnessed_at);
  return out;
}

base::Status Countersign(CheckpointFile& file, const std::string& agency,
                         const crypto::Secret& witness_key, base::TimeMs now,
                         const KeySet& broker_keys) {
  if (!IsToken(agency)) return base::InvalidInput("bad_agency", "not a valid witness agency id");
  RELAIS_RETURN_IF_ERROR(VerifyCheckpoint(file.checkpoint, broker_keys));
  Witness w{agency, crypto::KeyId(SigningPublicKey(witness_key)), now, {}};
  w.signature = crypto::Sign(witness_key, WitnessMessage(file.checkpoint, agency, now));
  file.witnesses.push_back(std::move(w));
  return base::Ok();
}

base::Status VerifyWitnesses(const CheckpointFile& file, const KeySet& witness_keys,
                             size_t min_witnesses) {
  std::set<std::string> agencies;
  for (const Witness& w : file.witnesses) {
    const KeySet::Entry* key = witness_keys.Find(w.key_id);
    if (key == nullptr || key->owner != w.agency) {
      return base::Unauthenticated("unknown_witness_key",
                                   "witness " + w.agency + " signed with unknown key " + w.key_id);
    }
    if (!crypto::Verify(key->public_key, WitnessMessage(file.checkpoint, w.agency, w.witnessed_at),
                        w.signature)) {
      return base::Unauthenticated("bad_witness_signature",
                                   "the countersignature of " + w.agency +
                                       " on the checkpoint at seq " +
                                       std::to_string(file.checkpoint.seq) + " does not verify");
    }
    agencies.insert(w.agency);
  }
  if (agencies.size() < min_witnesses) {
    return base::NotAuthorised(
        "too_few_witnesses", "checkpoint at seq " + std::to_string(file.checkpoint.seq) + " has " +
                                 std::to_string(agencies.size()) + " witnesses, " +
                                 std::to_string(min_witnesses) + " required");
  }
  return base::Ok();
}

std::string FormatCheckpointFile(const CheckpointFile& file) {
  const Checkpoint& cp = file.checkpoint;
  std::ostringstream out;
  out << kFileMagic << "\n"
      << "# relais journal checkpoint, " << base::FormatIsoUtc(cp.time)
      << "; layout in docs/journal-format.md\n"
      << "seq " << cp.seq << "\n"
      << "head-hash " << base::HexEncode(crypto::View(cp.head_hash)) << "\n"
      << "time " << cp.time << "\n"
      << "key-id " << cp.key_id << "\n"
      << "signature " << base::HexEncode(cp.signature) << "\n";
  for (const Witness& w : file.witnesses) {
    out << "witness " << w.agency << " " << w.key_id << " " << w.witnessed_at << " "
        << base::HexEncode(w.signature) << "\n";
  }
  return out.str();
}

base::Result<CheckpointFile> ParseCheckpointFile(std::string_view text) {
  if (text.size() > kMaxCheckpointFileBytes) return BadFile(0, "file too large");
  auto lines = MeaningfulLines(text);
  if (lines.size() < 6 || lines[0].second != kFileMagic) {
    return BadFile(lines.empty() ? 1 : lines[0].first, "expected the relais-checkpoint-v1 header");
  }
  CheckpointFile file;
  Checkpoint& cp = file.checkpoint;
  std::string_view v;
  base::Bytes bytes;
  if (!SplitField(lines[1].second, "seq", v) || !ParseInt(v, cp.seq) || cp.seq == 0) {
    return BadFile(lines[1].first, "expected `seq N` with N >= 1");
  }
  if (!SplitField(lines[2].second, "head-hash", v) || !ParseHexExact(v, 32, bytes)) {
    return BadFile(lines[2].first, "expected `head-hash` and 64 hex digits");
  }
  std::copy(bytes.begin(), bytes.end(), cp.head_hash.begin());
  if (!SplitField(lines[3].second, "time", v) || !ParseInt(v, cp.time)) {
    return BadFile(lines[3].first, "expected `time` in ms since the Unix epoch");
  }
  if (!SplitField(lines[4].second, "key-id", v) || !ParseHexExact(v, 8, bytes)) {
    return BadFile(lines[4].first, "expected `key-id` and 16 hex digits");
  }
  cp.key_id = std::string(v);
  if (!SplitField(lines[5].second, "signature", v) ||
      !ParseHexExact(v, crypto::kSignatureSize, cp.signature)) {
    return BadFile(lines[5].first, "expected `signature` and 128 hex digits");
  }
  for (size_t i = 6; i < lines.size(); ++i) {
    if (file.witnesses.size() == kMaxWitnesses)
      return BadFile(lines[i].first, "too many witnesses");
    if (!SplitField(lines[i].second, "witness", v)) {
      return BadFile(lines[i].first, "expected a `witness` line");
    }
    RELAIS_ASSIGN_OR_RETURN(Witness w, ParseWitness(lines[i].first, v));
    file.witnesses.push_back(std::move(w));
  }
  return file;
}

base::Status WriteCheckpointFile(const std::filesystem::path& path, const CheckpointFile& file) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << FormatCheckpointFile(file);
  out.close();
  if (!out) {
    return base::RetryLater("write_failed", "cannot write checkpoint file " + path.string());
  }
  return base::Ok();
}

base::Result<CheckpointFile> ReadCheckpointFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return base::NotFound("no_checkpoint_file", "cannot read " + path.string());
  std::string text(kMaxCheckpointFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return ParseCheckpointFile(text);
}

}  // namespace relais::journal
