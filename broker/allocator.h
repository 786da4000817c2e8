// Which memory allocator this relaisd runs on, for its start-up log line (`relaisd_ready`).
//
// relaisd links jemalloc unless it was configured with -DRELAIS_JEMALLOC=OFF or built with the
// sanitizers (docs/performance.md, run M: glibc's malloc sorts its bins for the 1–2 KiB buffers
// one thread allocates and another frees; jemalloc's per-thread caches do not).
#ifndef RELAIS_BROKER_ALLOCATOR_H_
#define RELAIS_BROKER_ALLOCATOR_H_

#include <string>

namespace relais::broker {

// "jemalloc <version>" or "glibc".
std::string AllocatorName();

}  // namespace relais::broker

#endif  // RELAIS_BROKER_ALLOCATOR_H_
