# Sourced by the lever benchmarks (alignment_levers.sh, shape_readout.sh) from the repo root: the
# commands they run and the two worlds they need (the quickstart world to train on, the seed-7 world
# that no config uses to test on), built once.
J=${JEPA_VQA:-.venv/bin/jepa-vqa}
PY=${PYTHON:-.venv/bin/python}
[ -f runs/quickstart/world/qa.jsonl ] || $J world --config configs/world/tiny.yaml --out runs/quickstart/world
[ -f runs/world-seed7/qa.jsonl ] || $J world --config configs/world/tiny.yaml --out runs/world-seed7 num_clips=700 seed=7
