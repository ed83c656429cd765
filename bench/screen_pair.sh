#!/bin/bash
# Two demo recipes side by side, one CPU thread each, 9 minutes each (docs/results.md's D and E screens):
#   bench/screen_pair.sh OUT NAME_A "TRAIN ARGS A" NAME_B "TRAIN ARGS B"
# e.g. bench/screen_pair.sh runs/screen E0-demo "" E1-cutout "--set remedies.diffaugment=translation,cutout"
# Each run is the Makefile's demo command with a 9-minute limit, then eval -n 2000 of its last checkpoint and best.pt.
set -e
out=$1
PY=${PY:-.venv/bin/python}
one() {
  local run=$out/$1; shift
  mkdir -p "$run"
  OMP_NUM_THREADS=1 $PY -m ganforge train --data shapes --preset demo --resolution 32 --batch-size 32 --iterations 30000 \
    --set train.amp=auto --set train.max_minutes=9 --sample-every 500 --checkpoint-every 2000 --set train.best_every=1000 \
    --no-progress --out "$run" "$@" > "$run.log" 2>&1
  OMP_NUM_THREADS=1 $PY -m ganforge eval "$run" -n 2000 --metrics fd,modes --out "$run/eval-last.json" >> "$run.log" 2>&1
  OMP_NUM_THREADS=1 $PY -m ganforge eval "$run" --which best -n 2000 --metrics fd,modes --out "$run/eval-best.json" >> "$run.log" 2>&1
}
# shellcheck disable=SC2086  # the recipes' arguments are meant to split
one "$2" $3 &
one "$4" $5 &
wait
for name in "$2" "$4"; do echo "$name: $(grep -h 'modes_covered\|fd_shapes ' "$out/$name.log" | tr -s ' ' | tr '\n' ' ')"; done
