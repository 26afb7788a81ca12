"""Layer-wise linear probes: which of a frozen encoder's blocks hold the facts a question asks about.

For each block's (normed) output, tokens are average-pooled to ``pool x pool`` cells per time step,
flattened, standardised, and a ridge model (closed form, its strength picked on a held-out fifth
of the train split) predicts three ground-truth facts of a worlds dataset:

- ``colour``: is an object of each colour present (one binary probe per colour, accuracy averaged);
- ``count``: how many objects there are, by ridge regression rounded to a whole count (a count is
  a quantity: with one-vs-rest classes, ``count_classes``, also reported, even perfect per-token
  perception pooled to 2 x 2 cells reads it at 33% on the tiny world, under a random-init ViT);
- ``direction``: the first object's direction of travel (left, right, up, down).

The direction probe asks about object 0, which nothing in a clip marks out from the others, so no
encoder can reach 100% on it: ``direction_ceiling`` is what a perceiver that sees every object's
motion, but not which object is object 0, scores at best (about 70% on the tiny world's test split).

Run it (one table per encoder; ``pixels`` probes the pooled frames themselves, the floor any
encoder must beat; ``oracle`` probes perfect per-token perception, the ceiling of this probe)::

    python -m encoder.layer_probe --encoder runs/jepa-tiny --encoder random:tiny --encoder pixels \\
        --encoder oracle --data runs/quickstart/world --pool 2

``oracle`` gives each token of the tiny encoder's grid (8 time steps x 8 x 8) the one-hot words of
the object seen there in the world's ground truth (shape or nothing, colour, size, direction within
the time step; :func:`worlds.grounding.cell_words`), then pools them as it pools an encoder's
tokens. It shows how far a linear probe on pooled tokens can go when every token knows exactly
what it holds, but no token knows which object is which.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from encoder.probe import split_clips
from jepa_vqa.errors import UserError
from worlds.annotate import direction_of

FACTS = ("colour", "count", "count_classes", "direction")
RIDGE_STRENGTHS = (1e-1, 1.0, 10.0, 100.0, 1000.0, 10000.0)


def clip_facts(clip: dict, colours: list[str]) -> dict:
    """The probed facts of one ``world.json`` clip."""
    present = {o["colour"] for o in clip["objects"]}
    return {
        "colour": [int(c in present) for c in colours],
        "count": clip["labels"]["count"],
        "direction": clip["labels"]["direction"],
    }


def _in_frame(x: float, y: float, bbox: list[float]) -> bool:
    """Whether any of an object's bounding box at centre (x, y) lies inside the unit frame."""
    x0, y0, x1, y1 = bbox
    return x + x0 < 1.0 and x + x1 > 0.0 and y + y0 < 1.0 and y + y1 > 0.0


def object_directions(clip: dict) -> list[str | None]:
    """Each object's direction as the ``direction`` label defines it for object 0 (frame 0 to its
    last in-frame frame); None for an object out of frame at frame 0 (object 0 never is)."""
    directions = []
    for obj, track in zip(clip["objects"], clip["tracks"], strict=True):
        xs, ys = track["x"], track["y"]
        inside = [f for f, (x, y) in enumerate(zip(xs, ys, strict=True)) if _in_frame(x, y, obj["bbox"])]
        if not inside or inside[0] != 0:
            directions.append(None)
            continue
        directions.append(direction_of(xs[inside[-1]] - xs[0], ys[inside[-1]] - ys[0]))
    return directions


def direction_ceiling(clips: list[dict]) -> float:
    """Expected accuracy of naming the most common direction among the objects in frame at frame 0,
    object 0 being any of them: the best a perceiver blind to object identity can do."""
    total = 0.0
    for clip in clips:
        seen = [d for d in object_directions(clip) if d is not None]
        total += max(seen.count(d) for d in seen) / len(seen)
    return total / len(clips)


NO_WORD = -1  # a word group a cell has no word for (an empty cell's colour, a still object's direction)


