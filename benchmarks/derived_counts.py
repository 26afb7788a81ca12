"""Counts read straight off the grounded cells' word weights, against the learned count tokens.

A word read-out model (``projector.object_words``) knows, per cell, the chance that it shows an
object and the weight of each colour and shape word. Per time step the expected number of objects
(of a colour, of a shape) is the sum of those chances over the cells; over the clip, the maximum,
median or mean of the time steps. How often does that, rounded, name the clip's number, against the
count tokens learned in stage 1 (their nearest number word)? The same again with each object read
once (``projector.merge_cells``: an object crossing a cell border is one object, not two). No LLM
runs::

    python benchmarks/derived_counts.py --model checkpoints/default --data runs/world-seed7 --split test
"""

from __future__ import annotations

import argparse

import torch

from vlm.model import VideoQAModel
from vlm.read_out import counts as learned_counts
from worlds.formats import read_clips

REDUCE = {"max": lambda x: x.amax(0), "median": lambda x: x.median(0).values, "mean": lambda x: x.mean(0)}


def word_weights(model, video: str):
    """The clip's cells' word weights and object chances (``MLPPoolProjector.word_weights``)."""
    proj = model.projector
    cells = proj.cell_tokens(model.encode_tokens(model.load_frames(video)[None]).float(), model.grid)
    return proj.word_weights(cells)  # G x (1, C, V_g), (1, C, 1)


def step_counts(model, weights, hard: bool = False) -> tuple[list[str], torch.Tensor]:
    """The count names ("all", then the colour and shape words) and their expected numbers per
    time step (t, 1 + K), as ``projector.cell_counts`` reads them; ``hard``: each cell counts as its
    likeliest words, or not at all when "nothing" is likelier than an object (``hard_weights``)."""
    proj = model.projector
    probs, full = proj.hard_weights(weights) if hard else weights
    steps = proj.cells(model.grid)[0]
    every = full[0, :, 0].unflatten(0, (steps, -1)).sum(1, keepdim=True)  # (t, 1)
    return ["all", *proj.counted_words()], torch.cat(
        [every, proj.step_counts(probs, full, model.grid)[0]], -1
    )


def label(how: str, merged: bool, hard: bool) -> str:
    """A read's row name: its reduction over time steps, then how the cells were read."""
    return f"{how} over time steps{', objects merged' if merged else ''}{' (hard)' if hard else ''}"


def truth(clip: dict, names: list[str]) -> list[int]:
    objects = clip["objects"]
    return [len(objects)] + [sum(w in (o["colour"], o["shape"]) for o in objects) for w in names[1:]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="checkpoints/default")
    parser.add_argument("--data", required=True, help="a worlds dataset dir")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=0, help="clips (0: all of the split)")
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    model = VideoQAModel.from_pretrained(args.model).eval()
    clips = read_clips(args.data, args.split)[: args.limit or None]
    variants = [(merged, hard) for merged in (False, True) for hard in (False, True)]
    reads = [label(how, *v) for v in variants for how in REDUCE]
    right = {name: {"all": 0, "colour": 0, "shape": 0} for name in [*reads, "learned"]}
    total = {"all": 0, "colour": 0, "shape": 0}
    colours = set(model.projector.cfg.words["colour"])
    for clip in clips:
        weights = word_weights(model, clip["video"])  # encoded once for every read
        merged = model.projector.merged_weights(weights, model.grid)
        names = ["all", *model.projector.counted_words()]
        per_step = {v: step_counts(model, merged if v[0] else weights, hard=v[1])[1] for v in variants}
        gold = truth(clip, names)
        learned = learned_counts(model, clip["video"])
        for k, name in enumerate(names):
            kind = "all" if k == 0 else "colour" if name in colours else "shape"
            total[kind] += 1
            for v, steps in per_step.items():
                for how, reduce in REDUCE.items():
                    right[label(how, *v)][kind] += int(round(float(reduce(steps[:, k]))) == gold[k])
            right["learned"][kind] += int(learned.get(name) == str(gold[k]))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line), "?")
    print(f"{len(clips)} clips of {args.data} ({args.split}); {args.model}; CPU {cpu}")
    print("| count read | all objects | of a colour | of a shape |\n| --- | --- | --- | --- |")
    for how, hits in right.items():
        name = "learned count tokens (nearest number)" if how == "learned" else f"derived, {how}"
        cells = " | ".join(
            f"{100 * hits[kind] / max(total[kind], 1):.1f}" for kind in ("all", "colour", "shape")
        )
        print(f"| {name} | {cells} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
