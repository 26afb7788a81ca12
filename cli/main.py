"""The ``jepa-vqa`` command line: thin wrappers over library calls.

Each package contributes its commands from its own ``cli.py`` through two hooks:
``add_commands(subparsers)`` for top-level commands and ``add_bench_commands(subparsers)`` for
``jepa-vqa bench <what>``. A command's handler is ``args.func(args) -> int | None``.

Exit codes: 0 success, 2 bad input (one line on stderr, no traceback), 1 internal error.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from jepa_vqa import __version__
from jepa_vqa.cli import Parser, run_handler

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
    "cli.quickstart",
    "cli.results",
]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="jepa-vqa", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"jepa-vqa {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", parser_class=Parser)
    bench = sub.add_parser("bench", help="print performance figures")
    bench_sub = bench.add_subparsers(dest="what", metavar="<what>", parser_class=Parser)
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
    return run_handler(lambda: args.func(args))


if __name__ == "__main__":
    sys.exit(main())
