#!/usr/bin/env bash
# timeline_bench.sh — what keeping the timeline costs `smaragdine account`, and
# what `report --format perfetto` costs on top.
#
#   bench/timeline_bench.sh [EVENTS] [BUILD_DIR] [REPEATS]    (defaults: 1000000, build, 3)
#
# Generates bench/data/EVENTS/ with gen_trace_tool if it is missing (the input
# of account_bench.sh), then, REPEATS times and interleaved so that a change
# of load on a shared machine hits both alike:
#   account --timeline never    (no timeline in profile.json)
#   account --timeline always   (every event and the power tracks kept)
# each under /usr/bin/time -v, and once per repeat
#   report PROFILE --format perfetto -o trace.json    (on the --timeline always profile)
# It prints one line per run (wall, user+sys CPU, peak RSS, output size) and
# the median of each column per configuration.
set -euo pipefail
events=${1:-1000000}
build=${2:-build}
repeats=${3:-3}
data=bench/data/${events}
if [[ ! -x /usr/bin/time ]]; then
  echo "timeline_bench: /usr/bin/time is missing (Debian package 'time')" >&2
  exit 1
fi
if [[ ! -f ${data}/events.txt ]]; then
  "${build}/gen_trace_tool" "${events}" 4 "${data}"
fi
n=$(cat "${data}/events.txt")
trace=${data}/trace.pt.trace.json
results=$(mktemp)
log=$(mktemp)
trap 'rm -f "${results}" "${log}"' EXIT

# run LABEL OUTPUT_FILE CMD...: one timed run, appended to ${results} as
# "LABEL wall_s cpu_s rss_mb out_mb".
run() {
  local label=$1 out=$2
  shift 2
  /usr/bin/time -v "$@" > /dev/null 2> "${log}" || { cat "${log}" >&2; exit 1; }
  awk -F': ' -v label="${label}" -v bytes="$(stat -c %s "${out}")" '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); wall = 0; for (i = 1; i <= n; i++) wall = wall * 60 + p[i] }
    /User time/ { user = $2 }
    /System time/ { sys = $2 }
    /Maximum resident set size/ { rss = $2 }
    END { printf "%s %.2f %.2f %.1f %.3f\n", label, wall, user + sys, rss * 1024 / 1e6, bytes / 1e6 }
  ' "${log}" >> "${results}"
}

for ((r = 1; r <= repeats; r++)); do
  for mode in never always; do
    run "account_${mode}" "${data}/profile_${mode}.json" "${build}/smaragdine" account -q \
      --energy "${data}/run" --trace "${trace}" --timeline "${mode}" -o "${data}/profile_${mode}.json"
  done
  run report_perfetto "${data}/perfetto.json" "${build}/smaragdine" report \
    "${data}/profile_always.json" --format perfetto -o "${data}/perfetto.json"
done

echo "events ${n}, ${repeats} repeats, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
printf "%-18s %8s %8s %10s %10s\n" run "wall s" "CPU s" "RSS MB" "output MB"
while read -r label wall cpu rss out; do
  printf "%-18s %8s %8s %10s %10s\n" "${label}" "${wall}" "${cpu}" "${rss}" "${out}"
done < "${results}"
echo "median"
for label in account_never account_always report_perfetto; do
  grep "^${label} " "${results}" | awk -v label="${label}" '
    { for (c = 2; c <= 5; c++) v[c, NR] = $c }
    END {
      line = sprintf("%-18s", label)
      for (c = 2; c <= 5; c++) {
        # insertion sort of column c, then the middle value
        for (i = 1; i <= NR; i++) s[i] = v[c, i]
        for (i = 2; i <= NR; i++) { x = s[i]; j = i - 1; while (j >= 1 && s[j] + 0 > x + 0) { s[j + 1] = s[j]; j-- } s[j + 1] = x }
        m = NR % 2 ? s[(NR + 1) / 2] : (s[NR / 2] + s[NR / 2 + 1]) / 2
        line = line sprintf(" %8s", c == 5 ? sprintf("%10.3f", m) : c == 4 ? sprintf("%10.1f", m) : sprintf("%8.2f", m))
      }
      print line
    }'
done
