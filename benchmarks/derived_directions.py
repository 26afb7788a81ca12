"""Directions read straight off the grounded cells for the object and time a motion question names.

A word read-out model (``projector.object_words`` with ``merge_cells``) reads, per time step, each
object once with its likeliest size, colour and shape words and its direction weights.
``projector.asked_direction`` hands the LLM one direction per motion question: that of the objects
matching the words the question names, at the time it asks about (:meth:`read_directions`). How
often is that word the answer, per motion subtype, against the model's own choices (``--samples``,
an eval's samples.jsonl)? Works on any word read-out model, trained with the line or not; no LLM
runs::

    python benchmarks/derived_directions.py --model checkpoints/default --data runs/world-seed7 \\
        --samples runs/default-eval/samples.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch

from vlm.model import VideoQAModel
from vlm.processor import asked_direction


def motion_questions(data: str, split: str) -> dict[str, list[dict]]:
    """The split's motion questions of a worlds dataset, by video path."""
    by_video = defaultdict(list)
    for line in (Path(data) / "qa.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["split"] == split and row["type"] == "motion":
            by_video[str(Path(data) / row["video"])].append(row)
    return by_video


def direction_words(model, video: str) -> tuple[list[tuple], list[str]]:
    """The keys of the direction table and the word each reads for ``video`` (the nearest
    direction word, or the empty cell's where no object matched)."""
    proj = model.projector
    cells = proj.cell_tokens(model.encode_tokens(model.load_frames(video)[None]).float(), model.grid)
    weights = proj.merged_weights(proj.word_weights(cells), model.grid)
    table = proj.read_directions(weights, model.grid)[0].float()  # (Q, W)
    groups = list(proj.cfg.words)
    vocab = proj.group_tables()[groups.index("direction")].float()  # (D, W)
    distance = torch.cdist(table, vocab)  # (Q, D): 0 at the word read (up to cdist's rounding)
    nearest, found = distance.argmin(-1), distance.amin(-1) < 1e-2
    words = [
        proj.cfg.words["direction"][i] if ok else "none" for i, ok in zip(nearest.tolist(), found.tolist())
    ]
    return proj.direction_keys(), words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="checkpoints/default")
    parser.add_argument("--data", required=True, help="a worlds dataset dir")
    parser.add_argument("--split", default="test")
    parser.add_argument("--samples", help="an eval's samples.jsonl: the model's choices, to compare")
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    model = VideoQAModel.from_pretrained(args.model).eval()
    chosen = {}
    if args.samples:
        rows = [json.loads(line) for line in Path(args.samples).read_text().splitlines()]
        chosen = {r["id"]: r for r in rows if r["condition"] == "model"}
    tally = defaultdict(lambda: defaultdict(int))
    for video, questions in motion_questions(args.data, args.split).items():
        keys, words = direction_words(model, video)
        for q in questions:
            row = tally[q["subtype"]]
            row["questions"] += 1
            key = asked_direction(q["question"], keys)
            row["parsed"] += key is not None
            derived = key is not None and words[keys.index(key)] == q["answer"]
            row["derived right"] += derived
            sample = chosen.get(q["id"])
            if sample is not None:
                choice = sample["options"][ord(sample["choice"]) - ord("A")] if sample["choice"] else None
                row["scored"] += 1
                row["model right"] += sample["correct"]
                row["model chose the word read"] += key is not None and choice == words[keys.index(key)]
                row["derived right, model wrong"] += derived and not sample["correct"]
                row["derived wrong, model right"] += not derived and sample["correct"]
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line), "?")
    print(f"{args.data} ({args.split}) motion questions; {args.model}; CPU {cpu}")
    columns = ["questions", "parsed", "derived right", "scored", "model right", "model chose the word read"]
    columns += ["derived right, model wrong", "derived wrong, model right"]
    print("| subtype | " + " | ".join(columns) + " |\n|" + " --- |" * (len(columns) + 1))
    for subtype in [*sorted(tally), "all"]:
        row = tally[subtype] if subtype != "all" else {c: sum(t[c] for t in tally.values()) for c in columns}
        print(f"| {subtype} | " + " | ".join(str(row[c]) for c in columns) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
