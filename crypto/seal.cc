#include "crypto/seal.h"

#include <sodium.h>

#include <algorithm>
#include <string_view>
#include <utility>

#include "base/check.h"
#include "schema/codec.h"

namespace relais::crypto {

namespace {

static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == kContentKeySize);
static_assert(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES == kBodyNonceSize);
static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == kBodyTagSize);
static_assert(crypto_box_SEALBYTES + kContentKeySize == kSealedKeySize);

constexpr std::string_view kEnvelopeDomain = "relais-envelope-v1";

// Reads one lp() field of CanonicalWraps.
bool ReadLengthPrefixed(base::ByteView& in, base::ByteView& field) {
  if (in.size() < 4) return false;
  uint32_t n = static_cast<uint32_t>(in[0]) << 24 | static_cast<uint32_t>(in[1]) << 16 |
               static_cast<uint32_t>(in[2]) << 8 | static_cast<uint32_t>(in[3]);
  in = in.subspan(4);
  if (in.size() < n) return false;
  field = in.subspan(0, n);
  in = in.subspan(n);
  return true;
}

bool DigestEquals(base::ByteView stated, const Digest& computed) {
  return stated.size() == computed.size() &&
         sodium_memcmp(stated.data(), computed.data(), computed.size()) == 0;
}

// Plaintext buffer wiped on destruction (encoded bodies hold personal data).
class WipedBytes {
 public:
  explicit WipedBytes(base::Bytes bytes) : bytes_(std::move(bytes)) {}
  explicit WipedBytes(size_t size) : bytes_(size) {}
  ~WipedBytes() {
    if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
  }
  WipedBytes(const WipedBytes&) = delete;
  WipedBytes& operator=(const WipedBytes&) = delete;
  base::Bytes& Get() { return bytes_; }

 private:
  base::Bytes bytes_;
};

base::Status CheckRecipients(const std::vector<RecipientKey>& recipients) {
  for (size_t i = 0; i < recipients.size(); ++i) {
    const RecipientKey& r = recipients[i];
    if (r.seal_public.size() != kBoxPublicKeySize) {
      return base::InvalidInput(
          "bad_recipient_key",
          "the sealing key of recipient '" + r.agency + "' (key " + r.key_id + ") is not 32 bytes");
    }
    for (size_t j = 0; j < i; ++j) {
      if (recipients[j].agency == r.agency && recipients[j].key_id == r.key_id) {
        return base::InvalidInput("duplicate_recipient", "recipient '" + r.agency + "' (key " +
                                                             r.key_id + ") is listed twice");
      }
    }
  }
  return base::Ok();
}

base::Status CheckEmitterKey(const schema::Header& header, const Secret& sign_secret) {
  if (sign_secret.Size() != kSignSecretKeySize) {
    return base::InvalidInput("bad_key", "an Ed25519 secret key must be 64 bytes");
  }
  uint8_t sign_public[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_ed25519_sk_to_pk(sign_public, sign_secret.Data());
  std::string key_id = KeyId(base::ByteView(sign_public, sizeof sign_public));
  if (header.emitter_key_id != key_id) {
    return base::InvalidInput("wrong_emitter_key",
                              "the header names emitter key id '" + header.emitter_key_id +
                                  "' but the signing key given has key id '" + key_id + "'");
  }
  return base::Ok();
}

}  // namespace

Digest HeaderHash(base::ByteView header_bytes) { return Blake2b(header_bytes); }

base::Bytes CanonicalWraps(const std::vector<schema::Wrap>& wraps) {
  base::Bytes out;
  size_t size = 0;
  for (const schema::Wrap& w : wraps)
    size += 12 + w.agency.size() + w.key_id.size() + w.sealed_key.size();
  out.reserve(size);
  for (const schema::Wrap& w : wraps) {
    base::AppendLengthPrefixed(out, base::AsBytes(w.agency));
    base::AppendLengthPrefixed(out, base::AsBytes(w.key_id));
    base::AppendLengthPrefixed(out, w.sealed_key);
  }
  return out;
}

