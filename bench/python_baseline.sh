#!/usr/bin/env bash
# python_baseline.sh — `smaragdine account` against the paper's method in Python (DESIGN §9:
# accounting throughput ≥ 100× the paper's algorithm in Python on the same input).
#
#   bench/python_baseline.sh [--tf1] [BUILD_DIR] [EVENTS...]  (defaults: build, 10000 100000 1000000)
#
# For each size: generates bench/data/EVENTS/ with gen_trace_tool if missing (the same input as
# bench/account_bench.sh; with --tf1, bench/data/tf1-EVENTS/ with `gen_trace_tool --tf1`, a
# TensorFlow 1 timeline, the kind of input the paper's prototype read), then runs, each REPEATS
# times (default 3) under /usr/bin/time -v,
#   smaragdine account --energy RUN --trace TRACE -o profile.json $ACCOUNT_ARGS
#   /usr/bin/python3 bench/paper_python/paper_account.py RUN TRACE -o paper.json
# (ACCOUNT_ARGS: extra flags for smaragdine, e.g. "--method proportional --timeline never" for
# the paper's rule alone; empty by default: the defaults)
# keeps the fastest wall time of each, checks that both give the same energy per path
# (bench/paper_python/compare.py; exit status 1 if they do not), and prints events/s of each
# and the ratio.
# Python runs are capped at PY_TIMEOUT seconds (default 600) and skipped above PY_MAX_EVENTS
# events (default 2000000: Python needs ~1.7 GB per M events, ~17 GB at 10 M, more than this
# shared 23 GB machine can spare); a capped or skipped size prints smaragdine's numbers only.
set -euo pipefail
tf1=0
if [[ ${1:-} == --tf1 ]]; then
  tf1=1
  shift
fi
build=${1:-build}
shift || true
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(10000 100000 1000000)
repeats=${REPEATS:-3}
read -r -a account_args <<< "${ACCOUNT_ARGS:-}"
py_timeout=${PY_TIMEOUT:-600}
py_max_events=${PY_MAX_EVENTS:-2000000}
python=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)

if [[ ! -x /usr/bin/time ]]; then
  echo "python_baseline: /usr/bin/time is missing (Debian package 'time')" >&2
  exit 1
fi
if ! "${python}" -c 'import pandas' 2> /dev/null; then
  echo "python_baseline: installing python3-pandas (Debian) for the baseline" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-pandas > /dev/null
fi
for tool in smaragdine gen_trace_tool; do
  if [[ ! -x ${build}/${tool} ]]; then
    echo "python_baseline: ${build}/${tool} is missing:" \
      "ninja -C ${build} smaragdine gen_trace_tool" >&2
    exit 1
  fi
done

# Runs "$@" under /usr/bin/time -v; prints "wall_s cpu_s rss_mb inner_s" (inner_s: the time
# paper_account.py reports for its own work, after interpreter start and imports; 0 for
# smaragdine) or exits with the command's status.
timed() {
  local log rc=0 t0 t1
  log=$(mktemp)
  t0=$(date +%s%N)
  /usr/bin/time -v "$@" > /dev/null 2> "${log}" || rc=$?
  t1=$(date +%s%N)
  if [[ ${rc} -ne 0 ]]; then
    sed '/Command being timed/,$d' "${log}" | tail -5 >&2  # the program's own last words
    rm -f "${log}"
    return "${rc}"
  fi
  # Wall time from date (ns) rather than time's 10 ms Elapsed; CPU time has 10 ms resolution.
  awk -F': ' -v wall_ns=$((t1 - t0)) '
    /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident set size/ { r = $2 }
    /^paper_account: total/ { inner = $0; sub(/^paper_account: total */, "", inner); inner += 0 }
    END { printf "%.3f %.2f %.0f %.3f\n", wall_ns / 1e9, u + s, r * 1024 / 1e6, inner }' "${log}"
  rm -f "${log}"
}

# Fastest of `repeats` runs by wall time.
best_of() {
  local best="" line
  for ((i = 0; i < repeats; i++)); do
    line=$(timed "$@") || return $?
    if [[ -z ${best} ]] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
      best=${line}
    fi
  done
  echo "${best}"
}

