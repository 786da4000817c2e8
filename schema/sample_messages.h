// Test-only (library schema_samples, built with the tests): one value of every relais message
// with every field populated, shared by schema_test and the fuzz seed generator
// (tests/fuzz/make_seeds.cc). All names and identifiers are invented.
#ifndef RELAIS_SCHEMA_SAMPLE_MESSAGES_H_
#define RELAIS_SCHEMA_SAMPLE_MESSAGES_H_

#include <string>
#include <utility>
#include <vector>

#include "schema/envelope.h"
#include "schema/events.h"
#include "schema/registry.h"
#include "schema/wire.h"

namespace relais::schema::samples {

// A referral header that passes ValidateHeader (hospital discharge, two recipients).
Header ReferralHeader();
// A consent_granted header with its ConsentTerms, passing ValidateHeader.
Header ConsentHeader();
// Every Header field set, including consent and decline_reason (so not a valid combination for
// ValidateHeader): for round trips.
Header FullHeader();

// An envelope over EncodeHeader(ReferralHeader()) with two wraps and correctly sized digests and
// signature (the crypto is fake: these are patterned bytes).
Envelope FullEnvelope();

// One body per EventBody alternative, and the referral body with each details alternative.
// Each entry is (name, body); names are stable (used as seed file names).
std::vector<std::pair<std::string, EventBody>> EventBodies();

Registry FullRegistry();
SignedRegistry FullSignedRegistry();

// One frame per Frame alternative, plus each Subscribe resume mode and AdminRequest op.
std::vector<std::pair<std::string, Frame>> Frames();

}  // namespace relais::schema::samples

#endif  // RELAIS_SCHEMA_SAMPLE_MESSAGES_H_
