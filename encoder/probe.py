"""Attentive probe on a frozen encoder: how much of the world's ground truth its tokens hold.

One cross-attention block with a learned query (as in V-JEPA's attentive probe) pools the
encoder's tokens, then a linear head classifies. Tokens are computed once per clip; the probe
trains on the ``train`` split of a worlds dataset and reports accuracy on ``test``::

    python -m encoder.probe --encoder runs/jepa-tiny --encoder runs/mae-tiny --encoder random:tiny \\
        --data runs/world-tiny --label direction --label count --label collision --seeds 3

    from encoder.probe import train_probe
    result = train_probe("runs/jepa-tiny", "runs/world-tiny", "direction", seed=0)  # {"accuracy": ...}
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from jepa_vqa.errors import UserError
from worlds.formats import has_world, read_clips

LABELS = ("direction", "count", "collision")


# ----------------------------------------------------------------------------------------------
# The probe


def _num_heads(dim: int) -> int:
    """The most heads (of 16, 12, 8, ...) that keep at least 16 channels per head."""
    return next((h for h in (16, 12, 8, 6, 4, 3, 2) if dim % h == 0 and dim // h >= 16), 1)


class AttentiveProbe(nn.Module):
    """Learned query -> cross-attention over tokens -> MLP (pre-norm, residual) -> linear head."""

    def __init__(self, dim: int, num_classes: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.norm_kv = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, _num_heads(dim), batch_first=True)
        self.norm_mlp = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.norm_out = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) frozen tokens -> (B, num_classes) logits."""
        kv = self.norm_kv(tokens)  # (B, N, D)
        q = self.query.expand(tokens.shape[0], -1, -1)  # (B, 1, D)
        x = q + self.attn(q, kv, kv, need_weights=False)[0]  # (B, 1, D)
        x = x + self.mlp(self.norm_mlp(x))  # (B, 1, D)
        return self.head(self.norm_out(x[:, 0]))  # (B, C)


# ----------------------------------------------------------------------------------------------
# Features: frozen tokens of every clip, computed once


@dataclass
class ProbeFeatures:
    """Frozen tokens and ground-truth labels of a worlds dataset's train and test splits."""

    train_tokens: torch.Tensor  # (N_train, N, D)
    test_tokens: torch.Tensor  # (N_test, N, D)
    train_labels: list[dict]
    test_labels: list[dict]


def split_clips(dataset_dir: Path, split: str) -> list[dict]:
    """The ``world.json`` clips of one split of a worlds dataset, videos as absolute paths."""
    if not has_world(dataset_dir):
        raise UserError(f"{dataset_dir} is not a worlds dataset (no world.json)")
    return read_clips(dataset_dir, split)


def pool_tokens(tokens: torch.Tensor, grid: tuple[int, int, int], factor: int) -> torch.Tensor:
    """Average ``factor x factor`` spatial neighbours (time kept): (B, t*h*w, D) -> (B, t*h'*w', D).

    A cheaper probe on CPU: ``factor=2`` gives 4x fewer tokens and keeps every time step.
    """
    if factor == 1:
        return tokens
    t, h, w = grid
    B, _, D = tokens.shape
    x = tokens.reshape(B * t, h, w, D).permute(0, 3, 1, 2)  # (B*t, D, h, w)
    x = F.avg_pool2d(x, factor, ceil_mode=True)  # (B*t, D, h', w')
    return x.permute(0, 2, 3, 1).reshape(B, -1, D)  # (B, t*h'*w', D)


