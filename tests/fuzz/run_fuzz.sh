#!/usr/bin/env bash
# Runs one libFuzzer target for a fixed time: tests/fuzz/run_fuzz.sh FUZZER SEEDS WORK SECONDS
#   FUZZER   the fuzz target binary
#   SEEDS    the committed seed corpus (read only; copied into WORK)
#   WORK     a scratch directory: WORK/corpus grows with new inputs, WORK/artifacts keeps crashes
#   SECONDS  -max_total_time
# Exits non-zero when the fuzzer finds a crash, a leak, a timeout (>10 s per input) or an
# out-of-memory (>2048 MB); the reproducer is printed and left in WORK/artifacts.
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 FUZZER SEEDS WORK SECONDS" >&2
  exit 2
fi
fuzzer=$1 seeds=$2 work=$3 seconds=$4
[ -x "$fuzzer" ] || { echo "run_fuzz: $fuzzer is not executable" >&2; exit 2; }
[ -d "$seeds" ] || { echo "run_fuzz: no seed corpus at $seeds" >&2; exit 2; }
mkdir -p "$work/corpus" "$work/artifacts"
cp -f "$seeds"/* "$work/corpus/"
log="$work/fuzz.log"
set +e
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1
rc=$?
set -e
name=$(basename "$fuzzer")
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
corpus=$(find "$work/corpus" -type f | wc -l)
echo "run_fuzz: $name: ${seconds}s, ${runs:-?} runs, ${speed:-?} exec/s, corpus $corpus files, rc $rc"
if [ $rc -ne 0 ]; then
  tail -n 60 "$log" >&2
  ls -l "$work/artifacts" >&2
  exit $rc
fi
