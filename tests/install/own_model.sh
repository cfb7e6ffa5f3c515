#!/usr/bin/env bash
# install.own_model: examples/own-model builds out of tree against the
# installed package (find_package(Smaragdine COMPONENTS torch), which brings
# LibTorch along), runs its 2 + 5 training steps under live accounting, and
# the installed `smaragdine report` reads the profile it wrote. The torch/
# public headers are compiled one by one against Smaragdine::torch as well.
# Skipped (77) in a build without LibTorch: there is no Smaragdine::torch.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
prefix=${1:?usage: own_model.sh PREFIX SCRATCH_DIR}
build=${2:?}
if [ "${SMARAGDINE_HAVE_TORCH:-0}" != 1 ]; then
  echo "skipped: this build has no LibTorch integration, so no Smaragdine::torch to build examples/own-model against (install Debian's libtorch-dev and reconfigure)"
  exit 77
fi
rm -rf "$build"
mkdir -p "$build"
out_file=$build.out.txt
err_file=$build.err.txt
[ -x "$prefix/bin/smaragdine" ] || fail "no installation in $prefix (install.cmake_install sets it up)"

# The example's own CMakeLists.txt, from a copy: nothing of the source tree
# but the example's two files is in reach.
mkdir -p "$build/src"
cp "$SMARAGDINE_SOURCE_DIR/examples/own-model/CMakeLists.txt" \
  "$SMARAGDINE_SOURCE_DIR/examples/own-model/own_model_example.cpp" "$build/src/"
# No build type: the example's own code is a few calls into LibTorch, and -O0
# compiles the LibTorch headers fastest.
expect_status 0 "configure examples/own-model" "$CMAKE_COMMAND" -S "$build/src" -B "$build/build" \
  -G "$CMAKE_GENERATOR" -DCMAKE_PREFIX_PATH="$prefix"
expect_status 0 "build examples/own-model" "$CMAKE_COMMAND" --build "$build/build" -j "$jobs"
expect_status 0 "own_model_example" "$build/build/own_model_example" "$build/run"
expect_in "$out_file" "model" "own_model_example's table"
expect_in "$out_file" "layer_0" "own_model_example's table"
[ -f "$build/run/profile.json" ] || fail "own_model_example wrote no profile.json"
expect_status 0 "installed smaragdine report of the example's profile" "$prefix/bin/smaragdine" report \
  "$build/run/profile.json" --depth 2
expect_in "$out_file" "layer_0" "report of the example's profile"

expect_status 0 "configure the torch header check" "$CMAKE_COMMAND" -S "$(dirname "$0")/consumer" \
  -B "$build/headers" -G "$CMAKE_GENERATOR" -DCMAKE_PREFIX_PATH="$prefix" -DCHECK_TORCH=ON
expect_status 0 "compile the torch/ headers alone" "$CMAKE_COMMAND" --build "$build/headers" \
  --target torch_headers_alone -j "$jobs"
echo "ok: examples/own-model built out of tree against $prefix and ran"