@torch.inference_mode()
def encode_clips(
    encoder: nn.Module, paths: list[str], batch_size: int = 8, progress: bool = True, pool: int = 1
) -> torch.Tensor:
    """Frozen tokens of each clip, decoded at the encoder's frames and size: (N_clips, N, D)
    (spatially average-pooled by ``pool``)."""
    from tqdm import tqdm

    from encoder.video import read_frames

    device = next(encoder.parameters(), torch.empty(0)).device  # the pixel encoder has no weights
    out = []
    for i in tqdm(
        range(0, len(paths), batch_size), desc="encode", disable=not progress, file=sys.stderr, leave=False
    ):
        frames = [
            read_frames(p, num_frames=encoder.num_frames, size=encoder.image_size)
            for p in paths[i : i + batch_size]
        ]
        video = torch.stack([encoder.prepare(f) for f in frames]).to(device)  # (b, T, C, H, W)
        T, H, W = video.shape[1], video.shape[3], video.shape[4]
        grid = encoder.grid(T, H, W)  # (t, h, w)
        out.append(pool_tokens(encoder(video).float().cpu(), grid, pool))  # (b, N, D)
    return torch.cat(out)


def compute_features(
    encoder: nn.Module | str, dataset_dir: str | Path, progress: bool = True, pool: int = 1
) -> ProbeFeatures:
    """Encode the train and test clips of a worlds dataset once (``encoder``: module or spec;
    ``pool``: spatial token pooling factor, see :func:`pool_tokens`)."""
    from encoder import load_encoder

    if isinstance(encoder, str):
        encoder = load_encoder(encoder)
    encoder.eval()
    root = Path(dataset_dir)
    train, test = split_clips(root, "train"), split_clips(root, "test")
    tokens = encode_clips(encoder, [c["video"] for c in train + test], progress=progress, pool=pool)
    return ProbeFeatures(
        tokens[: len(train)], tokens[len(train) :], [c["labels"] for c in train], [c["labels"] for c in test]
    )


# ----------------------------------------------------------------------------------------------
# Training


def train_epochs(
    model: nn.Module,
    batch_loss,
    n: int,
    seed: int = 0,
    epochs: int = 60,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
) -> list[float]:
    """AdamW with a cosine schedule over ``epochs`` seeded shuffles of ``n`` rows; ``batch_loss(idx)``
    is the loss of the rows ``idx``. Returns the mean loss of each epoch."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    total = epochs * math.ceil(n / batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    epoch_losses = []
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        losses = []
        for i in range(0, n, batch_size):
            loss = batch_loss(order[i : i + batch_size])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        epoch_losses.append(sum(losses) / len(losses))
    return epoch_losses


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """``model`` on ``x`` in chunks of rows: (N, ...) -> (N, C)."""
    return torch.cat([model(x[i : i + chunk]) for i in range(0, len(x), chunk)])


def fit_probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    num_classes: int,
    seed: int = 0,
    epochs: int = 60,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
) -> dict:
    """Train an :class:`AttentiveProbe` on ``train_x`` (N, T, D) / ``train_y`` (N,) and evaluate.

    Returns ``accuracy`` (test), ``train_accuracy``, ``chance`` (majority class of train, scored
    on test), ``loss_first`` / ``loss_last`` (mean train loss of the first / last epoch).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        probe = AttentiveProbe(train_x.shape[-1], num_classes)
    epoch_losses = train_epochs(
        probe,
        lambda idx: F.cross_entropy(probe(train_x[idx]), train_y[idx]),
        len(train_x),
        seed,
        epochs,
        batch_size,
        lr,
        weight_decay,
    )
    probe.eval()
    test_pred, train_pred = predict(probe, test_x).argmax(-1), predict(probe, train_x).argmax(-1)
    majority = torch.bincount(train_y, minlength=num_classes).argmax()
    return {
        "accuracy": (test_pred == test_y).float().mean().item(),
        "train_accuracy": (train_pred == train_y).float().mean().item(),
        "chance": (test_y == majority).float().mean().item(),
        "loss_first": epoch_losses[0],
        "loss_last": epoch_losses[-1],
    }


def _encode_labels(feats: ProbeFeatures, label: str) -> tuple[torch.Tensor, torch.Tensor, list]:
    if label not in LABELS:
        raise UserError(f"unknown label '{label}' (known: {', '.join(LABELS)})")
    values = sorted({str(lab[label]) for lab in feats.train_labels + feats.test_labels})
    index = {v: i for i, v in enumerate(values)}
    train_y = torch.tensor([index[str(lab[label])] for lab in feats.train_labels])
    test_y = torch.tensor([index[str(lab[label])] for lab in feats.test_labels])
    return train_y, test_y, values