def token_word_ids(clips: list[dict], grid: tuple[int, int, int]) -> tuple[torch.Tensor, list[list[str]]]:
    """The ground-truth words of every token of ``grid`` (:func:`worlds.grounding.cell_words`) as
    ids: (N_clips, t*h*w, groups), ``NO_WORD`` where a cell has none; and each group's words."""
    from worlds.grounding import cell_words, world_vocabulary

    vocabulary = world_vocabulary(clips)  # {group: [word, ...]}
    ids = torch.full((len(clips), math.prod(grid), len(vocabulary)), NO_WORD, dtype=torch.long)
    for i, clip in enumerate(clips):
        for k, cell in enumerate(cell_words(clip, grid)):
            for g, (group, words) in enumerate(vocabulary.items()):
                if cell.get(group) in words:
                    ids[i, k, g] = words.index(cell[group])
    return ids, list(vocabulary.values())


def oracle_features(
    clips: list[dict], pool: int, grid: tuple[int, int, int] = (8, 8, 8)
) -> list[torch.Tensor]:
    """Perfect per-token perception, pooled: one (N_clips, F) "layer" of one-hot cell words."""
    ids, groups = token_word_ids(clips, grid)  # (N, t*h*w, G)
    one_hot = [
        F.one_hot(ids[..., g] + 1, len(words) + 1)[..., 1:].float()  # NO_WORD -> all zeros
        for g, words in enumerate(groups)
    ]
    tokens = torch.cat(one_hot, -1)  # (N, t*h*w, F)
    return [_cells(tokens.view(len(clips), *grid, -1), pool)]


def _cells(x: torch.Tensor, pool: int) -> torch.Tensor:
    """(B, t, h, w, D) -> (B, t * pool * pool * D): adaptive average over ``pool x pool`` cells."""
    B, t, h, w, D = x.shape
    x = x.reshape(B * t, h, w, D).permute(0, 3, 1, 2)  # (B*t, D, h, w)
    x = F.adaptive_avg_pool2d(x, pool)  # (B*t, D, pool, pool)
    return x.reshape(B, -1)


@torch.inference_mode()
def layer_features(spec: str, paths: list[str], pool: int, batch_size: int = 16) -> list[torch.Tensor]:
    """Pooled features of every block of encoder ``spec`` (or of the frames, ``pixels``): a list of
    (N_clips, F) tensors, one per layer."""
    from tqdm import tqdm

    from encoder import load_encoder
    from encoder.video import read_frames

    encoder = None if spec == "pixels" else load_encoder(spec).eval()
    size, frames = (64, 16) if encoder is None else (encoder.image_size, encoder.num_frames)
    per_layer: list[list[torch.Tensor]] = []
    for i in tqdm(range(0, len(paths), batch_size), desc=f"encode {spec}", file=sys.stderr, leave=False):
        clips = [read_frames(p, num_frames=frames, size=size) for p in paths[i : i + batch_size]]
        if encoder is None:
            video = torch.stack(clips).float() / 255  # (b, T, C, H, W)
            layers = [video.permute(0, 1, 3, 4, 2)]  # (b, T, H, W, C)
        else:
            video = torch.stack([encoder.prepare(c) for c in clips])  # (b, T, C, H, W)
            t, h, w = encoder.grid(frames, size, size)
            depth = len(encoder.backbone.blocks)
            outs = encoder.backbone(video, return_layers=list(range(depth)))  # depth x (b, N, D)
            layers = [o.reshape(len(clips), t, h, w, -1) for o in outs]
        for k, x in enumerate(layers):
            if len(per_layer) <= k:
                per_layer.append([])
            per_layer[k].append(_cells(x.float(), pool))
    return [torch.cat(chunks) for chunks in per_layer]


