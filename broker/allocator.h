// Which memory allocator this relaisd runs on, for its start-up log line (`relaisd_ready`).
//
// relaisd links jemalloc unless it was configured with -DRELAIS_JEMALLOC=OFF or built with the
// sanitizers (docs/performance.md, run M: most of relaisd's blocks are allocated on one thread and
// freed on another, which leaves glibc's per-thread cache empty on one side and sends both to the
// shared arena under its lock; jemalloc's thread caches hand such blocks back in batches).
#ifndef RELAIS_BROKER_ALLOCATOR_H_
#define RELAIS_BROKER_ALLOCATOR_H_

#include <string>

namespace relais::broker {

// "jemalloc <version>" or "glibc".
std::string AllocatorName();

}  // namespace relais::broker

#endif  // RELAIS_BROKER_ALLOCATOR_H_
