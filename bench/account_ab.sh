#!/usr/bin/env bash
# account_ab.sh — two `smaragdine` binaries on one input, runs alternating.
#
#   bench/account_ab.sh BEFORE_BIN AFTER_BIN [EVENTS] [pytorch|tf1]   (defaults: 1000000, pytorch)
#
# On a shared machine the load drifts within a minute: running the two
# binaries one after the other (before, after, before, after, ...) lets both
# see the same drift, so their difference means something where two
# separate account_bench.sh runs would not. Each run is parse + align +
# attribute + write profile.json under /usr/bin/time; prints, per binary, the
# CPU time (user + sys) of every run sorted, its minimum and median, the
# minimum user time, and the load average before and after. Every pair of
# profile.json files is compared with cmp: a difference is reported and the
# exit status is 1 (a speed-up must not change the answer).
#
# The input is bench/data/EVENTS (pytorch) or bench/data/tf1-EVENTS (tf1), as
# account_bench.sh makes it (run that first if it is missing).
#
# Environment:
#   RUNS=5                  runs of each binary
#   ACCOUNT_ARGS="..."      `account` flags (default "--method proportional --timeline never";
#                           ACCOUNT_ARGS=" " for the defaults)
#   CPUS=0                  taskset -c CPUS (default 0: one core); CPUS= for none
#   SMARAGDINE_PARSE_THREADS  passed on (default 1: the trace read in one part)
set -euo pipefail
if [[ $# -lt 2 ]]; then
  sed -n '2,4p' "$0" >&2
  exit 1
fi
before=$1
after=$2
events=${3:-1000000}
dialect=${4:-pytorch}
runs=${RUNS:-5}
case ${dialect} in
  pytorch) data=bench/data/${events}; trace=${data}/trace.pt.trace.json ;;
  tf1) data=bench/data/tf1-${events}; trace=${data}/trace.json ;;
  *) echo "account_ab: dialect is pytorch or tf1, not ${dialect}" >&2; exit 1 ;;
esac
if [[ ! -f ${trace} ]]; then
  echo "account_ab: ${trace} is missing (bench/account_bench.sh ${events} BUILD ${dialect} makes it)" >&2
  exit 1
fi
# shellcheck disable=SC2206
args=(${ACCOUNT_ARGS:---method proportional --timeline never})
pin=()
cpus=${CPUS-0}
[[ -n ${cpus} ]] && pin=(taskset -c "${cpus}")
export SMARAGDINE_PARSE_THREADS=${SMARAGDINE_PARSE_THREADS:-1}
out=$(mktemp -d)
trap 'rm -rf "${out}"' EXIT
echo "input ${trace}, flags: ${args[*]:-(defaults)}, ${runs} runs each, ${pin[*]:-not pinned}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
for ((r = 0; r < runs; ++r)); do
  for which in before after; do
    bin=${before}
    [[ ${which} == after ]] && bin=${after}
    "${pin[@]}" /usr/bin/time -f "%U %S" -a -o "${out}/${which}.times" "${bin}" account -q \
      "${args[@]}" --energy "${data}/run" --trace "${trace}" -o "${out}/${which}.json" > /dev/null
  done
  if ! cmp -s "${out}/before.json" "${out}/after.json"; then
    echo "run $((r + 1)): profile.json differs between the two binaries" >&2
    status=1
  fi
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
for which in before after; do
  awk '{ printf "%.2f %.2f\n", $1 + $2, $1 }' "${out}/${which}.times" | sort -n |
    awk -v w="${which}" '{ c[NR] = $1; if (NR == 1 || $2 < u) u = $2 }
      END { printf "%-6s CPU min %.2f s, median %.2f s, user min %.2f s; all:", w, c[1], c[int((NR + 1) / 2)], u
            for (i = 1; i <= NR; i++) printf " %.2f", c[i]; print "" }'
done
[[ ${status} -eq 0 ]] && echo "profile.json identical in every run"
exit "${status}"
