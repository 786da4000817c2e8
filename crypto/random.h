// Randomness (libsodium randombytes) and the ids built from it.
#ifndef RELAIS_CRYPTO_RANDOM_H_
#define RELAIS_CRYPTO_RANDOM_H_

#include <string>

#include "base/bytes.h"
#include "base/clock.h"

namespace relais::crypto {

base::Bytes RandomBytes(size_t n);

// RFC 9562 UUIDv7: 48-bit Unix ms timestamp, version 7, variant 10, 74 random bits. 16 bytes.
base::Bytes NewEventId(base::TimeMs now);
// "0190f2c4-...": the canonical 8-4-4-4-12 text form of a 16-byte id.
std::string FormatUuid(base::ByteView id);
base::Result<base::Bytes> ParseUuid(std::string_view text);

// A case ref: "c-" followed by 26 lowercase base32 characters of 128 random bits. Random, never
// derived from any identifier of the person.
std::string NewCaseRef();

}  // namespace relais::crypto

#endif  // RELAIS_CRYPTO_RANDOM_H_
