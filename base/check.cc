#include "base/check.h"

#include <cstdio>
#include <cstdlib>

namespace relais::base {

void CheckFailed(const char* file, int line, const char* condition, const char* msg) {
  std::fprintf(stderr, "relais: invariant broken at %s:%d: %s%s%s\n", file, line, condition,
               msg ? ": " : "", msg ? msg : "");
  std::fflush(stderr);
  std::abort();
}

}  // namespace relais::base