class Ridge:
    """Closed-form ridge regression in dual form for many targets and strengths at once: one
    eigendecomposition of the (N, N) Gram matrix of standardised features."""

    def __init__(self, x: torch.Tensor) -> None:
        self.mean, self.std = x.mean(0), x.std(0).clamp_min(1e-6)
        self.x = self.scale(x)  # (N, F)
        self.eigvals, self.eigvecs = torch.linalg.eigh(self.x @ self.x.T)  # (N,), (N, N)

    def scale(self, x: torch.Tensor) -> torch.Tensor:
        return ((x - self.mean) / self.std).double()

    def predict(self, targets: torch.Tensor, strength: float, x: torch.Tensor) -> torch.Tensor:
        """Fit ``targets`` (N, C) at ``strength``, predict the rows of ``x`` (M, F) -> (M, C)."""
        alpha = self.eigvecs @ ((self.eigvecs.T @ targets) / (self.eigvals + strength)[:, None])  # (N, C)
        return self.scale(x) @ (self.x.T @ alpha)


def _one_hot(labels: list[torch.Tensor]) -> tuple[torch.Tensor, list[slice]]:
    """Each probe's ±1 one-hot targets side by side: (N, sum of classes), and each probe's columns."""
    blocks, spans, start = [], [], 0
    for y in labels:
        block = F.one_hot(y).double() * 2 - 1  # (N, C)
        blocks.append(block)
        spans.append(slice(start, start + block.shape[1]))
        start += block.shape[1]
    return torch.cat(blocks, 1), spans


def _best_strength_scores(x: torch.Tensor, targets: torch.Tensor, n_train: int, score) -> list[float]:
    """Ridge fits of ``targets`` (N, C) on the first ``n_train`` rows: each score of
    ``score(pred, rows) -> [float]`` taken at the strength that maximises it on the last fifth of
    them (fitted without it), then refitted on all of them and measured on the rest."""
    cut = n_train * 4 // 5
    held_out, full = Ridge(x[:cut]), Ridge(x[:n_train])
    val = {
        s: score(held_out.predict(targets[:cut], s, x[cut:n_train]), slice(cut, n_train))
        for s in RIDGE_STRENGTHS
    }
    test = {
        s: score(full.predict(targets[:n_train], s, x[n_train:]), slice(n_train, None))
        for s in RIDGE_STRENGTHS
    }
    best = [max(RIDGE_STRENGTHS, key=lambda s: val[s][k]) for k in range(len(val[RIDGE_STRENGTHS[0]]))]
    return [test[s][k] for k, s in enumerate(best)]


def ridge_accuracies(x: torch.Tensor, labels: list[torch.Tensor], n_train: int) -> list[float]:
    """Test accuracy of a one-vs-rest ridge classifier per label (int class ids over all N rows)."""
    targets, spans = _one_hot(labels)

    def score(pred: torch.Tensor, rows: slice) -> list[float]:
        return [float((pred[:, span].argmax(-1) == y[rows]).float().mean()) for span, y in zip(spans, labels)]

    return _best_strength_scores(x, targets, n_train, score)


def ridge_count_accuracy(x: torch.Tensor, counts: torch.Tensor, n_train: int) -> float:
    """Test accuracy of a ridge regression of ``counts`` (N,), rounded to the nearest whole count
    within the training range: a count is a quantity, and one-vs-rest classes cannot read it off a
    feature that grows with it (a middle class's score would have to peak in the middle)."""
    y = counts.double()[:, None]  # (N, 1)
    centre, lo, hi = float(y[:n_train].mean()), float(y[:n_train].min()), float(y[:n_train].max())

    def score(pred: torch.Tensor, rows: slice) -> list[float]:
        guess = (pred[:, 0] + centre).round().clamp(lo, hi)
        return [float((guess == y[rows, 0]).float().mean())]

    return _best_strength_scores(x, y - centre, n_train, score)[0]


