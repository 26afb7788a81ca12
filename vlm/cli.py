"""Command-line wrappers for `vlm` (registered by cli.main).

jepa-vqa ask [--model DIR_OR_HUB_ID] clip.mp4 "What colour is the ball?" [--option red --option blue]
jepa-vqa export --model DIR --out DIR [--merge | --no-merge]
jepa-vqa bench answer [--model DIR_OR_HUB_ID] [--video clip.mp4] [--runs 3] [--new-tokens 32] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from vlm.inference import add_precision_argument

BENCH_FALLBACK = ("random:tiny", "embedded:smollm2-135m-instruct")
EMPTY_ANSWER = "error: the model returned an empty answer (an untrained model? try more --max-new-tokens)"


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's top-level commands."""
    p = sub.add_parser("ask", help="answer a question about a video")
    p.add_argument("video", help="a video file")
    p.add_argument("question", help="the question (quote it)")
    p.add_argument("--model", default=None, help="model dir or Hub id (default: the shipped model)")
    p.add_argument(
        "--option",
        action="append",
        default=None,
        dest="options",
        help="a multiple-choice option (repeat for each)",
    )
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--no-stream", action="store_true", help="print the answer only when complete")
    add_precision_argument(p)
    p.set_defaults(func=_ask)

    p = sub.add_parser("export", help="write a standalone model dir (LoRA merged into the LLM)")
    p.add_argument("--model", required=True, help="model dir or Hub id")
    p.add_argument("--out", required=True, help="output dir")
    p.add_argument(
        "--merge",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="merge LoRA into the LLM weights (default) or keep the adapter apart",
    )
    p.set_defaults(func=_export)


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's `jepa-vqa bench <what>` commands."""
    p = sub.add_parser("answer", help="answer latency: decode/encode/prefill ms, TTFT, tokens/s, peak RSS")
    p.add_argument(
        "--model",
        default=None,
        help="model dir or Hub id (default: the shipped model, else random:tiny + embedded LLM)",
    )
    p.add_argument("--video", default=None, help="a clip (default: a generated 16-frame clip)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument(
        "--decoder",
        choices=("fast", "generate"),
        default="fast",
        help="fast: vlm.fastdecode for one greedy answer (the default path); generate: llm.generate",
    )
    add_precision_argument(p)
    p.set_defaults(func=_bench_answer)


def _check_video_file(path: str) -> None:
    """Fail fast (before loading a model) on a missing or undecodable video."""
    from encoder.video import probe_video
    from jepa_vqa.errors import UserError

    if Path(path).is_dir():
        raise UserError(f"{path} is a directory, not a video file")
    if not Path(path).is_file():
        raise UserError(f"video file not found: {path}")
    probe_video(path)  # VideoDecodeError (a UserError) names the file and the problem


def _quiet_loading() -> None:
    """No weight-loading progress bars on the command line: stdout/stderr stay one answer/one error."""
    import warnings

    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation notes, not for users


def _ask(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _quiet_loading()
    from jepa_vqa.errors import UserError
    from vlm.processor import format_question

    format_question(args.question, args.options)  # bad question / options: fail before loading
    _check_video_file(args.video)
    if not 1 <= args.max_new_tokens <= 4096:
        raise UserError(f"--max-new-tokens must be in 1..4096, got {args.max_new_tokens}")
    from vlm.model import VideoQAModel, resolve_model

    model = VideoQAModel.from_pretrained(resolve_model(args.model), precision=args.precision or "auto")
    frames = model.load_frames(args.video)  # bad video: VideoDecodeError (exit 2) before generating
    gen = {"max_new_tokens": args.max_new_tokens}
    if args.no_stream:
        answer = model.answer(frames, args.question, options=args.options, **gen).strip()
        print(answer)
    else:
        answer = ""
        for piece in model.stream_answer(frames, args.question, options=args.options, **gen):
            answer += piece
            print(piece, end="", flush=True)
        print()
    if not answer.strip():
        print(EMPTY_ANSWER, file=sys.stderr)
        return 1
    return 0


def _export(args: argparse.Namespace) -> int:
    _quiet_loading()
    from vlm.model import VideoQAModel

    model = VideoQAModel.from_pretrained(args.model)
    out = model.export(args.out, merge=args.merge)
    print(f"wrote {out}")
    return 0


def _bench_answer(args: argparse.Namespace) -> int:
    import tempfile

    from jepa_vqa.errors import UserError
    from vlm.bench import bench_answer, write_test_clip
    from vlm.model import VideoQAModel, default_model_path

    _quiet_loading()
    if args.runs < 1 or args.new_tokens < 2:
        raise UserError("--runs must be >= 1 and --new-tokens >= 2")
    if args.threads is not None:
        if args.threads < 1:
            raise UserError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    if args.video is not None:
        _check_video_file(args.video)
    if args.model is not None:
        model = VideoQAModel.from_pretrained(args.model, precision=args.precision or "auto")
    elif (default_model_path() / "config.json").is_file():
        model = VideoQAModel.from_pretrained(default_model_path(), precision=args.precision or "auto")
    else:
        model = VideoQAModel.build(*BENCH_FALLBACK)
    with tempfile.TemporaryDirectory() as tmp:
        video = args.video or write_test_clip(Path(tmp) / "clip.mp4", num_frames=16)
        print(json.dumps(bench_answer(model, video, args.runs, args.new_tokens, fast=args.decoder == "fast")))
    return 0
