#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs one of them.
#   fuzz/run.sh trace_fuzz 600        # ten minutes on the JSON trace reader
#   fuzz/run.sh energy_csv_fuzz 600   # ten minutes on the energy CSV reader
# The corpus grows in fuzz/corpus-TARGET (git-ignored); a crash is written to
# fuzz/crash-* and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh trace_fuzz|energy_csv_fuzz [SECONDS]}
seconds=${2:-600}
command -v clang++ >/dev/null || apt-get install -y -qq clang libclang-rt-14-dev
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DSMARAGDINE_BUILD_FUZZERS=ON -DSMARAGDINE_WITH_TORCH=OFF \
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
esac
build-fuzz/"$target" -max_total_time="$seconds" -artifact_prefix=fuzz/crash- "${extra[@]}" "$corpus"
