#!/usr/bin/env bash
# install.feature_builds: Smaragdine configures, builds and runs without
# LibTorch and without Graphviz (issue 15, item 6).
#
# What is built, and why no more: CI already builds everything with both
# (about 18 of its 30 minutes), so this test adds one build, not three.
#   - without both: configured with neither found, only the `smaragdine`
#     target built, at -O0 without debug information (it checks that the code
#     builds and runs, not how fast), then run: --version, account and report
#     on examples/bert-small, the DOT and HTML views, and graph-svg and demo,
#     which must say what to install;
#   - without LibTorch only, and without Graphviz only: configured, each must
#     succeed and say in one line what it left out. Their code is the both-off
#     build's, one part at a time: without LibTorch the core is the main
#     build's; without Graphviz graph.cpp and html.cpp are the both-off build's;
#   - LibTorch asked for by name (-DSMARAGDINE_WITH_TORCH=ON) and missing must
#     stop the configure.
# "Not found" is real: CMAKE_DISABLE_FIND_PACKAGE_Torch keeps find_package(Torch)
# from looking, and PKG_CONFIG_LIBDIR pointing at an empty folder hides libgvc
# from pkg-config.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
root=${1:?usage: feature_builds.sh SCRATCH_DIR}
mkdir -p "$root/no-pkgconfig"
out_file=$root/out.txt
err_file=$root/err.txt
no_torch=(-DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON)

# configure DIR [ENV…] -- CMAKE_ARGS…: a fresh configure (the cache removed, so
# that detection runs again) keeping the objects of an earlier run.
configure() {
  local dir=$1
  shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  rm -f "$dir/CMakeCache.txt"
  expect_status 0 "configure $dir" env "${envs[@]}" "$CMAKE_COMMAND" -S "$SMARAGDINE_SOURCE_DIR" -B "$dir" \
    -G "$CMAKE_GENERATOR" "$@"
  cp "$out_file" "$dir.configure.txt"
}

# ---- without LibTorch and without Graphviz: built and run ----
none=$root/none
configure "$none" "PKG_CONFIG_LIBDIR=$root/no-pkgconfig" -- "${no_torch[@]}" \
  -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG=-O0
expect_in "$none.configure.txt" "LibTorch integration (demo, sweep, live accounting: smaragdine-torch, Smaragdine::torch): OFF, LibTorch was not found" "configure without either"
expect_in "$none.configure.txt" "install Debian's libtorch-dev" "configure without either"
expect_in "$none.configure.txt" "Graphviz module graphs (report --format graph-svg, html's module graphs): OFF, Graphviz's libgvc was not found" "configure without either"
expect_in "$none.configure.txt" "install Debian's libgraphviz-dev" "configure without either"
expect_status 0 "build without either" "$CMAKE_COMMAND" --build "$none" --target smaragdine -j "$jobs"
[ ! -e "$none/smaragdine-torch" ] || fail "a build without LibTorch made smaragdine-torch"
bin=$none/smaragdine

expect_status 0 "smaragdine --version" "$bin" --version
expect_in "$out_file" "torch: no" "--version without either"
expect_in "$out_file" "graphviz: no" "--version without either"

expect_status 0 "account" "$bin" account --energy "$fixture_run" --trace "$fixture_trace" -o "$root/profile.json"
expect_status 0 "report" "$bin" report "$root/profile.json" --depth 2
expect_in "$out_file" "bert" "report's table"

expect_status 0 "report --format dot" "$bin" report "$root/profile.json" --format dot
expect_in "$out_file" "digraph" "report --format dot"

# graph-svg cannot work: a usage error (exit 1, as demo without LibTorch) that
# names the package and says to rebuild; nothing on stdout.
expect_status 1 "report --format graph-svg" "$bin" report "$root/profile.json" --format graph-svg
expect_in "$err_file" "built without Graphviz" "graph-svg without Graphviz"
expect_in "$err_file" "libgraphviz-dev" "graph-svg without Graphviz"
expect_in "$err_file" "build smaragdine again" "graph-svg without Graphviz"
[ ! -s "$out_file" ] || fail "graph-svg without Graphviz wrote to stdout"

# html: the report without its module graphs, and the note why.
expect_status 0 "report --format html" "$bin" report "$root/profile.json" --format html -o "$root/report.html"
expect_in "$root/report.html" "No module graphs in this report" "html without Graphviz"
expect_in "$root/report.html" "libgraphviz-dev" "html without Graphviz"
expect_in "$root/report.html" "smg-flame-sec" "html without Graphviz (the rest of the page)"
expect_not_in "$root/report.html" '"graphs":{"' "html without Graphviz embeds no graph"

expect_status 1 "demo" "$bin" demo --steps 1
expect_in "$err_file" "libtorch-dev" "demo without LibTorch"

# ---- without LibTorch only; without Graphviz only: configured ----
configure "$root/no-torch" -- "${no_torch[@]}" -DSMARAGDINE_BUILD_TESTS=OFF -DSMARAGDINE_BUILD_BENCH=OFF
expect_in "$root/no-torch.configure.txt" "LibTorch integration (demo, sweep, live accounting: smaragdine-torch, Smaragdine::torch): OFF" "configure without LibTorch"
expect_in "$root/no-torch.configure.txt" "Graphviz module graphs (report --format graph-svg, html's module graphs): on" "configure without LibTorch"
expect_in "$root/no-torch/generated/build_features.h" "#define SMARAGDINE_HAVE_TORCH 0" "features without LibTorch"
expect_in "$root/no-torch/generated/build_features.h" "#define SMARAGDINE_HAVE_GRAPHVIZ 1" "features without LibTorch"

if [ "${SMARAGDINE_HAVE_TORCH:-0}" = 1 ]; then
  configure "$root/no-graphviz" "PKG_CONFIG_LIBDIR=$root/no-pkgconfig" -- -DSMARAGDINE_BUILD_TESTS=OFF \
    -DSMARAGDINE_BUILD_BENCH=OFF
  expect_in "$root/no-graphviz.configure.txt" "Graphviz module graphs (report --format graph-svg, html's module graphs): OFF" "configure without Graphviz"
  expect_in "$root/no-graphviz.configure.txt" "LibTorch integration (demo, sweep, live accounting: smaragdine-torch, Smaragdine::torch): on" "configure without Graphviz"
  expect_in "$root/no-graphviz/generated/build_features.h" "#define SMARAGDINE_HAVE_GRAPHVIZ 0" "features without Graphviz"
else
  echo "note: this build has no LibTorch, so 'without Graphviz only' is the both-off build above"
fi

# ---- asked for by name and missing: an error ----
rm -f "$root/torch-on/CMakeCache.txt"
expect_status 1 "configure with -DSMARAGDINE_WITH_TORCH=ON and no LibTorch" "$CMAKE_COMMAND" \
  -S "$SMARAGDINE_SOURCE_DIR" -B "$root/torch-on" -G "$CMAKE_GENERATOR" "${no_torch[@]}" \
  -DSMARAGDINE_WITH_TORCH=ON -DSMARAGDINE_BUILD_TESTS=OFF -DSMARAGDINE_BUILD_BENCH=OFF
expect_in "$err_file" "SMARAGDINE_WITH_TORCH=ON, but LibTorch was not found" "explicit ON without LibTorch"
expect_in "$err_file" "libtorch-dev" "explicit ON without LibTorch"

echo "ok: without both built and ran; without LibTorch, without Graphviz configured; explicit ON refused"
