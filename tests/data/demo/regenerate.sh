#!/usr/bin/env bash
# regenerate.sh — rebuild the demo profiles that tests/report/formats_test.cpp
# draws in every format.
#
#   tests/data/demo/regenerate.sh [SMARAGDINE_BINARY]     (default: build/smaragdine)
#
# Needs a build with LibTorch (`smaragdine demo`). Runs the built-in BERT-tiny
# twice under live accounting, 2 measured steps after 1 warm-up step:
#   bert-tiny_pretrain.profile.json.gz  pre-training (forward, backward, AdamW)
#   bert-tiny_predict.profile.json.gz   prediction (forward only)
# Both keep their timeline (live accounting keeps it up to 1 M events), so the
# Perfetto view and the power chart work on them. Energy comes from whatever
# counter the machine can read, else from the CPU-time model (MODELED); the
# tests check the views against the profile, not against fixed joules, so any
# rerun is as good as the committed one. The runs happen in a scratch folder
# under a relative name, so no path of this machine ends up in the profiles.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:-build/smaragdine}")
if [[ ! -x ${bin} ]]; then
  echo "regenerate.sh: ${bin} is not an executable; build the smaragdine target first" >&2
  exit 1
fi
scratch=$(mktemp -d)
trap 'rm -rf "${scratch}"' EXIT
cd "${scratch}"
for task in pretrain predict; do
  "${bin}" demo --preset bert-tiny --task "${task}" --steps 2 --warmup 1 -o "bert-tiny_${task}" \
    > "${task}.log"
  # -n: no name or time stamp in the gzip header, so a rerun differs only by its numbers.
  gzip -9 -n -c "bert-tiny_${task}/profile.json" > "${here}/bert-tiny_${task}.profile.json.gz"
  echo "wrote ${here}/bert-tiny_${task}.profile.json.gz ($(stat -c %s "${here}/bert-tiny_${task}.profile.json.gz") bytes)"
done