def _targets(facts: list[dict], fact: str) -> list[torch.Tensor]:
    """Class ids per probe: one tensor for count/direction, one per colour for colour."""
    if fact == "colour":
        return [torch.tensor(col) for col in zip(*(f["colour"] for f in facts))]
    values = sorted({str(f[fact]) for f in facts})
    return [torch.tensor([values.index(str(f[fact])) for f in facts])]


def majority_accuracy(train_y: torch.Tensor, test_y: torch.Tensor) -> float:
    """Accuracy on ``test_y`` of always answering the most common class of ``train_y``."""
    return float((test_y == torch.bincount(train_y).argmax()).float().mean())


def probe_layers(spec: str, data: str | Path, pool: int = 2, cache: str | Path | None = None) -> dict:
    """``{"encoder", "pool", "layers": [{fact: accuracy}], "majority": {fact: accuracy}}``; the pooled
    features are kept in ``cache`` (a dir) when given, so a second run only refits the probes."""
    root = Path(data)
    train, test = split_clips(root, "train"), split_clips(root, "test")
    colours = sorted({o["colour"] for c in train + test for o in c["objects"]})
    facts = [clip_facts(c, colours) for c in train + test]
    path = Path(cache) / f"{spec.replace('/', '_').replace(':', '_')}-pool{pool}.pt" if cache else None
    if path is not None and path.is_file():
        features = torch.load(path)
    elif spec == "oracle":
        features = oracle_features(train + test, pool)
    else:
        features = layer_features(spec, [c["video"] for c in train + test], pool)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(features, path)
    n = len(train)
    labels = {fact: _targets(facts, fact.removesuffix("_classes")) for fact in FACTS if fact != "count"}
    counts = torch.tensor([f["count"] for f in facts])
    majority = {f: sum(majority_accuracy(y[:n], y[n:]) for y in ys) / len(ys) for f, ys in labels.items()}
    majority["count"] = majority["count_classes"]  # the same most common count
    flat = [y for ys in labels.values() for y in ys]
    rows = []
    for x in features:
        accs = iter(ridge_accuracies(x, flat, n))
        row = {fact: sum(next(accs) for _ in ys) / len(ys) for fact, ys in labels.items()}
        row["count"] = ridge_count_accuracy(x, counts, n)
        rows.append({fact: row[fact] for fact in FACTS})
    return {
        "encoder": spec,
        "pool": pool,
        "train": n,
        "test": len(test),
        "layers": rows,
        "majority": majority,
        "direction_ceiling": direction_ceiling(test),
    }


def format_result(result: dict) -> str:
    """Markdown: one row per layer, test accuracy (%) per fact."""
    lines = [f"{result['encoder']} (pool {result['pool']}x{result['pool']}, {result['train']} train / "
             f"{result['test']} test clips)", "", "| layer | " + " | ".join(FACTS) + " |",
             "|---|" + "---|" * len(FACTS)]  # fmt: skip
    for k, row in enumerate(result["layers"], start=1):
        lines.append(f"| {k} | " + " | ".join(f"{100 * row[f]:.1f}" for f in FACTS) + " |")
    lines.append("| majority | " + " | ".join(f"{100 * result['majority'][f]:.1f}" for f in FACTS) + " |")
    cells = [f"{100 * result['direction_ceiling']:.1f}" if f == "direction" else "" for f in FACTS]
    lines.append("| identity-blind ceiling | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m encoder.layer_probe", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--encoder",
        action="append",
        required=True,
        help="encoder spec, `pixels` or `oracle` (repeatable)",
    )
    parser.add_argument("--data", required=True, help="a worlds dataset dir (world.json)")
    parser.add_argument("--pool", type=int, default=2, help="cells per side each time step is pooled to")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--cache", help="keep the pooled features in this dir (reruns refit only)")
    args = parser.parse_args(argv)
    try:
        if args.pool < 1:
            raise UserError("--pool must be >= 1")
        results = [probe_layers(spec, args.data, args.pool, args.cache) for spec in args.encoder]
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n\n".join(format_result(r) for r in results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
