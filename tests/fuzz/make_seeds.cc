// Writes the seed corpora of the schema fuzz targets: a few valid encoded messages per target,
// from schema/sample_messages.h. Usage: relais_fuzz_seeds <corpus dir> (tests/fuzz/corpus).
// The output is committed; rerun it when the schema gains fields, so the seeds cover them.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "schema/codec.h"
#include "schema/sample_messages.h"

namespace {

namespace fs = std::filesystem;
using relais::base::Bytes;
namespace schema = relais::schema;
namespace samples = relais::schema::samples;

bool Write(const fs::path& dir, const std::string& name, const Bytes& bytes) {
  fs::create_directories(dir);
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
    return 2;
  }
  const fs::path root = argv[1];
  bool ok = true;

  ok &= Write(root / "header", "referral", schema::EncodeHeader(samples::ReferralHeader()));
  ok &= Write(root / "header", "consent_granted", schema::EncodeHeader(samples::ConsentHeader()));
  ok &= Write(root / "header", "every_field", schema::EncodeHeader(samples::FullHeader()));

  schema::Envelope minimal;
  minimal.header = schema::EncodeHeader(samples::ReferralHeader());
  ok &= Write(root / "envelope", "full", schema::EncodeEnvelope(samples::FullEnvelope()));
  ok &= Write(root / "envelope", "header_only", schema::EncodeEnvelope(minimal));

  for (const auto& [name, body] : samples::EventBodies()) {
    ok &= Write(root / "event_body", name, schema::EncodeEventBody(body));
  }

  schema::Registry small;
  small.serial = 1;
  small.agencies.push_back(samples::FullRegistry().agencies[1]);
  ok &= Write(root / "registry", "full", schema::EncodeRegistry(samples::FullRegistry()));
  ok &= Write(root / "registry", "one_agency", schema::EncodeRegistry(small));

  ok &= Write(root / "signed_registry", "full",
              schema::EncodeSignedRegistry(samples::FullSignedRegistry()));
  schema::SignedRegistry signed_small = samples::FullSignedRegistry();
  signed_small.registry = schema::EncodeRegistry(small);
  ok &= Write(root / "signed_registry", "one_agency", schema::EncodeSignedRegistry(signed_small));

  for (const auto& [name, frame] : samples::Frames()) {
    ok &= Write(root / "frame", name, schema::EncodeFrame(frame));
  }

  if (!ok) {
    std::fprintf(stderr, "relais_fuzz_seeds: could not write under %s\n", root.c_str());
    return 1;
  }
  return 0;
}
