// The embedded StreamLog (broker/stream_log.h): one standalone SQLite file in WAL mode with
// synchronous=FULL, separate from the journal's database and tables. Append commits one
// transaction per message (returns after fsync); ids are unique forever (the de-duplication
// window is unbounded); cursor positions, delivery counts and acks are rows in the same file, so a
// durable cursor survives closing the log and restarting the process.
//
// One process opens a file at a time (`<path>.lock`, flock: a second Open is kRetryLater
// "stream_unavailable"). Every method is thread-safe (one connection behind a mutex); Fetch waits
// on a condition variable woken by Append and Nak in this process.
#ifndef RELAIS_BROKER_JOURNAL_SQLITE_STREAM_LOG_H_
#define RELAIS_BROKER_JOURNAL_SQLITE_STREAM_LOG_H_

#include <filesystem>
#include <memory>

#include "base/clock.h"
#include "base/status.h"
#include "broker/stream_log.h"

namespace relais::journal {

struct SqliteStreamLogOptions {
  std::filesystem::path path;  // created (0600) when missing
  // stored_at and ack_wait deadlines; null = the system clock. Waiting in Fetch uses real time.
  const base::Clock* clock = nullptr;
};

base::Result<std::unique_ptr<broker::StreamLog>> OpenSqliteStreamLog(
    const SqliteStreamLogOptions& options);

}  // namespace relais::journal

#endif  // RELAIS_BROKER_JOURNAL_SQLITE_STREAM_LOG_H_
