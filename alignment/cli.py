"""Command-line wrappers for `alignment` (registered by cli.main)::

jepa-vqa align --config configs/align/tiny.yaml --out runs/align-tiny [train.steps=50 ...]
jepa-vqa bench align --config configs/align/tiny.yaml [--stage 2] [--steps 5] [k=v ...]
"""

from __future__ import annotations

import argparse
import json

from jepa_vqa.cli import add_bench_arguments, add_run_arguments


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


def _bench_align(args: argparse.Namespace) -> int:
    from alignment.bench import bench_align, format_report

    report = bench_align(args.config, args.overrides, args.stage, args.steps, args.warmup, args.threads)
    print(json.dumps(report) if args.json else format_report(report))
    return 0


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's `jepa-vqa bench <what>` commands."""
    p = sub.add_parser("align", help="alignment answers/s, per-phase times, memory")
    p.add_argument("--stage", type=int, choices=(1, 2), default=2, help="which stage's steps (default 2)")
    add_bench_arguments(p, "a configs/align/*.yaml file", steps=5, warmup=1)
    p.set_defaults(func=_bench_align)
