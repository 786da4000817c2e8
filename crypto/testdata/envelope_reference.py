#!/usr/bin/env python3
"""Independent reference for the envelope known-answer vectors (docs/envelope.md section 8).

Written from the specifications (RFC 7693 BLAKE2b via hashlib, RFC 8032 Ed25519, RFC 7748 X25519
and RFC 8439 ChaCha20-Poly1305 via the `cryptography` package; HChaCha20, HSalsa20, XSalsa20 and
crypto_box_seal written out here), without libsodium or relais code. It recomputes the vectors of
crypto/seal_kat_test.cc and opens the frozen envelope. Not run by CTest (it needs
python3-cryptography); run it by hand after touching the format:  python3 envelope_reference.py
"""
import hashlib, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.poly1305 import Poly1305
from cryptography.hazmat.primitives import serialization as ser

def b2(x): return hashlib.blake2b(x, digest_size=32).digest()
def lp(x): return struct.pack('>I', len(x)) + x
def rotl(v, c): return ((v << c) & 0xffffffff) | (v >> (32 - c))
def qr(s, a, b, c, d):
    s[a]=(s[a]+s[b])&0xffffffff; s[d]^=s[a]; s[d]=rotl(s[d],16)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]^=s[c]; s[b]=rotl(s[b],12)
    s[a]=(s[a]+s[b])&0xffffffff; s[d]^=s[a]; s[d]=rotl(s[d],8)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]^=s[c]; s[b]=rotl(s[b],7)
def hchacha20(key, n16):
    s = [0x61707865,0x3320646e,0x79622d32,0x6b206574] + list(struct.unpack('<8I', key)) + list(struct.unpack('<4I', n16))
    for _ in range(10):
        qr(s,0,4,8,12); qr(s,1,5,9,13); qr(s,2,6,10,14); qr(s,3,7,11,15)
        qr(s,0,5,10,15); qr(s,1,6,11,12); qr(s,2,7,8,13); qr(s,3,4,9,14)
    return struct.pack('<8I', *(s[0:4] + s[12:16]))
def xchacha_encrypt(key, nonce24, pt, aad):
    sub = hchacha20(key, nonce24[:16])
    return ChaCha20Poly1305(sub).encrypt(b'\0\0\0\0' + nonce24[16:], pt, aad)


# HChaCha20 test vector of draft-irtf-cfrg-xchacha, section 2.2.1.
assert hchacha20(bytes(range(32)), bytes.fromhex('000000090000004a0000000031415927')).hex() == \
    '82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc'

# --- 8.1 building blocks -----------------------------------------------------------------------
def seed(n0): return bytes((n0 + i) & 0xff for i in range(32))

header = b'relais known-answer header v1'
hh = b2(header)
wraps = [(b'asso-a', b'0011223344556677', bytes([0xaa]) * 80),
         (b'siao-75', b'8899aabbccddeeff', bytes(range(80)))]
canon = b''.join(lp(a) + lp(k) + lp(s) for a, k, s in wraps)
wd = b2(canon)
content_key = seed(0x80)
nonce = bytes(range(24))
pt = b'relais known-answer body'
body = nonce + xchacha_encrypt(content_key, nonce, pt, hh)
bd = b2(body)
msg = b'relais-envelope-v1' + hh + bd + wd
emitter = Ed25519PrivateKey.from_private_bytes(seed(0x01))
pub = emitter.public_key().public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
sig = emitter.sign(msg)
EXPECTED = {
    'header_hash': 'b9f2b834787ca097fdf0a3bb75f1c38b8e99b7220a09d7316f7c714a774f0fb5',
    'wraps_digest': 'cb9681225cde7acc38c3040396493a5141afe16671e43e8839e207f5e6622ef2',
    'body': '000102030405060708090a0b0c0d0e0f10111213141516171287e6eee0ded25bb4c40e42b9be85941188d762b5aff6a0fa201cfd07c887978d61c672a7444fd6',
    'body_digest': '20ea44f6e0459df8c0c3b23625930e1d050cfabcdd264b303e480b50d5f719c4',
    'signing_message_digest': '107e7d2946195c12d0f30abf4d49d10b4f66464b75835f395876b1d0b18a74a2',
    'emitter_public': '79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664',
    'signature': '60cb69e4769dc09411d8f1170143d35e0ddec4a2ceed8af0c28792be78ef3b153c5a660a5d3469305f72363d426aaf6d083c8f9e735cfc0e3179b59343a84405',
}
assert hh.hex() == EXPECTED['header_hash']
assert wd.hex() == EXPECTED['wraps_digest']
assert body.hex() == EXPECTED['body']
assert bd.hex() == EXPECTED['body_digest']
assert b2(msg).hex() == EXPECTED['signing_message_digest']
assert pub.hex() == EXPECTED['emitter_public']
assert sig.hex() == EXPECTED['signature']
print('8.1 building blocks: all vectors match')

