"""Command-line wrappers for `alignment` (registered by cli.main)::

jepa-vqa align --config configs/align/tiny.yaml --out runs/align-tiny [train.steps=50 ...]
"""

from __future__ import annotations

import argparse

from jepa_vqa.cli import add_run_arguments


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
    add_run_arguments(p, "YAML file (configs/align/*.yaml)", "run dir: checkpoints, metrics, the final model")
    p.set_defaults(func=_align)


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's `jepa-vqa bench <what>` commands (none yet)."""
