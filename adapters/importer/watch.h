// --watch DIR: imports each list file dropped into DIR, oldest name first, then moves it to
// DIR/done/ (imported) or DIR/failed/ (refused as a whole), until SIGINT or SIGTERM. Between
// files the client is polled so its heartbeats keep the session alive. Files whose name starts
// with '.' or ends with ".part"/".tmp" are still being written and are left alone.
#ifndef RELAIS_ADAPTERS_IMPORTER_WATCH_H_
#define RELAIS_ADAPTERS_IMPORTER_WATCH_H_

#include <filesystem>
#include <functional>

#include "adapters/importer/import_run.h"

namespace relais::importer {

// `run_once(options)` imports options.files and returns an exit code (0: imported).
// Returns 0 when stopped by a signal, 1 when DIR cannot be read.
int WatchFolder(const std::filesystem::path& dir, const ImportOptions& options,
                const std::function<int(ImportOptions&)>& run_once, sdk::Client& client);

}  // namespace relais::importer

#endif  // RELAIS_ADAPTERS_IMPORTER_WATCH_H_
