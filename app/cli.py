"""Command-line wrappers for `app` (registered by cli.main).

Usage:

    jepa-vqa demo [--model DIR_OR_HUB_ID] [--port 7860] [--host 127.0.0.1] [--precision auto|fp32|bf16]
"""

from __future__ import annotations

import argparse
import os

from vlm.inference import add_precision_argument


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's top-level commands."""
    p = sub.add_parser("demo", help="the Gradio app: ask questions about a video")
    p.add_argument("--model", default=None, help="model dir or Hub id (default: the shipped default model)")
    p.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0 for all; default local)")
    add_precision_argument(p)
    p.set_defaults(func=_demo)


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """Register this package's `jepa-vqa bench <what>` commands (none: see `bench answer`)."""


def _demo(args: argparse.Namespace) -> int:
    from jepa_vqa.errors import UserError

    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {args.port}")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    import torch

    from vlm.cli import _quiet_loading

    _quiet_loading()  # no weight-loading bars or library FutureWarnings at start

    from app.ui import serve
    from vlm.model import VideoQAModel, resolve_model

    # no --model: the shipped default (vlm.model.default_model_path), with a clear error if not built
    model = VideoQAModel.from_pretrained(
        resolve_model(args.model), precision=args.precision or "auto"
    )  # shared
    model.to("cuda" if torch.cuda.is_available() else "cpu")
    model.eval()
    try:
        serve(model, host=args.host, port=args.port)
    except OSError as exc:  # port busy, bad host
        raise UserError(f"cannot start the app on {args.host}:{args.port}: {exc}") from None
    return 0