def train_probe(
    encoder: nn.Module | str,
    dataset_dir: str | Path,
    label: str,
    seed: int = 0,
    features: ProbeFeatures | None = None,
    **fit_kwargs,
) -> dict:
    """Attentive probe for ``label`` on frozen tokens: train on ``train``, accuracy on ``test``.

    Pass ``features`` (from :func:`compute_features`) to reuse the tokens across seeds/labels.
    """
    feats = features or compute_features(encoder, dataset_dir)
    train_y, test_y, classes = _encode_labels(feats, label)
    result = fit_probe(
        feats.train_tokens, train_y, feats.test_tokens, test_y, len(classes), seed, **fit_kwargs
    )
    return {"label": label, "seed": seed, "classes": classes, **result}


# ----------------------------------------------------------------------------------------------
# The table


def probe_table(
    encoders: list[str], dataset_dir: str | Path, labels: list[str], seeds: int, pool: int = 1, **fit_kwargs
) -> list[dict]:
    """One row per (encoder, label): test accuracy mean and std over ``seeds`` probe seeds."""
    rows = []
    for spec in encoders:
        feats = compute_features(spec, dataset_dir, pool=pool)
        for label in labels:
            results = [
                train_probe(None, dataset_dir, label, seed, features=feats, **fit_kwargs)
                for seed in range(seeds)
            ]
            accs = [r["accuracy"] for r in results]
            rows.append(
                {
                    "encoder": spec,
                    "label": label,
                    "seeds": seeds,
                    "accuracy_mean": statistics.fmean(accs),
                    "accuracy_std": statistics.stdev(accs) if len(accs) > 1 else 0.0,
                    "chance": results[0]["chance"],
                    "train_accuracy_mean": statistics.fmean(r["train_accuracy"] for r in results),
                }
            )
    return rows


def format_table(rows: list[dict]) -> str:
    """Markdown: encoders as rows, labels as columns, ``mean ± std`` test accuracy (%)."""
    labels = list(dict.fromkeys(r["label"] for r in rows))
    encoders = list(dict.fromkeys(r["encoder"] for r in rows))
    cell = {(r["encoder"], r["label"]): r for r in rows}
    lines = ["| encoder | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for enc in encoders:
        vals = [
            f"{100 * cell[enc, lab]['accuracy_mean']:.1f} ± {100 * cell[enc, lab]['accuracy_std']:.1f}"
            for lab in labels
        ]
        lines.append(f"| {enc} | " + " | ".join(vals) + " |")
    chance = [f"{100 * cell[encoders[0], lab]['chance']:.1f}" for lab in labels]
    lines.append("| (majority class) | " + " | ".join(chance) + " |")
    seeds = rows[0]["seeds"] if rows else 0
    lines.append(f"\ntest accuracy %, mean ± std over {seeds} probe seeds")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m encoder.probe", description="attentive-probe table")
    parser.add_argument("--encoder", action="append", required=True, help="encoder spec (repeatable)")
    parser.add_argument("--data", required=True, help="a worlds dataset dir (world.json)")
    parser.add_argument(
        "--label", action="append", help=f"label to probe (repeatable; default all: {', '.join(LABELS)})"
    )
    parser.add_argument("--seeds", type=int, default=3, help="probe seeds (default 3)")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--pool", type=int, default=1, help="spatial token pooling before the probe (CPU)")
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON lines")
    args = parser.parse_args(argv)
    try:
        if args.seeds <= 0 or args.epochs <= 0 or args.pool <= 0:
            raise UserError("--seeds, --epochs and --pool must be positive")
        rows = probe_table(
            args.encoder,
            args.data,
            args.label or list(LABELS),
            args.seeds,
            pool=args.pool,
            epochs=args.epochs,
        )
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(rows))
    if args.json:
        for row in rows:
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