summary=()
disagree=0
for events in "${sizes[@]}"; do
  if [[ ${tf1} -eq 1 ]]; then
    data=bench/data/tf1-${events}
    [[ -f ${data}/events.txt ]] || "${build}/gen_trace_tool" --tf1 "${events}" 4 "${data}" > /dev/null
    trace=${data}/trace.json
  else
    data=bench/data/${events}
    [[ -f ${data}/events.txt ]] || "${build}/gen_trace_tool" "${events}" 4 "${data}" > /dev/null
    trace=${data}/trace.pt.trace.json
  fi
  n=$(cat "${data}/events.txt")
  mb=$(awk -v b="$(stat -c %s "${trace}")" 'BEGIN { printf "%.1f", b / 1e6 }')
  echo "== ${n} events (${mb} MB of JSON), best of ${repeats}"
  read -r s_wall s_cpu s_rss _ < <(best_of "${build}/smaragdine" account --energy "${data}/run" \
    --trace "${trace}" -o "${data}/profile.json" "${account_args[@]}")
  echo "smaragdine  wall ${s_wall} s  cpu ${s_cpu} s  peak RSS ${s_rss} MB"
  if (( n > py_max_events )); then
    echo "python      skipped (more than PY_MAX_EVENTS=${py_max_events} events)"
    summary+=("$(printf '%9d  %12.0f  %10s' "${n}" "$(awk -v n="${n}" -v w="${s_wall}" \
      'BEGIN { print n / w }')" "skipped")")
    continue
  fi
  py_rc=0
  py=$(best_of timeout "${py_timeout}" "${python}" "${here}/paper_python/paper_account.py" \
    "${data}/run" "${trace}" -o "${data}/paper.json") || py_rc=$?
  if [[ ${py_rc} -eq 124 ]]; then
    echo "python      did not finish within PY_TIMEOUT=${py_timeout} s"
    summary+=("$(printf '%9d  %12.0f  %10s' "${n}" "$(awk -v n="${n}" -v w="${s_wall}" \
      'BEGIN { print n / w }')" ">${py_timeout}s")")
    continue
  elif [[ ${py_rc} -ne 0 ]]; then
    echo "python_baseline: paper_account.py failed (exit ${py_rc})" >&2
    exit 1
  fi
  read -r p_wall p_cpu p_rss p_inner <<< "${py}"
  echo "python      wall ${p_wall} s  cpu ${p_cpu} s  peak RSS ${p_rss} MB" \
    "(${p_inner} s after imports)"
  cmp_rc=0
  cmp=$("${python}" "${here}/paper_python/compare.py" "${data}/profile.json" \
    "${data}/paper.json") || cmp_rc=$?
  grep -E 'only in|measured|idle|leaf ops|AGREE' <<< "${cmp}" | head -20
  [[ ${cmp_rc} -eq 0 ]] || disagree=1
  line=$(awk -v n="${n}" -v sw="${s_wall}" -v sc="${s_cpu}" -v pw="${p_wall}" -v pc="${p_cpu}" \
    -v pi="${p_inner}" '
    function rate(t) { return t > 0 ? sprintf("%.0f", n / t) : "-" }
    function ratio(a, b) { return b > 0 ? sprintf("%.1f", a / b) : "-" }
    BEGIN { printf "%9d  %12s  %10s  %6s  %12s  %10s  %6s  %10s  %6s", n, rate(sw), rate(pw),
            ratio(pw, sw), rate(sc), rate(pc), ratio(pc, sc), rate(pi), ratio(pi, sw) }')
  summary+=("${line}")
done
echo
echo "events/s:   wall clock, whole process   |  user+sys CPU, whole process  | py after imports"
echo "   events    smaragdine      python   ratio    smaragdine      python   ratio     python   ratio"
printf '%s\n' "${summary[@]}"
if [[ ${disagree} -ne 0 ]]; then
  echo "python_baseline: the two programs disagree on some size (see above)" >&2
  exit 1
fi