base::Result<std::vector<schema::Wrap>> ParseCanonicalWraps(base::ByteView bytes) {
  std::vector<schema::Wrap> wraps;
  base::ByteView in = bytes;
  while (!in.empty()) {
    base::ByteView agency, key_id, sealed_key;
    const size_t offset = bytes.size() - in.size();
    if (!ReadLengthPrefixed(in, agency) || !ReadLengthPrefixed(in, key_id) ||
        !ReadLengthPrefixed(in, sealed_key)) {
      return base::InvalidInput("malformed_wraps", "wrap " + std::to_string(wraps.size()) +
                                                       " at byte " + std::to_string(offset) +
                                                       " is truncated");
    }
    wraps.push_back(schema::Wrap{base::ToString(agency), base::ToString(key_id),
                                 base::Bytes(sealed_key.begin(), sealed_key.end())});
  }
  return wraps;
}

Digest WrapsDigest(const std::vector<schema::Wrap>& wraps) {
  return Blake2b(CanonicalWraps(wraps));
}

base::Bytes EnvelopeSigningMessage(const Digest& header_hash, base::ByteView body_digest,
                                   base::ByteView wraps_digest) {
  base::Bytes out;
  out.reserve(kEnvelopeDomain.size() + 3 * kDigestSize);
  base::AppendRaw(out, base::AsBytes(kEnvelopeDomain));
  base::AppendRaw(out, View(header_hash));
  base::AppendRaw(out, body_digest);
  base::AppendRaw(out, wraps_digest);
  return out;
}

base::Bytes EncryptBody(const Secret& content_key, base::ByteView nonce, base::ByteView plaintext,
                        const Digest& header_hash) {
  RELAIS_CHECK(content_key.Size() == kContentKeySize);
  RELAIS_CHECK(nonce.size() == kBodyNonceSize);
  base::Bytes body(kBodyNonceSize + plaintext.size() + kBodyTagSize);
  std::copy(nonce.begin(), nonce.end(), body.begin());
  unsigned long long ciphertext_size = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      body.data() + kBodyNonceSize, &ciphertext_size, plaintext.data(), plaintext.size(),
      header_hash.data(), header_hash.size(), nullptr, nonce.data(), content_key.Data());
  RELAIS_CHECK(ciphertext_size == plaintext.size() + kBodyTagSize);
  return body;
}

base::Result<schema::Envelope> SealEnvelope(const schema::Header& header,
                                            const schema::EventBody& body,
                                            const std::vector<RecipientKey>& recipients,
                                            const Secret& emitter_sign_secret) {
  RELAIS_RETURN_IF_ERROR(CheckEmitterKey(header, emitter_sign_secret));
  RELAIS_RETURN_IF_ERROR(CheckRecipients(recipients));

  schema::Envelope envelope;
  envelope.header = schema::EncodeHeader(header);
  const Digest header_hash = HeaderHash(envelope.header);

  Secret content_key(kContentKeySize);
  crypto_aead_xchacha20poly1305_ietf_keygen(content_key.Data());
  uint8_t nonce[kBodyNonceSize];
  randombytes_buf(nonce, sizeof nonce);
  {
    WipedBytes plaintext(schema::EncodeEventBody(body));
    envelope.body =
        EncryptBody(content_key, base::ByteView(nonce, sizeof nonce), plaintext.Get(), header_hash);
  }

  envelope.wraps.reserve(recipients.size());
  for (const RecipientKey& r : recipients) {
    schema::Wrap wrap{r.agency, r.key_id, base::Bytes(kSealedKeySize)};
    if (crypto_box_seal(wrap.sealed_key.data(), content_key.Data(), content_key.Size(),
                        r.seal_public.data()) != 0) {
      return base::InvalidInput("bad_recipient_key", "the sealing key of recipient '" + r.agency +
                                                         "' (key " + r.key_id +
                                                         ") is not a usable X25519 public key");
    }
    envelope.wraps.push_back(std::move(wrap));
  }

  envelope.body_digest = ToBytes(Blake2b(envelope.body));
  envelope.wraps_digest = ToBytes(WrapsDigest(envelope.wraps));
  envelope.signature =
      Sign(emitter_sign_secret,
           EnvelopeSigningMessage(header_hash, envelope.body_digest, envelope.wraps_digest));
  return envelope;
}

