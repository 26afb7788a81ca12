# Sourced by the lever benchmarks (alignment_levers.sh, shape_readout.sh) from the repo root: the
# commands they run and the worlds they need (the quickstart world to train on, the seed-7 world
# that no config uses to test on, and for shape_readout.sh's data-scale row the same world config
# with 4x the clips), built once.
J=${JEPA_VQA:-.venv/bin/jepa-vqa}
PY=${PYTHON:-.venv/bin/python}
[ -f runs/quickstart/world/qa.jsonl ] || $J world --config configs/world/tiny.yaml --out runs/quickstart/world
[ -f runs/world-seed7/qa.jsonl ] || $J world --config configs/world/tiny.yaml --out runs/world-seed7 num_clips=700 seed=7
world_4x() {  # 6,400 training clips: the tiny world config at 4x its clips, another seed
  [ -f runs/world-4x/qa.jsonl ] || $J world --config configs/world/tiny.yaml --out runs/world-4x num_clips=8000 seed=11
}
