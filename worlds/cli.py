"""Command-line wrappers for `worlds` (registered by cli.main).

jepa-vqa world --config configs/world/tiny.yaml --out data/world-tiny [--preview] [--workers N] [k=v ...]
jepa-vqa bench world [--config configs/world/tiny.yaml] [--clips 200]
"""

from __future__ import annotations

import argparse
import json


def _load(path: str | None, overrides: list[str]):
    from jepa_vqa.config import load_config
    from worlds.config import WorldConfig

    return load_config(WorldConfig, path, overrides)


def _world(args: argparse.Namespace) -> int:
    from worlds.formats import read_qa
    from worlds.generate import generate_dataset

    overrides = list(args.overrides) + ([f"workers={args.workers}"] if args.workers is not None else [])
    cfg = _load(args.config, overrides)
    out = generate_dataset(cfg, args.out, workers=cfg.workers, progress=not args.quiet)
    n_questions = len(read_qa(out))
    print(
        json.dumps(
            {
                "out": str(out),
                "clips": cfg.split_sizes(),
                "questions": n_questions,
                "voe_pairs": cfg.voe.pairs,
            }
        )
    )
    if args.preview:
        from worlds.preview import contact_sheet

        print(contact_sheet(out))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from worlds.bench import bench_world

    if args.clips < 1:
        from jepa_vqa.errors import UserError

        raise UserError(f"--clips must be at least 1, got {args.clips}")
    print(json.dumps({"bench": "world", **bench_world(_load(args.config, list(args.overrides)), args.clips)}))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register `jepa-vqa world`."""
    p = sub.add_parser("world", help="write a synthetic video-QA dataset (videos, world.json, qa.jsonl, voe)")
    p.add_argument("--config", help="a configs/world/*.yaml preset (default: the built-in tiny preset)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--workers", type=int, help="worker processes (overrides `workers`)")
    p.add_argument("--preview", action="store_true", help="also write DIR/preview.png, a contact sheet")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("overrides", nargs="*", metavar="k=v", help="config overrides, e.g. num_clips=20")
    p.set_defaults(func=_world)


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """Register `jepa-vqa bench world`."""
    p = sub.add_parser("world", help="clips per second of the world generator on one core")
    p.add_argument("--config", help="a configs/world/*.yaml preset (default: the built-in tiny preset)")
    p.add_argument("--clips", type=int, default=100, help="clips to generate")
    p.add_argument("overrides", nargs="*", metavar="k=v", help="config overrides")
    p.set_defaults(func=_bench)
