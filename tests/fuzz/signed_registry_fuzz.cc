// libFuzzer target: DecodeSignedRegistry, then DecodeRegistry on the registry bytes it carries.
#include "schema/codec.h"
#include "tests/fuzz/fuzz_roundtrip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  auto signed_registry = fuzz::CheckRoundTrip<schema::SignedRegistry>(
      data, size, schema::DecodeSignedRegistry, schema::EncodeSignedRegistry);
  if (signed_registry) {
    (void)fuzz::CheckRoundTrip<schema::Registry>(signed_registry->registry.data(),
                                                 signed_registry->registry.size(),
                                                 schema::DecodeRegistry, schema::EncodeRegistry);
  }
  return 0;
}
