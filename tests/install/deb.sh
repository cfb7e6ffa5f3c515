#!/usr/bin/env bash
# install.deb: `cpack -G DEB` makes smaragdine (the executables) and
# smaragdine-dev (headers, static libraries, CMake package); the runtime
# package's dependencies are all installed here with the versions it asks
# for, and its files, extracted into a scratch root (dpkg -x), run:
# `smaragdine --version` and `smaragdine sources`.
# It does not install into this machine's dpkg database (CI may run as a
# user, and a test must not change its machine); a clean Debian 12 container
# with `apt install ./smaragdine_*.deb` is the check this one stands in for.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
root=${1:?usage: deb.sh SCRATCH_DIR}
rm -rf "$root"
mkdir -p "$root"
out_file=$root.out.txt
err_file=$root.err.txt
: "${CPACK_COMMAND:=cpack}"
for tool in dpkg-deb dpkg-shlibdeps file; do
  command -v "$tool" >/dev/null || fail "$tool is missing: install Debian's dpkg-dev and file (scripts/install-deps.sh does)"
done

expect_status 0 "cpack -G DEB" "$CPACK_COMMAND" -G DEB --config "$SMARAGDINE_BUILD_DIR/CPackConfig.cmake" \
  -B "$root/packages"
runtime=$(ls "$root"/packages/smaragdine_*.deb 2>/dev/null | head -n 1)
dev=$(ls "$root"/packages/smaragdine-dev_*.deb 2>/dev/null | head -n 1)
[ -n "$runtime" ] || fail "no smaragdine_*.deb in $root/packages: $(ls "$root/packages")"
[ -n "$dev" ] || fail "no smaragdine-dev_*.deb in $root/packages: $(ls "$root/packages")"

# What the runtime package holds and needs.
dpkg-deb -c "$runtime" >"$root/runtime.contents"
expect_in "$root/runtime.contents" "./usr/bin/smaragdine" "smaragdine.deb's files"
depends=$(dpkg-deb -f "$runtime" Depends)
echo "smaragdine.deb Depends: $depends"
for lib in libc6 libstdc++6 libfmt libsimdjson libre2; do
  grep -q "$lib" <<<"$depends" || fail "smaragdine.deb does not depend on $lib: $depends"
done
if [ "${SMARAGDINE_HAVE_GRAPHVIZ:-0}" = 1 ]; then
  grep -q "libgvc" <<<"$depends" || fail "smaragdine.deb (with Graphviz) does not depend on libgvc: $depends"
fi
if [ "${SMARAGDINE_HAVE_TORCH:-0}" = 1 ]; then
  expect_in "$root/runtime.contents" "./usr/bin/smaragdine-torch" "smaragdine.deb's files"
  if [ "${SMARAGDINE_HAVE_PYTHON:-0}" = 1 ]; then
    expect_in "$root/runtime.contents" "./usr/lib/smaragdine/python/smaragdine/__init__.py" "smaragdine.deb's files"
    expect_in "$root/runtime.contents" "./usr/lib/smaragdine/python/sitecustomize.py" "smaragdine.deb's files"
  fi
  grep -q "libtorch" <<<"$depends" || fail "smaragdine.deb (with LibTorch) does not depend on libtorch: $depends"
fi
dpkg-deb -c "$dev" >"$root/dev.contents"
expect_in "$root/dev.contents" "./usr/include/smaragdine/account.h" "smaragdine-dev.deb's files"
expect_in "$root/dev.contents" "./usr/lib/cmake/Smaragdine/SmaragdineConfig.cmake" "smaragdine-dev.deb's files"
expect_in "$root/dev.contents" "./usr/lib/libsmaragdine_core.a" "smaragdine-dev.deb's files"

# Every dependency is installed here, in a version the package accepts
# (an alternative "a | b" is met by either).
IFS=',' read -ra groups <<<"$depends"
for group in "${groups[@]}"; do
  met=0
  IFS='|' read -ra alternatives <<<"$group"
  for alt in "${alternatives[@]}"; do
    name=$(sed -E 's/^ *([^ (]+).*/\1/' <<<"$alt")
    installed=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
    [[ $installed == "install ok installed "* ]] || continue
    version=${installed##* }
    if [[ $alt =~ \(([<>=]+)\ *([^\)]+)\) ]]; then
      dpkg --compare-versions "$version" "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" || continue
    fi
    met=1
  done
  [ "$met" = 1 ] || fail "smaragdine.deb's dependency '$group' is not installed on this machine"
done

# Unpacked into a scratch root, the executables run.
dpkg -x "$runtime" "$root/root"
bin=$root/root/usr/bin/smaragdine
expect_status 0 "smaragdine --version from the .deb" "$bin" --version
expect_in "$out_file" "smaragdine " "--version from the .deb"
expect_status 0 "smaragdine sources from the .deb" "$bin" sources
expect_in "$out_file" "Energy domains on this machine" "sources from the .deb"
if [ "${SMARAGDINE_HAVE_TORCH:-0}" = 1 ]; then
  expect_status 0 "smaragdine demo --help from the .deb" "$bin" demo --help
  expect_in "$out_file" "--preset" "demo --help from the .deb (smaragdine-torch)"
fi
ls -l "$root"/packages/*.deb
echo "ok: $(basename "$runtime") and $(basename "$dev") built; their dependencies are met here; the executables run"