# --- 8.2 the frozen envelope ---------------------------------------------------------------------
def salsa_core(inp, rounds=20, hsalsa=False):
    x = list(inp)
    def R(a, b, c, k): x[a] ^= rotl((x[b] + x[c]) & 0xffffffff, k)
    for _ in range(rounds // 2):
        R(4,0,12,7); R(8,4,0,9); R(12,8,4,13); R(0,12,8,18)
        R(9,5,1,7); R(13,9,5,9); R(1,13,9,13); R(5,1,13,18)
        R(14,10,6,7); R(2,14,10,9); R(6,2,14,13); R(10,6,2,18)
        R(3,15,11,7); R(7,3,15,9); R(11,7,3,13); R(15,11,7,18)
        R(1,0,3,7); R(2,1,0,9); R(3,2,1,13); R(0,3,2,18)
        R(6,5,4,7); R(7,6,5,9); R(4,7,6,13); R(5,4,7,18)
        R(11,10,9,7); R(8,11,10,9); R(9,8,11,13); R(10,9,8,18)
        R(12,15,14,7); R(13,12,15,9); R(14,13,12,13); R(15,14,13,18)
    if hsalsa: return struct.pack('<8I', *[x[i] for i in (0,5,10,15,6,7,8,9)])
    return struct.pack('<16I', *[(x[i] + inp[i]) & 0xffffffff for i in range(16)])
C = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]
def state(key, n16):
    k = struct.unpack('<8I', key); n = struct.unpack('<4I', n16)
    return [C[0], *k[0:4], C[1], *n, C[2], *k[4:8], C[3]]
def hsalsa20(key, n16): return salsa_core(state(key, n16), hsalsa=True)
def salsa20_stream(key, n8, length):
    out = b''; ctr = 0
    while len(out) < length:
        out += salsa_core(state(key, n8 + struct.pack('<Q', ctr))); ctr += 1
    return out[:length]
def box_seal_open(c, pk, sk):
    epk, rest = c[:32], c[32:]
    nonce = hashlib.blake2b(epk + pk, digest_size=24).digest()
    shared = X25519PrivateKey.from_private_bytes(sk).exchange(X25519PublicKey.from_public_bytes(epk))
    k = hsalsa20(shared, bytes(16))
    sub = hsalsa20(k, nonce[:16])
    mac, ct = rest[:16], rest[16:]
    stream = salsa20_stream(sub, nonce[16:], 32 + len(ct))
    Poly1305.verify_tag(stream[:32], ct, mac)
    return bytes(a ^ b for a, b in zip(ct, stream[32:]))

HEADER = bytes.fromhex(
    '000000001c000000000000000400090001000400000000000100000000000000'
    'fa0057469d0100000000000000000000210000008200000025000000ea000000'
    '310000006a000000350000008a0000003d000000320000003d0000000e000000'
    '000000000000000000000000000000000000000000000000019d465700fa7000'
    '800000000000002a632d61616161616161616161616161616161616161616161'
    '6161616100000000686f706974616c2d6e6f7264000000006433653838643561'
    '6136333664396261000000000000000070726f2d31000000010000003a000000'
    '6173736f2d610000')
BODY = bytes.fromhex(
    '75ef1abd721193fd60b42cfb4f02bd74bc0b9be6f854e07f390b3c41c425ed77'
    '65eea606fcc3c6cae222c3e95d507ef8ce8256cc5302c227e893e49227c3cc32'
    '015f90cfaa4c9ac1cca2f485004d26c01ba892827ab32927ba92b17cd2a80a23'
    'd6df3ad96f8fc08555b20e11966ef60a')
SEALED_KEY = bytes.fromhex(
    '0bfe4a4815c2c5100b48565cf7df02443f3e2514056672a6e3001e64538c3367'
    '99f52217c3343b72a4e57f5aa5c576d6dd74aa33d9e9b66f6a961469a4eafe22'
    '9183d08b8876e3f23c9688b8d8858811')
BODY_DIGEST = bytes.fromhex(
    '60732a45d603c04e535d367ccda34edb5c496f76124c5fa6c1fe938d9acc441c')
WRAPS_DIGEST = bytes.fromhex(
    '1458ca5106c17d6f23e7b886b8bc73a90e23ef02cda21ee1129a4f42725bcfe5')
SIGNATURE = bytes.fromhex(
    'df828e806a7d9475505d8c73f2a7d9e8caf498c48bab8ef5d9ecdf5c83c06d4e'
    '6b7a937af9af870e40706fc0015c384b91ee4e6f8c603eedafdad70171080b0c')
PLAINTEXT = bytes.fromhex(
    '0000000008000000000000000100010002000000000000000000000000000100'
    '01000000ca00000072656c616973206b6e6f776e2d616e73776572206e6f7465'
    '0000000000000000')

raw = lambda k: k.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
emitter = Ed25519PrivateKey.from_private_bytes(b2(b'relais-identity-sign' + seed(0x01)))
seal_sk = hashlib.sha512(b2(b'relais-identity-seal' + seed(0x40))).digest()[:32]
seal_pk = raw(X25519PrivateKey.from_private_bytes(seal_sk).public_key())
recipient_sign = Ed25519PrivateKey.from_private_bytes(b2(b'relais-identity-sign' + seed(0x40)))
recipient_key_id = b2(raw(recipient_sign.public_key()))[:8].hex().encode()
content_key = box_seal_open(SEALED_KEY, seal_pk, seal_sk)
hh = b2(HEADER)
plaintext = ChaCha20Poly1305(hchacha20(content_key, BODY[:16])).decrypt(
    b'\0\0\0\0' + BODY[16:24], BODY[24:], hh)
assert plaintext == PLAINTEXT
assert b2(BODY) == BODY_DIGEST
wd = b2(lp(b'asso-a') + lp(recipient_key_id) + lp(SEALED_KEY))
assert wd == WRAPS_DIGEST
Ed25519PublicKey.from_public_bytes(raw(emitter.public_key())).verify(
    SIGNATURE, b'relais-envelope-v1' + hh + BODY_DIGEST + wd)
print('8.2 frozen envelope: signature verifies, wrap opens, body decrypts')
