#!/usr/bin/env bash
# Fuzz targets and soak/crash loops (CTest label `long`). Builds a clang fuzz tree in build-fuzz/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
RELAIS_BUILD_DIR=$root/build-fuzz "$root/scripts/build.sh" -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DRELAIS_FUZZ=ON -DRELAIS_BENCH=OFF \
  -DRELAIS_FUZZ_SECONDS="${RELAIS_FUZZ_SECONDS:-60}"
cd "$root/build-fuzz"
ctest --output-on-failure -L long "$@"
