"""The ``jepa-vqa eval`` command (registered by cli.main; also ``python -m eval.run``,
whose flags and handler live in :mod:`eval.run`).

jepa-vqa eval --model runs/align --task world-qa --data data/world-tiny --limit 64 --out runs/eval
jepa-vqa eval --task world-voe --model random:tiny --data data/world-tiny --out runs/voe
jepa-vqa eval --compare runs/eval runs/eval-blind-trained     # one markdown table
jepa-vqa eval --list                                          # the registered tasks
"""

from __future__ import annotations

import argparse

from eval.run import add_arguments, run_command


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``jepa-vqa eval``."""
    p = sub.add_parser("eval", help="evaluate a model on a task, with controls; write results and a report")
    add_arguments(p)
    p.set_defaults(func=run_command)


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """No ``bench`` commands: eval timings are in each results.json."""
