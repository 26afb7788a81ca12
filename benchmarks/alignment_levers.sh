#!/usr/bin/env bash
# The alignment levers of the README's "Levers on the alignment side" table: each row is a tiny
# recipe on the quickstart world with the shipped model's JEPA encoder, plus the row's overrides: the
# recipe before grounding (configs/align/tiny-captions.yaml) or, for the grounded-*, slots and count
# rows, the grounded per-cell recipe (configs/align/tiny-cells.yaml); evaluated on the test split of a world from a seed no config uses, and
# checked with alignment.video_reliance on 32 training rows. About 25 min of alignment and 2 min of
# eval per row on 2 CPU cores with bf16 units. Usage: bash benchmarks/alignment_levers.sh [ROW ...]
set -euo pipefail
cd "$(dirname "$0")/.."
source benchmarks/lever_worlds.sh  # $J, $PY and the two worlds
declare -A ROWS=(
  [tune12]="encoder_tuning.last_blocks=12 encoder_tuning.lr=1e-4 stage2.lora.dropout=0.05"
  [pos]="projector.input_positions=512 stage2.lora.dropout=0.05"
  [pos-long]="projector.input_positions=512 train.steps=420"
  [pos-mlppool-s1]="projector.input_positions=512 projector.kind=mlp-pool stage1.steps=100 train.steps=260"
  [pixels]="encoder=pixels:tiny projector.input_positions=512 projector.kind=mlp-pool stage1.steps=100 train.steps=260"
  [max-all]="projector.input_positions=512 projector.kind=mlp-pool projector.pool=max stage1.steps=100 train.steps=500 data.max_clips=0 stage2.projector_lr=3e-3"
  [frozen-qa]="projector.input_positions=512 projector.kind=mlp-pool projector.pool=max data.max_clips=0 stage1.data=qa stage1.steps=120 stage1.batch_size=8 stage1.lr=3e-3 train.steps=120 stage2.questions_per_row=1"
  [caption-all]="projector.input_positions=512 projector.kind=mlp-pool projector.pool=max data.max_clips=0 stage1.data=descriptions stage1.steps=800 stage1.batch_size=4 stage1.lr=3e-3 train.steps=900 stage2.projector_lr=3e-3"
  [caption-s1]="projector.input_positions=512 projector.kind=mlp-pool projector.pool=max data.max_clips=0 stage1.data=descriptions stage1.steps=300 stage1.batch_size=4 stage1.lr=3e-3 train.steps=300"
  [grounded]="train.steps=1160"
  [grounded-400]="train.steps=1400"
  [grounded-random]="encoder=random:tiny train.steps=1160"
  [grounded-open]="stage2.open_fraction=0.5"
  [slots]="projector.kind=slots projector.tokens=40"
  [count-open]="projector.count_token=true stage2.open_fraction=0.5"
  [mix-count-open]="projector.local_mix=3 projector.count_token=true stage2.open_fraction=0.5"
  [apart-count-open]="stage1.empty_apart=true projector.count_token=true stage2.open_fraction=0.5"
  [words-apart]="stage1.empty_apart=true projector.count_token=true projector.count_words=9 stage2.open_fraction=0.5"
  [detach-words]="stage1.empty_apart=true projector.count_token=true projector.count_words=9 projector.count_detach=true stage2.open_fraction=0.5"
  [detach-words-id]="stage1.empty_apart=true projector.count_token=true projector.count_words=9 projector.count_detach=true projector.count_word_identity=true stage2.open_fraction=0.5"
  [detach-words-id-seed1]="stage1.empty_apart=true projector.count_token=true projector.count_words=9 projector.count_detach=true projector.count_word_identity=true stage2.open_fraction=0.5 seed=1"
  [detach-words-gate]="stage1.empty_apart=true projector.count_token=true projector.count_words=9 projector.count_detach=true projector.count_word_identity=true projector.count_word_gate=true stage2.open_fraction=0.5"
  [object-words]="stage1.empty_apart=true projector.count_token=true projector.count_words=9 projector.count_detach=true projector.count_word_identity=true stage2.open_fraction=0.5 projector.object_words=6"
  [object-words-steps]="stage1.empty_apart=true projector.count_token=true projector.count_words=9 projector.count_detach=true projector.count_word_identity=true stage2.open_fraction=0.5 projector.object_words=6 projector.step_words=[start,then,then,end]"
  [object-words-long]="stage1.empty_apart=true projector.count_token=true projector.count_words=9 projector.count_detach=true projector.count_word_identity=true stage2.open_fraction=0.5 projector.object_words=8 projector.step_words=[start,then,then,end] train.steps=1320"
  [cell-counts]="stage1.empty_apart=true projector.count_token=true projector.count_detach=true stage2.open_fraction=0.5 projector.object_words=8 projector.step_words=[start,then,then,end] train.steps=1320 projector.cell_counts=true"
  [merged-counts]="stage1.empty_apart=true projector.count_token=true projector.count_detach=true stage2.open_fraction=0.5 projector.object_words=8 projector.step_words=[start,then,then,end] train.steps=1320 projector.cell_counts=true projector.merge_cells=true"
  [asked-count]="stage1.empty_apart=true projector.count_token=true projector.count_detach=true stage2.open_fraction=0.5 projector.object_words=8 projector.step_words=[start,then,then,end] train.steps=1320 projector.cell_counts=true projector.merge_cells=true projector.asked_count=true"
  [asked-count-seed1]="stage1.empty_apart=true projector.count_token=true projector.count_detach=true stage2.open_fraction=0.5 projector.object_words=8 projector.step_words=[start,then,then,end] train.steps=1320 projector.cell_counts=true projector.merge_cells=true projector.asked_count=true seed=1"
  [asked-direction]="stage1.empty_apart=true projector.count_token=true projector.count_detach=true stage2.open_fraction=0.5 projector.object_words=8 projector.step_words=[start,then,then,end] train.steps=1320 projector.cell_counts=true projector.merge_cells=true projector.asked_count=true projector.asked_direction=true"
  [asked-direction-seed1]="stage1.empty_apart=true projector.count_token=true projector.count_detach=true stage2.open_fraction=0.5 projector.object_words=8 projector.step_words=[start,then,then,end] train.steps=1320 projector.cell_counts=true projector.merge_cells=true projector.asked_count=true projector.asked_direction=true seed=1"
  [overfit32]="projector.input_positions=512 projector.kind=mlp-pool projector.pool=max data.max_clips=32 stage1.data=qa stage1.steps=240 stage1.batch_size=4 stage1.lr=3e-3 train.steps=240"
)
for row in "${@:-${!ROWS[@]}}"; do
  # shellcheck disable=SC2086
  case $row in  # the rows measured before grounding extend the caption recipe, all later ones the cells'
    tune12 | pos* | pixels | max-all | frozen-qa | caption-* | overfit32) base=configs/align/tiny-captions.yaml ;;
    *) base=configs/align/tiny-cells.yaml ;;
  esac
  $J align --config $base --out "runs/lever-$row" data.path=runs/quickstart/world \
    encoder=checkpoints/default train.cache_dir=runs/cache-levers ${ROWS[$row]}
  $J eval --model "runs/lever-$row" --task world-qa --data runs/world-seed7 --out "runs/lever-$row-eval" \
    "question_types=[attribute,count,motion]" "controls=[blind,shuffled]" generation=false --precision auto
  $PY -m alignment.video_reliance --model "runs/lever-$row" --data runs/quickstart/world --rows 32
  $PY -m alignment.video_reliance --model "runs/lever-$row" --data runs/world-seed7 --split test --rows 32 --kind descriptions
done
