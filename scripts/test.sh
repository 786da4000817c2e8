#!/usr/bin/env bash
# The README's test command: installs dependencies, builds, runs every default test (not `long`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh"
cd "${RELAIS_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j 2 -LE long "$@"