base::Status VerifyEnvelope(const schema::Envelope& envelope, base::ByteView emitter_sign_public) {
  if (emitter_sign_public.size() != kSignPublicKeySize) {
    return base::InvalidInput("bad_key", "an Ed25519 public key must be 32 bytes");
  }
  const Digest body_digest = Blake2b(envelope.body);
  const Digest wraps_digest = WrapsDigest(envelope.wraps);
  if (!DigestEquals(envelope.body_digest, body_digest) ||
      !DigestEquals(envelope.wraps_digest, wraps_digest)) {
    return base::Unauthenticated("digest_mismatch",
                                 "the envelope's body or wraps do not match its digests");
  }
  // Signed over the recomputed digests, so a verified signature covers the bytes received.
  base::Status verified = Verify(
      emitter_sign_public,
      EnvelopeSigningMessage(HeaderHash(envelope.header), View(body_digest), View(wraps_digest)),
      envelope.signature);
  if (!verified) {
    return base::Unauthenticated("bad_signature",
                                 "the envelope's signature does not verify with the emitter key");
  }
  return base::Ok();
}

base::Result<schema::EventBody> OpenEnvelope(const schema::Envelope& envelope,
                                             const AgencyIdentity& me) {
  const schema::Wrap* mine = nullptr;
  std::string other_key_ids;
  for (const schema::Wrap& w : envelope.wraps) {
    if (w.agency != me.pub.agency_id) continue;
    if (w.key_id == me.pub.key_id) {
      mine = &w;
      break;
    }
    other_key_ids += (other_key_ids.empty() ? "" : ", ") + w.key_id;
  }
  if (mine == nullptr) {
    if (!other_key_ids.empty()) {
      return base::NotAuthorised("not_a_recipient",
                                 "the envelope is sealed for agency '" + me.pub.agency_id +
                                     "' under key id(s) " + other_key_ids + ", not key id " +
                                     me.pub.key_id + " (load the identity of that key)");
    }
    return base::NotAuthorised("not_a_recipient",
                               "agency '" + me.pub.agency_id + "' is not a recipient");
  }
  const base::Error cannot_open = base::Unauthenticated(
      "cannot_open", "the envelope does not open with the key of agency '" + me.pub.agency_id +
                         "' (key " + me.pub.key_id + "): it was altered or not sealed for it");
  if (mine->sealed_key.size() != kSealedKeySize || me.seal_secret.Size() != kBoxSecretKeySize ||
      me.pub.seal_public.size() != kBoxPublicKeySize ||
      envelope.body.size() < kBodyNonceSize + kBodyTagSize) {
    return cannot_open;
  }
  Secret content_key(kContentKeySize);
  if (crypto_box_seal_open(content_key.Data(), mine->sealed_key.data(), mine->sealed_key.size(),
                           me.pub.seal_public.data(), me.seal_secret.Data()) != 0) {
    return cannot_open;
  }
  const Digest header_hash = HeaderHash(envelope.header);
  const size_t ciphertext_size = envelope.body.size() - kBodyNonceSize;
  WipedBytes plaintext(ciphertext_size - kBodyTagSize);
  unsigned long long plaintext_size = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          plaintext.Get().data(), &plaintext_size, nullptr, envelope.body.data() + kBodyNonceSize,
          ciphertext_size, header_hash.data(), header_hash.size(), envelope.body.data(),
          content_key.Data()) != 0) {
    return cannot_open;
  }
  return schema::DecodeEventBody(plaintext.Get());
}

}  // namespace relais::crypto
