#!/usr/bin/env bash
# Configures and builds relais into build/ (or $RELAIS_BUILD_DIR) with two parallel jobs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RELAIS_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=${RELAIS_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build" -j "${RELAIS_JOBS:-2}"
