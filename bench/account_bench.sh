#!/usr/bin/env bash
# account_bench.sh — end-to-end `smaragdine account` throughput and memory.
#
#   bench/account_bench.sh [EVENTS] [BUILD_DIR]     (defaults: 1000000, build)
#
# Generates bench/data/EVENTS/ with gen_trace_tool if it is missing, then runs
# parse + align + attribute + write profile once under /usr/bin/time -v and
# prints events/s, peak RSS, and RSS beyond the input file per event (the
# DESIGN §9 bars: ≥ 5 M events/s on one core, ≤ 100 bytes/event).
set -euo pipefail
events=${1:-1000000}
build=${2:-build}
data=bench/data/${events}
if [[ ! -x /usr/bin/time ]]; then
  echo "account_bench: /usr/bin/time is missing (Debian package 'time')" >&2
  exit 1
fi
if [[ ! -f ${data}/events.txt ]]; then
  "${build}/gen_trace_tool" "${events}" 4 "${data}"
fi
n=$(cat "${data}/events.txt")
trace=${data}/trace.pt.trace.json
input_bytes=$(stat -c %s "${trace}")
log=$(mktemp)
/usr/bin/time -v "${build}/smaragdine" account --energy "${data}/run" --trace "${trace}" \
  -o "${data}/profile.json" > /dev/null 2> "${log}" || { cat "${log}" >&2; exit 1; }
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "${log}")
user=$(awk -F': ' '/User time/ {print $2}' "${log}")
sys=$(awk -F': ' '/System time/ {print $2}' "${log}")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "${log}")
rm -f "${log}"
# Elapsed is [h:]m:ss.ss
wall_s=$(echo "${wall}" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
awk -v n="${n}" -v w="${wall_s}" -v u="${user}" -v s="${sys}" -v rss="${rss_kb}" -v inb="${input_bytes}" 'BEGIN {
  printf "events            %d\n", n
  printf "input             %.1f MB (%.0f bytes/event)\n", inb / 1e6, inb / n
  printf "wall              %.2f s (user %.2f s, sys %.2f s)\n", w, u, s
  printf "throughput        %.2f M events/s (wall), %.2f M events/s (user+sys)\n", n / w / 1e6, n / (u + s) / 1e6
  printf "peak RSS          %.1f MB\n", rss * 1024 / 1e6
  printf "RSS beyond input  %.0f bytes/event\n", (rss * 1024 - inb) / n
}'
