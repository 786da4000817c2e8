// How a fuzz target reports a broken invariant: a message on stderr and abort(), which libFuzzer
// records as a crash with its reproducer.
#ifndef RELAIS_TESTS_FUZZ_FUZZ_DIE_H_
#define RELAIS_TESTS_FUZZ_FUZZ_DIE_H_

#include <cstdio>
#include <cstdlib>

namespace relais::fuzz {

[[noreturn]] inline void Die(const char* what) {
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

}  // namespace relais::fuzz

#endif  // RELAIS_TESTS_FUZZ_FUZZ_DIE_H_
