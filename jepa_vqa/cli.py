"""The ``jepa-vqa`` command line: thin wrappers over library calls.

Each package contributes its commands from its own ``cli.py`` through two hooks:
``add_commands(subparsers)`` for top-level commands and ``add_bench_commands(subparsers)`` for
``jepa-vqa bench <what>``. A command's handler is ``args.func(args) -> int | None``.

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from jepa_vqa import __version__
from jepa_vqa.errors import UserError

DESCRIPTION = (
    "Ask questions about videos: a JEPA video encoder + an LLM. "
    "Run 'jepa-vqa <command> -h' for the options of a command."
)
COMMAND_MODULES = [
    "worlds.cli",
    "encoder.cli",
    "vlm.cli",
    "alignment.cli",
    "eval.cli",
    "app.cli",
    "jepa_vqa.quickstart",
    "jepa_vqa.results",
]


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad usage in one line (exit 2) instead of usage + message."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jepa-vqa", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"jepa-vqa {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", parser_class=_Parser)
    bench = sub.add_parser("bench", help="print performance figures")
    bench_sub = bench.add_subparsers(dest="what", metavar="<what>", parser_class=_Parser)
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "add_commands"):
            module.add_commands(sub)
        if hasattr(module, "add_bench_commands"):
            module.add_bench_commands(bench_sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code = args.func(args)
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


if __name__ == "__main__":
    sys.exit(main())


def add_run_arguments(
    parser: argparse.ArgumentParser, config_help: str = "a YAML preset", out_help: str = "run dir"
) -> None:
    """``--config F --out DIR [k=v ...]``: the arguments of every training command."""
    parser.add_argument("--config", required=True, help=config_help)
    parser.add_argument("--out", required=True, help=out_help)
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="dotted config overrides")


def config_module_main(prog: str, description: str, run, argv: list[str] | None = None) -> int:
    """``python -m <module> --config F --out DIR [k=v ...]`` (what ``accelerate launch -m`` runs):
    parse, call ``run(config, out, overrides)``, and turn a ``UserError`` into one line and exit 2."""
    parser = _Parser(prog=prog, description=description)
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run(args.config, args.out, args.overrides)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
