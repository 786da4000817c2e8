// libFuzzer target: the exported checkpoint file auditors exchange (broker/journal/checkpoint.h
// ParseCheckpointFile, grammar in docs/journal-format.md §5.2). Besides not crashing and failing
// only with kInvalidInput "bad_checkpoint_file", checks the limits and that a parsed file is
// written back (FormatCheckpointFile) to text that parses to an equal value.
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "broker/journal/checkpoint.h"
#include "tests/fuzz/fuzz_die.h"

using relais::fuzz::Die;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace relais::journal;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto file = ParseCheckpointFile(text);
  if (!file) {
    if (file.error().code != "bad_checkpoint_file") Die("unexpected error code");
    return 0;
  }
  if (size > kMaxCheckpointFileBytes) Die("accepted a file over the size limit");
  if (file->witnesses.size() > kMaxWitnesses) Die("accepted too many witnesses");
  if (file->checkpoint.seq < 1) Die("accepted seq 0");
  auto back = ParseCheckpointFile(FormatCheckpointFile(*file));
  if (!back) Die("FormatCheckpointFile output does not parse");
  if (!(*back == *file)) Die("checkpoint file does not round-trip");
  return 0;
}
