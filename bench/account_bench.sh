#!/usr/bin/env bash
# account_bench.sh — end-to-end `smaragdine account` throughput and memory.
#
#   bench/account_bench.sh [EVENTS] [BUILD_DIR] [pytorch|tf1]   (defaults: 1000000, build, pytorch)
#
# Generates the input with gen_trace_tool if it is missing (pytorch:
# bench/data/EVENTS/trace.pt.trace.json, 4 threads side by side; tf1:
# bench/data/tf1-EVENTS/trace.json, a TensorFlow 1 timeline, `gen_trace_tool
# --tf1`), then runs parse + align + attribute + write profile RUNS times
# under /usr/bin/time -v and prints the fastest run by CPU time (user + sys)
# and the median: events/s, peak RSS, and RSS beyond the input file per event
# (the DESIGN §9 bars: ≥ 5 M events/s on one core, ≤ 100 bytes/event), with
# the load average before and after (the machine is shared).
#
# Environment:
#   RUNS=5                  runs (the minimum CPU time is the figure to quote)
#   ACCOUNT_ARGS="..."      extra `account` flags, e.g. "--method proportional --timeline never"
#   SMARAGDINE_PARSE_THREADS=1|2   read the trace in one part or two (default: two on 2+ cores
#                           for inputs of 16 MB or more); with CPUS, the cores it may use
#   CPUS=0                  taskset -c CPUS (e.g. 0: one core)
#   DATA=DIR                the input directory (default as above)
#   OUT=DIR                 where profile.json goes (default: a temporary directory)
set -euo pipefail
events=${1:-1000000}
build=${2:-build}
dialect=${3:-pytorch}
runs=${RUNS:-5}
case ${dialect} in
  pytorch) data=${DATA:-bench/data/${events}}; trace_file=trace.pt.trace.json; gen=() ;;
  tf1) data=${DATA:-bench/data/tf1-${events}}; trace_file=trace.json; gen=(--tf1) ;;
  *) echo "account_bench: dialect is pytorch or tf1, not ${dialect}" >&2; exit 1 ;;
esac
if [[ ! -x /usr/bin/time ]]; then
  echo "account_bench: /usr/bin/time is missing (Debian package 'time')" >&2
  exit 1
fi
if [[ ! -f ${data}/events.txt ]]; then
  "${build}/gen_trace_tool" "${gen[@]}" "${events}" 4 "${data}"
fi
n=$(cat "${data}/events.txt")
trace=${data}/${trace_file}
input_bytes=$(stat -c %s "${trace}")
out=${OUT:-$(mktemp -d)}
pin=()
[[ -n ${CPUS:-} ]] && pin=(taskset -c "${CPUS}")
# shellcheck disable=SC2206
extra=(${ACCOUNT_ARGS:-})
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
results=()
for ((r = 0; r < runs; ++r)); do
  log=$(mktemp)
  "${pin[@]}" /usr/bin/time -v "${build}/smaragdine" account -q "${extra[@]}" --energy "${data}/run" \
    --trace "${trace}" -o "${out}/profile.json" > /dev/null 2> "${log}" || { cat "${log}" >&2; exit 1; }
  # "cpu wall user sys rss_kb"
  results+=("$(awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, a, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + a[i] }
    /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident set size/ { r = $2 }
    END { printf "%.2f %.2f %.2f %.2f %d\n", u + s, w, u, s, r }' "${log}")")
  rm -f "${log}"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
[[ -z ${OUT:-} ]] && rm -rf "${out}"
sorted=$(printf '%s\n' "${results[@]}" | sort -n -k1,1)
best=$(head -1 <<< "${sorted}")
median=$(sed -n "$(((runs + 1) / 2))p" <<< "${sorted}")
read -r cpu wall user sys rss_kb <<< "${best}"
read -r med_cpu med_wall _ _ _ <<< "${median}"
awk -v n="${n}" -v w="${wall}" -v u="${user}" -v s="${sys}" -v c="${cpu}" -v rss="${rss_kb}" \
    -v inb="${input_bytes}" -v mc="${med_cpu}" -v mw="${med_wall}" -v runs="${runs}" \
    -v d="${dialect}" -v args="${ACCOUNT_ARGS:-}" -v lb="${load_before}" -v la="${load_after}" 'BEGIN {
  printf "input             %s, %d events, %.1f MB (%.0f bytes/event)\n", d, n, inb / 1e6, inb / n
  printf "flags             %s\n", args == "" ? "(defaults)" : args
  printf "runs              %d (fastest by CPU time; median in brackets)\n", runs
  printf "CPU (user+sys)    %.2f s (user %.2f s, sys %.2f s) [median %.2f s]\n", c, u, s, mc
  printf "wall              %.2f s [median %.2f s]\n", w, mw
  printf "throughput        %.2f M events/s (user+sys) [median %.2f], %.2f M events/s (wall)\n",
         n / c / 1e6, n / mc / 1e6, n / w / 1e6
  printf "peak RSS          %.1f MB\n", rss * 1024 / 1e6
  printf "peak RSS / event  %.0f bytes (all of the process: the input is read through a buffer and\n", rss * 1024 / n
  printf "                  counts only where its pages were touched in the mapping)\n"
  printf "RSS beyond input  %.0f bytes/event (peak RSS less the input file; negative: below its size)\n", (rss * 1024 - inb) / n
  printf "load average      %s before, %s after\n", lb, la
}'
