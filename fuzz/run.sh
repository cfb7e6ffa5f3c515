#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs one of them.
#   fuzz/run.sh trace_fuzz 600          # ten minutes on the JSON trace reader
#   fuzz/run.sh energy_csv_fuzz 600     # the energy CSV reader
#   fuzz/run.sh run_json_fuzz 600       # a run directory's run.json (and energy.csv)
#   fuzz/run.sh profile_json_fuzz 600   # the profile.json reader
#   fuzz/run.sh report_fuzz 600         # every report renderer on parsed profiles
# The corpus grows in fuzz/corpus-TARGET (git-ignored); a crash is written to
# fuzz/crash-* and the script exits non-zero. Run it under `nice` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh trace_fuzz|energy_csv_fuzz|run_json_fuzz|profile_json_fuzz|report_fuzz [SECONDS]}
seconds=${2:-600}
# clang 14 rejects lambdas capturing structured bindings (src/account/regression.cpp,
# C++20): use Debian 12's clang 16 when it is there.
cxx=$(command -v clang++-16 || command -v clang++ || true)
if [ -z "$cxx" ]; then apt-get install -y -qq clang-16 libclang-rt-16-dev; cxx=clang++-16; fi
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DSMARAGDINE_BUILD_FUZZERS=ON -DSMARAGDINE_WITH_TORCH=OFF \
  -DSMARAGDINE_BUILD_TESTS=OFF -DSMARAGDINE_BUILD_BENCH=OFF >/dev/null
ninja -C build-fuzz "$target"
corpus=fuzz/corpus-$target
mkdir -p "$corpus"
extra=()
case $target in
  trace_fuzz)
    cp -n tests/data/fixtures/*.json* tests/data/traces/*.json "$corpus"/ 2>/dev/null || true
    extra=(-max_len=65536 -rss_limit_mb=4096) ;;
  energy_csv_fuzz)
    cp -rn tests/data/energy/fuzz_seeds/. "$corpus"/
    extra=(-dict=tests/data/energy/energy_csv.dict) ;;
  run_json_fuzz)
    for run in tests/data/energy/run_basic examples/*/run; do
      [ -f "$run/run.json" ] && cp -n "$run/run.json" "$corpus/$(echo "$run" | tr / _).json"
    done
    extra=(-dict=fuzz/run_json.dict -max_len=16384) ;;
  profile_json_fuzz|report_fuzz)
    cp -n tests/data/profiles/*.json tests/golden/report/*.json "$corpus"/ 2>/dev/null || true
    # Renders of big fuzzed profiles are slow, not wrong: bound the input, and
    # give Graphviz's layout time.
    extra=(-dict=fuzz/profile_json.dict -max_len=65536 -timeout=30) ;;
esac
build-fuzz/"$target" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix=fuzz/crash- "${extra[@]}" "$corpus"
