#!/usr/bin/env bash
# The benchmark command (not part of the test run): builds in Release and runs every benchmark
# harness under tests/bench, printing tables and writing JSON results to bench-results/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
RELAIS_BUILD_DIR=$root/build-release RELAIS_BUILD_TYPE=Release "$root/scripts/build.sh"
out=$root/bench-results
mkdir -p "$out"
for b in "$root"/build-release/tests/bench/relais_bench_*; do
  [ -x "$b" ] || continue
  # RELAIS_BENCH_ONLY=e2e runs only the benchmarks whose name contains it (the options after
  # bench.sh are passed to each benchmark run).
  [[ "$(basename "$b")" == *"${RELAIS_BENCH_ONLY:-}"* ]] || continue
  echo "== $(basename "$b")"
  "$b" --out "$out/$(basename "$b").json" "$@"
done
