# Helpers for the install tests (sourced). Each check prints what it expected
# and what it got, so a CI log says which step of which build broke.

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# expect_status WANT LABEL CMD…: runs CMD with stdout and stderr in
# $out_file/$err_file and fails unless it exits WANT.
expect_status() {
  local want=$1 label=$2
  shift 2
  local got=0
  "$@" >"$out_file" 2>"$err_file" || got=$?
  if [ "$got" -ne "$want" ]; then
    echo "--- stdout of $label:" >&2
    head -c 4000 "$out_file" >&2
    echo "--- stderr of $label:" >&2
    head -c 4000 "$err_file" >&2
    fail "$label exited $got, expected $want"
  fi
}

# expect_in FILE TEXT LABEL: FILE contains TEXT (fixed string).
expect_in() {
  grep -qF -- "$2" "$1" || {
    echo "--- $1:" >&2
    head -c 4000 "$1" >&2
    fail "$3: '$2' not found"
  }
}

expect_not_in() {
  if grep -qF -- "$2" "$1"; then
    fail "$3: '$2' found in $1"
  fi
}

# The project's sources and build, from the ctest environment (CMakeLists.txt).
: "${SMARAGDINE_SOURCE_DIR:?run through ctest (CMakeLists.txt sets the environment)}"
: "${SMARAGDINE_BUILD_DIR:?}"
: "${CMAKE_COMMAND:=cmake}"
: "${CMAKE_GENERATOR:=Ninja}"
# Builds inside a test use as many jobs as the machine has CPUs, as the
# build around them did (ctest runs the install tests one at a time: they
# share RUN_SERIAL); SMARAGDINE_TEST_JOBS=N on a shared machine.
jobs=${SMARAGDINE_TEST_JOBS:-$(nproc)}
fixture_run=$SMARAGDINE_SOURCE_DIR/examples/bert-small/run
fixture_trace=$SMARAGDINE_SOURCE_DIR/examples/bert-small/pt2_bert-small_h100_inference.pt.trace.json.gz
