"""Command-line wrappers for `encoder` (registered by cli.main).

    jepa-vqa inspect clip.mp4                       # one JSON line: frames, fps, duration_s, ...
    jepa-vqa bench decode clip.mp4 --frames 16 --size 224 --repeat 5
    jepa-vqa pretrain --config configs/pretrain/tiny.yaml --out runs/jepa-tiny [k=v ...]
    jepa-vqa embed --encoder runs/jepa-tiny clip.mp4    # {"tokens": N, "dim": D, "seconds": s}
    jepa-vqa bench pretrain --config configs/pretrain/tiny.yaml [k=v ...]

Each command registers itself in its own small function; heavy imports happen inside handlers.
"""

from __future__ import annotations

import argparse
import json

from jepa_vqa.cli import add_bench_arguments, add_run_arguments


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's top-level commands."""
    _add_inspect(sub)
    _add_pretrain(sub)
    _add_embed(sub)


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's `jepa-vqa bench <what>` commands."""
    _add_bench_decode(sub)
    _add_bench_pretrain(sub)


# ---------------------------------------------------------------------------------------------
# inspect
# ---------------------------------------------------------------------------------------------
def _add_inspect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="print a video's frames, fps, duration, size, codec as JSON")
    p.add_argument("video", help="path to a video file")
    p.add_argument("--backend", default="auto", help="auto (default), decord or pyav")
    p.set_defaults(func=_run_inspect)


def _run_inspect(args: argparse.Namespace) -> int:
    from encoder.video import probe_video

    print(json.dumps(probe_video(args.video, backend=args.backend).to_dict()))
    return 0


# ---------------------------------------------------------------------------------------------
# bench decode
# ---------------------------------------------------------------------------------------------
def _add_bench_decode(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("decode", help="frames/s of sampling frames from a video, per backend")
    p.add_argument("video", help="path to a video file")
    p.add_argument("--frames", type=int, default=16, help="frames sampled per read (default 16)")
    p.add_argument("--size", type=int, default=None, help="resize + centre-crop to this size")
    p.add_argument("--repeat", type=int, default=5, help="timed reads per backend (median reported)")
    p.set_defaults(func=_run_bench_decode)


def _run_bench_decode(args: argparse.Namespace) -> int:
    from encoder.video import bench_decode

    for row in bench_decode(args.video, num_frames=args.frames, size=args.size, repeat=args.repeat):
        print(json.dumps(row))
    return 0


# ---------------------------------------------------------------------------------------------
# pretrain
# ---------------------------------------------------------------------------------------------
def _add_pretrain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="JEPA (or objective=mae) pretraining; resumes from DIR")
    add_run_arguments(p, "a configs/pretrain/*.yaml file", "run dir (resumed if it holds a checkpoint)")
    p.set_defaults(func=_run_pretrain)


def _run_pretrain(args: argparse.Namespace) -> int:
    from encoder.pretrain import run_from_args

    out = run_from_args(args.config, args.out, args.overrides)
    print(f"encoder: {out / 'encoder'}")
    return 0


# ---------------------------------------------------------------------------------------------
# embed
# ---------------------------------------------------------------------------------------------
def _add_embed(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="encode a video; print JSON: tokens, dim, seconds")
    p.add_argument("--encoder", required=True, help="run/encoder dir, vjepa2:<id or dir>, random:<preset>")
    p.add_argument("video", help="path to a video file")
    p.set_defaults(func=_run_embed)


def _run_embed(args: argparse.Namespace) -> int:
    from encoder.bench import embed_video

    print(json.dumps(embed_video(args.encoder, args.video)))
    return 0


# ---------------------------------------------------------------------------------------------
# bench pretrain
# ---------------------------------------------------------------------------------------------
def _add_bench_pretrain(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pretrain", help="pretraining clips/s, per-phase times, memory, FLOP/s")
    add_bench_arguments(p, "a configs/pretrain/*.yaml file", steps=10, warmup=2)
    p.add_argument(
        "--vs",
        default="",
        choices=["", "auto", "fp32", "bf16"],
        help="also step this precision, interleaved in the same run, and print the speed ratio",
    )
    p.set_defaults(func=_run_bench_pretrain)


def _run_bench_pretrain(args: argparse.Namespace) -> int:
    from encoder.bench import bench_pretrain, format_report

    report = bench_pretrain(args.config, args.overrides, args.steps, args.warmup, args.threads, args.vs)
    print(json.dumps(report) if args.json else format_report(report))
    return 0
