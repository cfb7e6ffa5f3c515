#!/usr/bin/env bash
# Installs what Smaragdine needs to build and test, from Debian 12's archive.
# Run as root (or with sudo). Idempotent: already-installed packages are kept.
set -euo pipefail
packages=(
  cmake ninja-build g++ make        # build
  libsimdjson-dev                   # trace, run.json and profile.json parsing
  libfmt-dev libcli11-dev zlib1g-dev
  libre2-dev                        # --fold/--map rules: linear-time regular expressions
  libgtest-dev libgmock-dev         # tests
  libbenchmark-dev                  # bench/
  time                              # /usr/bin/time -v in bench/
  python3-torch                     # the end-to-end record test runs a real torch.profiler script
  libtorch-dev                      # live accounting, built-in BERT/ALBERT, demo (src/torch/)
  pybind11-dev python3-dev          # the Python package's extension (python/): record --torch -- python ...
  graphviz libgraphviz-dev          # module graphs: report --format dot / graph-svg
  liburing-dev                      # record's sampler: one io_uring submission per pass (optional)
  pkg-config                        # CMake finds libgvc and liburing through it
  chromium                          # the HTML report's headless-browser test
  dpkg-dev file                     # cpack -G DEB (dpkg-shlibdeps), checked by tests/install/deb.sh
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
