"""Readout probes: which way of reading a frozen encoder's full token grid recovers the world's facts.

A projector must turn 512 tokens (8 time steps x 8 x 8 patches) into a few LLM tokens. Objects are
6 to 11 px in a 64 px frame, so how the grid is reduced decides what survives. Each reader is
trained directly on the facts (is each colour present, object count, first object's direction;
one multi-task head), so it measures what a projector *could* pass on, without the LLM:

- ``mean-linear``: average all tokens, then a linear head (what average pooling keeps);
- ``mlp-mean``: a 2-layer MLP on every token, then the average (the ``mlp-pool`` projector);
- ``mlp-max``: the same MLP, then the maximum over tokens (a detector: "is there red anywhere").

::

    python -m encoder.readout_probe --encoder checkpoints/default --encoder random:tiny \\
        --encoder pixels:tiny --data runs/quickstart/world
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from encoder.layer_probe import clip_facts, majority_accuracy
from encoder.probe import compute_features, predict, split_clips, train_epochs
from jepa_vqa.errors import UserError

READERS = ("mean-linear", "mlp-mean", "mlp-max")


class Reader(nn.Module):
    """Frozen tokens (B, N, D) -> logits (B, C) for every fact at once."""

    def __init__(self, kind: str, dim: int, outputs: int, hidden: int = 256) -> None:
        super().__init__()
        if kind not in READERS:
            raise UserError(f"unknown reader '{kind}' (known: {', '.join(READERS)})")
        self.kind = kind
        self.norm = nn.LayerNorm(dim)
        self.mlp = (
            None
            if kind == "mean-linear"
            else nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        )
        self.head = nn.Linear(dim if self.mlp is None else hidden, outputs)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.norm(tokens)  # (B, N, D)
        if self.mlp is None:
            return self.head(x.mean(1))  # (B, C)
        x = self.mlp(x)  # (B, N, H)
        pooled = x.amax(1) if self.kind == "mlp-max" else x.mean(1)  # (B, H)
        return self.head(pooled)


def fact_targets(
    clips: list[dict], colours: list[str]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int, int]:
    """(colour (N, 6) 0/1, count ids (N,), direction ids (N,), #counts, #directions) of ``clips``."""
    facts = [clip_facts(c, colours) for c in clips]
    counts = sorted({f["count"] for f in facts})
    directions = sorted({f["direction"] for f in facts})
    colour = torch.tensor([f["colour"] for f in facts], dtype=torch.float32)
    count = torch.tensor([counts.index(f["count"]) for f in facts])
    direction = torch.tensor([directions.index(f["direction"]) for f in facts])
    return colour, count, direction, len(counts), len(directions)


def _loss(logits: torch.Tensor, colour, count, direction, n_colours: int, n_counts: int) -> torch.Tensor:
    a, b = n_colours, n_colours + n_counts
    return (
        F.binary_cross_entropy_with_logits(logits[:, :a], colour)
        + F.cross_entropy(logits[:, a:b], count)
        + F.cross_entropy(logits[:, b:], direction)
    )


def _accuracies(logits: torch.Tensor, colour, count, direction, n_colours: int, n_counts: int) -> dict:
    a, b = n_colours, n_colours + n_counts
    return {
        "colour": float(((logits[:, :a] > 0).float() == colour).float().mean()),
        "count": float((logits[:, a:b].argmax(-1) == count).float().mean()),
        "direction": float((logits[:, b:].argmax(-1) == direction).float().mean()),
    }


def fit_reader(kind: str, train_x, train_t, test_x, test_t, epochs: int = 30, seed: int = 0) -> dict:
    """Train reader ``kind`` on (tokens, targets) and return test/train accuracy per fact."""
    n_colours, n_counts, n_dirs = train_t[0].shape[1], train_t[3], train_t[4]
    torch.manual_seed(seed)
    reader = Reader(kind, train_x.shape[-1], n_colours + n_counts + n_dirs)
    train_epochs(
        reader,
        lambda idx: _loss(reader(train_x[idx]), *(t[idx] for t in train_t[:3]), n_colours, n_counts),
        len(train_x),
        seed,
        epochs,
    )
    reader.eval()
    test = _accuracies(predict(reader, test_x), *test_t[:3], n_colours, n_counts)
    train = _accuracies(predict(reader, train_x), *train_t[:3], n_colours, n_counts)
    return {"reader": kind, "test": test, "train": train}


def majority(train_t, test_t) -> dict:
    """Accuracy of always answering the training split's most common value, per fact."""
    colour = (train_t[0].mean(0) > 0.5).float()  # (6,)
    return {
        "colour": float((test_t[0] == colour).float().mean()),
        "count": majority_accuracy(train_t[1], test_t[1]),
        "direction": majority_accuracy(train_t[2], test_t[2]),
    }


def readout_table(specs: list[str], data: str | Path, epochs: int = 30) -> list[dict]:
    """One row per (encoder, reader) plus the majority row."""
    root = Path(data)
    train, test = split_clips(root, "train"), split_clips(root, "test")
    colours = sorted({o["colour"] for c in train + test for o in c["objects"]})
    targets = fact_targets(train + test, colours)
    n = len(train)
    train_t = (*(t[:n] for t in targets[:3]), *targets[3:])
    test_t = (*(t[n:] for t in targets[:3]), *targets[3:])
    rows = [{"encoder": "majority class", "reader": "-", "test": majority(train_t, test_t)}]
    for spec in specs:
        feats = compute_features(spec, root)
        for kind in READERS:
            row = fit_reader(kind, feats.train_tokens, train_t, feats.test_tokens, test_t, epochs)
            rows.append({"encoder": spec, **row})
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def format_table(rows: list[dict]) -> str:
    """Markdown: test accuracy % per fact (train accuracy in brackets)."""
    lines = ["| encoder | reader | colour | count | direction |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        cells = [
            f"{100 * r['test'][f]:.1f}" + (f" ({100 * r['train'][f]:.1f})" if "train" in r else "")
            for f in ("colour", "count", "direction")
        ]
        lines.append(f"| {r['encoder']} | {r['reader']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m encoder.readout_probe", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--encoder", action="append", required=True, help="encoder spec (repeat)")
    parser.add_argument("--data", required=True, help="a worlds dataset dir")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", help="write the rows as JSON here")
    args = parser.parse_args(argv)
    try:
        rows = readout_table(args.encoder, args.data, args.epochs)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
