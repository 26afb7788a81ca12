#!/usr/bin/env bash
# Pretraining levers against the issue's probe target (JEPA >= 10 points over random init on count
# and direction): each row pretrains the tiny JEPA encoder for the quickstart's 300 steps x 16 clips
# on the quickstart world from session 14's best base (an EMA that moves, momentum 0.99 -> 1, and the
# V-JEPA 2.1 dense loss), plus the row's overrides; then one layer-probe table per encoder, random
# init first, the features cached in runs/probe-cache. About 6 min of pretraining and 2 min of
# probing per row on 2 CPU cores with bf16 units. Usage: bash benchmarks/pretraining_levers.sh [ROW ...]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lever_worlds.sh  # $J, $PY and the worlds
BASE="model.jepa.momentum=0.99 model.jepa.momentum_ramp=true model.jepa.dense_weight=0.5 train.steps=300 train.warmup_steps=30 train.ckpt_every=100"
# A row's overrides are separated by ";" (an override may hold spaces).
PATCH4="model.vit.patch_size=4;model.vit.tubelet=4"  # the patch4 row and its control share this shape
declare -A ROWS=(
  [dense]=""
  # one mask: a random half of the time steps, the whole frame (predict them from the other half)
  [halfclip]="model.masks.specs=[{num_blocks: 1, spatial_scale: 1.0, temporal_scale: 0.5, aspect_ratio: [1.0, 1.0]}]"
  # the short-range mask alone (8 blocks of 15% of the frame; no 2 x 70% long-range mask): more context
  [short-mask]="model.masks.specs=[{num_blocks: 8, spatial_scale: 0.15}]"
  # a predictor of 2 blocks instead of 6: the encoder's tokens must carry more of the answer
  [predictor-2]="model.predictor.depth=2"
  # the learning rate, 4x above and 5x below the preset's 5e-4 (AdamW, batch 16, cosine to 1%)
  [lr-2e-3]="train.lr=2.0e-3"
  [lr-1e-4]="train.lr=1.0e-4"
  # V-JEPA's augmentation: a random resized crop per clip (30-100% of the frame) and a horizontal
  # flip, so that a token's position no longer tells what the scene holds there (walls, occluder)
  [augment]="data.augment=true"
  # patch 4 so that a 3-5 px object spans several tokens, tubelet 4 to keep 1,024 tokens a clip (4
  # time steps of 16 x 16; patch 4 at tubelet 2 steps 16x slower than the preset, 94 min for 300 steps).
  # About 37 min of pretraining and 7 of probing on 2 Zen 4 cores.
  [patch4]="$PATCH4"
  # its random init, the fair control (random:tiny is patch 8): one step with an EMA that never moves
  # exports the target as initialised, from the same seed as the row above
  [patch4-init]="$PATCH4;train.steps=1;train.warmup_steps=0;model.jepa.momentum=1.0;model.jepa.momentum_ramp=false"
)
encoders=(--encoder random:tiny)
for row in "${@:-${!ROWS[@]}}"; do
  IFS=";" read -r -a overrides <<< "${ROWS[$row]}"
  # shellcheck disable=SC2086  # $J and $BASE split into words on purpose
  [ -f "runs/pretrain-lever-$row/encoder/config.json" ] || \
    $J pretrain --config configs/pretrain/tiny.yaml --out "runs/pretrain-lever-$row" \
      data.path=runs/quickstart/world $BASE "${overrides[@]}"
  encoders+=(--encoder "runs/pretrain-lever-$row/encoder")
done
$PY -m encoder.layer_probe "${encoders[@]}" --data runs/quickstart/world --pool 2 \
  --cache runs/probe-cache --json runs/pretraining-levers.json
