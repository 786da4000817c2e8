// libFuzzer target: DecodeRegistry, and Registry::Find over what it decoded.
#include "schema/codec.h"
#include "tests/fuzz/fuzz_roundtrip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais;
  auto registry = fuzz::CheckRoundTrip<schema::Registry>(data, size, schema::DecodeRegistry,
                                                         schema::EncodeRegistry);
  if (registry) {
    for (const schema::Agency& agency : registry->agencies) {
      const schema::Agency* found = registry->Find(agency.id);
      if (found == nullptr || found->id != agency.id) fuzz::Die("Registry::Find");
    }
  }
  return 0;
}
