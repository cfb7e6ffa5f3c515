#!/usr/bin/env bash
# install.cmake_install: `cmake --install` of this build into a scratch prefix
# puts the executables, public headers, static libraries and CMake package in
# place, and the installed smaragdine runs from there (its demo finds the
# installed smaragdine-torch). install.find_package_core and install.own_model
# build against this prefix.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
prefix=${1:?usage: cmake_install.sh PREFIX}
rm -rf "$prefix"
mkdir -p "$prefix"
out_file=$prefix.out.txt
err_file=$prefix.err.txt

expect_status 0 "cmake --install" "$CMAKE_COMMAND" --install "$SMARAGDINE_BUILD_DIR" --prefix "$prefix"

for f in bin/smaragdine lib/libsmaragdine_core.a lib/cmake/Smaragdine/SmaragdineConfig.cmake \
    lib/cmake/Smaragdine/SmaragdineConfigVersion.cmake lib/cmake/Smaragdine/SmaragdineTargets.cmake; do
  [ -e "$prefix/$f" ] || fail "$f not installed"
done
# Every public header is installed (the torch/ ones with the integration only).
for h in "$SMARAGDINE_SOURCE_DIR"/include/smaragdine/*.h; do
  [ -f "$prefix/include/smaragdine/$(basename "$h")" ] || fail "include/smaragdine/$(basename "$h") not installed"
done
if [ "${SMARAGDINE_HAVE_TORCH:-0}" = 1 ]; then
  for f in bin/smaragdine-torch lib/libsmaragdine_torch.a; do
    [ -e "$prefix/$f" ] || fail "$f not installed (this build has LibTorch)"
  done
  for h in "$SMARAGDINE_SOURCE_DIR"/include/smaragdine/torch/*.h; do
    [ -f "$prefix/include/smaragdine/torch/$(basename "$h")" ] || fail "include/smaragdine/torch/$(basename "$h") not installed"
  done
else
  [ ! -e "$prefix/include/smaragdine/torch" ] || fail "torch headers installed by a build without LibTorch"
fi
# Nothing private: no src/ header, no generated file, nothing from tests.
if find "$prefix/include" -type f ! -name '*.h' | grep -q .; then fail "non-header files under include/"; fi

bin=$prefix/bin/smaragdine
expect_status 0 "installed smaragdine --version" "$bin" --version
expect_in "$out_file" "smaragdine " "--version"
expect_status 0 "installed smaragdine account" "$bin" account --energy "$fixture_run" --trace "$fixture_trace" \
  -o "$prefix.profile.json"
expect_status 0 "installed smaragdine report" "$bin" report "$prefix.profile.json" --depth 2
expect_in "$out_file" "bert" "installed report"
if [ "${SMARAGDINE_HAVE_TORCH:-0}" = 1 ]; then
  # demo's help comes from smaragdine-torch: the hand-over works in the
  # installed layout, not only in the build tree.
  expect_status 0 "installed smaragdine demo --help" "$bin" demo --help
  expect_in "$out_file" "--preset" "installed demo --help (from smaragdine-torch)"
fi
if [ "${SMARAGDINE_HAVE_PYTHON:-0}" = 1 ]; then
  # The Python package sits where the installed record looks for it, and
  # record --torch works from the installed layout: a trace from a tiny program.
  pkg=$prefix/lib/smaragdine/python
  [ -f "$pkg/sitecustomize.py" ] || fail "lib/smaragdine/python/sitecustomize.py not installed"
  [ -f "$pkg/smaragdine/__init__.py" ] || fail "lib/smaragdine/python/smaragdine/__init__.py not installed"
  ls "$pkg"/smaragdine/_C.*.so >/dev/null 2>&1 || fail "the extension smaragdine/_C.*.so not installed"
  run=$prefix.torch-run
  rm -rf "$run"
  expect_status 0 "installed smaragdine record --torch" "$bin" record --torch --no-account -q -o "$run" -- \
    "$SMARAGDINE_PYTHON_EXECUTABLE" -c "import torch; print((torch.ones(4) * 2).sum().item())"
  ls "$run"/torch-*.trace.json >/dev/null 2>&1 || fail "installed record --torch wrote no torch trace: $(ls "$run")"
fi
echo "ok: installed into $prefix"
