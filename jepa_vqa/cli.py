"""Command-line plumbing every package's ``cli.py`` shares: one-line errors, run arguments, exit codes.

The ``jepa-vqa`` console script itself lives in the entry package (:mod:`cli.main`); library
modules use :func:`config_module_main` for ``python -m <module> --config F --out DIR [k=v ...]``.

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from jepa_vqa.errors import UserError


class Parser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line (exit 2) instead of usage + message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message}\n")


def run_handler(handler: Callable[[], int | None]) -> int:
    """Call ``handler()`` under the exit-code policy: a ``UserError`` is one line and exit 2, an
    interrupt 130, any other exception one line and exit 1 (``JEPA_VQA_DEBUG=1`` re-raises it)."""
    try:
        code = handler()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, exit 1
        if os.environ.get("JEPA_VQA_DEBUG"):
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc} (set JEPA_VQA_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 1
    return int(code or 0)


def add_run_arguments(
    parser: argparse.ArgumentParser,
    config_help: str = "a YAML preset",
    out_help: str | None = "run dir",
    *,
    config_default: str | None = None,
    out_default: str | None = None,
) -> None:
    """``--config F --out DIR [k=v ...]``: the arguments of every training command. An option with
    a default is optional (its help may say ``%(default)s``); ``out_help=None`` leaves ``--out`` out."""
    parser.add_argument("--config", default=config_default, required=config_default is None, help=config_help)
    if out_help is not None:
        parser.add_argument("--out", default=out_default, required=out_default is None, help=out_help)
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides")


def add_bench_arguments(parser: argparse.ArgumentParser, config_help: str, steps: int, warmup: int) -> None:
    """``--config F [--steps N] [--warmup N] [--threads N] [--json] [k=v ...]``: a training bench."""
    parser.add_argument("--config", required=True, help=config_help)
    parser.add_argument(
        "--steps", type=int, default=steps, help="timed steps after warm-up (default %(default)s)"
    )
    parser.add_argument(
        "--warmup", type=int, default=warmup, help="untimed steps first (default %(default)s)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides")


def config_module_main(prog: str, description: str, run, argv: list[str] | None = None) -> int:
    """``python -m <module> --config F --out DIR [k=v ...]`` (what ``accelerate launch -m`` runs):
    parse, call ``run(config, out, overrides)``, and turn a ``UserError`` into one line and exit 2."""
    parser = Parser(prog=prog, description=description)
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run(args.config, args.out, args.overrides)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
