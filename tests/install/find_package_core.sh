#!/usr/bin/env bash
# install.find_package_core: a project outside the tree finds the installed
# package with find_package(Smaragdine COMPONENTS core), compiles every
# installed public header on its own, and links a program against
# Smaragdine::core whose table is byte for byte `smaragdine report`'s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
prefix=${1:?usage: find_package_core.sh PREFIX SCRATCH_DIR}
build=${2:?}
rm -rf "$build"
mkdir -p "$build"
out_file=$build.out.txt
err_file=$build.err.txt
[ -x "$prefix/bin/smaragdine" ] || fail "no installation in $prefix (install.cmake_install sets it up)"

# The installed headers include nothing private: only <smaragdine/…> of their own.
if grep -rn '#include "' "$prefix/include/smaragdine" | grep -v '#include "smaragdine/' >"$out_file"; then
  cat "$out_file" >&2
  fail "installed headers include files that are not installed"
fi

expect_status 0 "configure the consumer" "$CMAKE_COMMAND" -S "$(dirname "$0")/consumer" -B "$build" \
  -G "$CMAKE_GENERATOR" -DCMAKE_PREFIX_PATH="$prefix"
expect_status 0 "build the consumer" "$CMAKE_COMMAND" --build "$build" -j "$jobs"

expect_status 0 "installed smaragdine account" "$prefix/bin/smaragdine" account --energy "$fixture_run" \
  --trace "$fixture_trace" -o "$build/profile.json"
expect_status 0 "installed smaragdine report" "$prefix/bin/smaragdine" report "$build/profile.json"
cp "$out_file" "$build/cli_table.txt"
expect_status 0 "consumer" "$build/consumer" "$build/profile.json"
cmp "$out_file" "$build/cli_table.txt" || fail "the consumer's table differs from smaragdine report's"
grep -q "bert" "$out_file" || fail "the consumer's table has no bert node"
echo "ok: find_package(Smaragdine COMPONENTS core), headers standalone, consumer's table = report's"
