#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs one of them.
#   fuzz/run.sh trace_fuzz 600          # ten minutes on the JSON trace reader
#   fuzz/run.sh xplane_fuzz 600         # the XPlane (protobuf) trace reader
#   fuzz/run.sh energy_csv_fuzz 600     # the energy CSV reader
#   fuzz/run.sh run_json_fuzz 600       # a run directory's run.json (and energy.csv)
#   fuzz/run.sh profile_json_fuzz 600   # the profile.json reader
#   fuzz/run.sh report_fuzz 600         # every report renderer on parsed profiles
# The corpus grows in fuzz/corpus-TARGET (git-ignored). Each run's log and any
# crashing input are kept in build-fuzz/artifacts/TARGET/ (log-DATE.txt, crash-*,
# timeout-*, oom-*; never overwritten by a later run), and the script exits
# non-zero on a crash. Run it under `nice` on a shared machine (JOBS=2 by default
# for the build).
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
ninja -C build-fuzz -j"${JOBS:-2}" "$target"
corpus=fuzz/corpus-$target
mkdir -p "$corpus"
extra=()
case $target in
  trace_fuzz)
    cp -n tests/data/fixtures/*.json* tests/data/traces/*.json "$corpus"/ 2>/dev/null || true
    extra=(-max_len=65536 -rss_limit_mb=4096) ;;
  xplane_fuzz)
    cp -n tests/data/fixtures/*.xplane.pb tests/data/xplane/*.pb "$corpus"/ 2>/dev/null || true
    extra=(-dict=fuzz/xplane.dict -max_len=65536 -rss_limit_mb=4096) ;;
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
# Leaks of the font caches Graphviz's text layout fills are not ours (fuzz/lsan.supp).
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
# UndefinedBehaviorSanitizer only prints and goes on unless told to stop: a
# report then leaves no input and no exit status (one was found only in a log).
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
artifacts=build-fuzz/artifacts/$target
mkdir -p "$artifacts"
log=$artifacts/log-$(date +%Y%m%d-%H%M%S).txt
echo "fuzz/run.sh: log in $log, crashing inputs in $artifacts/"
# The log is kept beside the artifacts: a crash's stack is in it, and an input
# without its stack (or a stack without its input) was how one was lost before.
set +e
build-fuzz/"$target" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts/" \
  "${extra[@]}" "$corpus" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
exit "$status"
