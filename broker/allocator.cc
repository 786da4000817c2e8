#include "broker/allocator.h"

#ifdef RELAIS_WITH_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace relais::broker {

std::string AllocatorName() {
#ifdef RELAIS_WITH_JEMALLOC
  // The version jemalloc reports about itself (the library linked, not the headers built against).
  const char* version = nullptr;
  size_t size = sizeof version;
  if (mallctl("version", &version, &size, nullptr, 0) == 0 && version != nullptr) {
    return std::string("jemalloc ") + version;
  }
  return "jemalloc";
#else
  return "glibc";
#endif
}

}  // namespace relais::broker
