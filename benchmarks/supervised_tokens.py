"""A control for the pretraining levers: the tiny ViT trained from random init for the same steps,
batch and data as a JEPA lever row, but with every token *told* what it holds (the ground-truth
words of `python -m encoder.layer_probe --encoder oracle`: shape or nothing, colour, size,
direction within the time step; one linear head per word group), then probed like the JEPA rows.

If this encoder moves the probes well clear of random init in the same CPU budget and JEPA does not,
the budget is not what holds the JEPA rows back; the signal of their objective is::

    python benchmarks/supervised_tokens.py --data runs/quickstart/world --out runs/supervised-tokens
    python -m encoder.layer_probe --encoder random:tiny --encoder runs/supervised-tokens/encoder \\
        --data runs/quickstart/world --pool 2 --cache runs/probe-cache

It uses ground truth that self-supervised pretraining does not have: a bound, not a recipe.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


def train(args: argparse.Namespace) -> dict:
    from tqdm import tqdm

    from encoder.config import ViTConfig
    from encoder.data import VideoClips, maybe_cache
    from encoder.layer_probe import NO_WORD, token_word_ids
    from encoder.prepare import IMAGENET_MEAN, IMAGENET_STD
    from encoder.probe import split_clips
    from encoder.vit import VisionTransformer
    from jepa_vqa.precision import autocast, resolve_precision
    from jepa_vqa.training import set_seed, warmup_cosine

    set_seed(args.seed)
    cfg = ViTConfig.preset(args.preset)
    vit = VisionTransformer(cfg)
    grid = vit.grid(cfg.num_frames, cfg.img_size, cfg.img_size)  # (8, 8, 8)
    clips = split_clips(Path(args.data), "train")
    targets, groups = token_word_ids(clips, grid)  # (N, t*h*w, G), NO_WORD where a cell has none
    heads = nn.ModuleList(nn.Linear(cfg.embed_dim, len(words)) for words in groups)
    paths = [c["video"] for c in clips]
    cache = maybe_cache(paths, cfg.num_frames, cfg.img_size, num_workers=1)
    data = VideoClips(paths, cfg.num_frames, cfg.img_size, IMAGENET_MEAN, IMAGENET_STD, cache=cache)
    params = [*vit.parameters(), *heads.parameters()]
    optimizer = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.95), weight_decay=0.04)
    precision = resolve_precision(args.precision, "cpu")
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(args.seed))
    losses, start = [], time.perf_counter()
    for step in tqdm(range(args.steps), desc="supervised tokens", file=sys.stderr):
        idx = order.roll(-step * args.batch_size)[: args.batch_size]  # epochs in one fixed order
        video = torch.stack([data[int(i)] for i in idx])  # (B, T, C, H, W)
        for group in optimizer.param_groups:
            group["lr"] = warmup_cosine(step, args.steps, args.lr, args.warmup, 0.01)
        with autocast(precision, "cpu"):
            tokens = vit(video)  # (B, t*h*w, D)
            loss = sum(
                F.cross_entropy(
                    head(tokens).float().flatten(0, 1), targets[idx, :, g].flatten(), ignore_index=NO_WORD
                )
                for g, head in enumerate(heads)
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        losses.append(float(loss))
    vit.save_pretrained(Path(args.out) / "encoder")
    return {
        "steps": args.steps,
        "batch_size": args.batch_size,
        "precision": precision,
        "loss_first_10": sum(losses[:10]) / len(losses[:10]),
        "loss_last_10": sum(losses[-10:]) / len(losses[-10:]),
        "minutes": round((time.perf_counter() - start) / 60, 1),
        "encoder": str(Path(args.out) / "encoder"),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="a worlds dataset (its train split is used)")
    p.add_argument("--out", required=True)
    p.add_argument("--preset", default="tiny", help="the ViT size preset (the JEPA rows: tiny)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--precision", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args(argv)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    print(json.dumps(train(args)))


if __name__ == "__main__":
    main()
