#!/usr/bin/env bash
# What the grounded projector's cell tokens can read, per encoder and per stage-1 setting: stage 1 of
# the per-cell grounded recipe only (configs/align/tiny-cells.yaml, 1,000 steps, no LLM forward),
# then alignment.grounding on the 70 unseen test clips of the seed-7 world and on 200 training clips
# ("which shape" = the nearest of the 3 shape words on the cells that show an object). About 5 min per
# row on 2 CPU cores, 11 min with local_mix. Usage: bash benchmarks/shape_readout.sh [ROW ...]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lever_worlds.sh  # $J, $PY, the two worlds and world_4x
declare -A ROWS=(
  [pixels]="encoder=pixels:tiny"
  [pixels-mix3]="encoder=pixels:tiny projector.local_mix=3"
  [pixels-apart]="encoder=pixels:tiny stage1.empty_apart=true"
  [jepa-apart]="encoder=checkpoints/default stage1.empty_apart=true"
  [random-apart]="encoder=random:tiny stage1.empty_apart=true"
  [jepa-apart-count]="encoder=checkpoints/default stage1.empty_apart=true projector.count_token=true"
  [jepa-apart-count-detach]="encoder=checkpoints/default stage1.empty_apart=true projector.count_token=true projector.count_detach=true"
  # the same encoder as the row above had (the default's before session 10), 4x the training clips
  [jepa-detach-4x]="encoder=runs/quickstart/encoder stage1.empty_apart=true projector.count_token=true projector.count_detach=true data.path=runs/world-4x"
)
for row in "${@:-${!ROWS[@]}}"; do
  out="runs/shape/s1-$row"
  if [[ $row == *-4x ]]; then world_4x; fi
  # shellcheck disable=SC2086
  $J align --config configs/align/tiny-cells.yaml --out "$out" data.path=runs/quickstart/world \
    train.cache_dir=runs/cache-levers train.steps=1000 ${ROWS[$row]}
  $PY -m alignment.grounding --model "$out" --data runs/world-seed7 --split test --cache-dir runs/cache-levers
  $PY -m alignment.grounding --model "$out" --data runs/quickstart/world --split train --clips 200 \
    --cache-dir runs/cache-levers
done
