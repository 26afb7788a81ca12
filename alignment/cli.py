"""Command-line wrappers for `alignment` (registered by jepa_vqa.cli)::

jepa-vqa align --config configs/align/tiny.yaml --out runs/align-tiny [train.steps=50 ...]
"""

from __future__ import annotations

import argparse


def _align(args: argparse.Namespace) -> int:
    from alignment.train import AlignConfig, train
    from jepa_vqa.config import load_config

    cfg = load_config(AlignConfig, args.config, args.overrides)
    out = train(cfg, args.out)
    print(out)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's top-level commands."""
    p = sub.add_parser("align", help="train the projector (+ LoRA) on video-QA data; writes a model dir")
    p.add_argument("--config", required=True, help="YAML file (configs/align/*.yaml)")
    p.add_argument("--out", required=True, help="run dir: checkpoints, metrics, the final model")
    p.add_argument("overrides", nargs="*", metavar="k=v", help="dotted config overrides")
    p.set_defaults(func=_align)


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's `jepa-vqa bench <what>` commands (none yet)."""
