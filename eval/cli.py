"""The ``jepa-vqa eval`` command (registered by cli.main; also ``python -m eval.run``,
whose flags and handler live in :mod:`eval.run`).

jepa-vqa eval --model runs/align --task world-qa --data data/world-tiny --limit 64 --out runs/eval
jepa-vqa eval --task world-voe --model random:tiny --data data/world-tiny --out runs/voe
jepa-vqa eval --compare runs/eval runs/eval-blind-trained     # one markdown table
jepa-vqa eval --list                                          # the registered tasks
jepa-vqa bench eval --model checkpoints/default --data runs/world-seed7   # questions/s per condition
"""

from __future__ import annotations

import argparse

from eval.run import add_arguments, run_command
from vlm.inference import add_precision_argument


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``jepa-vqa eval``."""
    p = sub.add_parser("eval", help="evaluate a model on a task, with controls; write results and a report")
    add_arguments(p)
    p.set_defaults(func=run_command)


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``jepa-vqa bench eval`` (each eval's own timings are in its results.json)."""
    p = sub.add_parser(
        "eval", help="QA eval questions/s per condition: a clip's questions in one row vs one each"
    )
    p.add_argument("--model", default=None, help="model dir or Hub id (default: the shipped default model)")
    p.add_argument("--data", required=True, help="a worlds dataset dir (its test split)")
    p.add_argument("--task", default="world-qa", help="a QA task (default: %(default)s)")
    p.add_argument("--limit", type=int, default=96, help="the first N test questions (default: %(default)s)")
    p.add_argument(
        "--rounds", type=int, default=2, help="interleaved timed passes per setting (default: %(default)s)"
    )
    p.add_argument(
        "--batch-size", type=int, default=8, help="questions per batch, as eval's (default: %(default)s)"
    )
    p.add_argument(
        "--questions-per-row",
        type=int,
        default=8,
        help="most questions of a clip in one row (default: %(default)s)",
    )
    p.add_argument(
        "--generation", action="store_true", help="also time free generation (the model condition)"
    )
    add_precision_argument(p)
    p.set_defaults(func=_bench_eval)


def _bench_eval(args: argparse.Namespace) -> int:
    import json

    from eval.bench import bench_eval
    from eval.registry import get_task
    from eval.run import load_model
    from jepa_vqa.errors import UserError

    if min(args.rounds, args.batch_size, args.questions_per_row) < 1 or args.limit < args.batch_size:
        raise UserError(
            "--rounds, --batch-size and --questions-per-row must be >= 1, and --limit >= --batch-size"
        )
    task = get_task(args.task)
    if task.runner != "qa":
        raise UserError(f"bench eval times QA tasks; '{args.task}' is a {task.runner} task")
    examples = task.load(args.data)[: args.limit]
    model = load_model(args.model, "cpu", args.precision or "fp32")
    result = bench_eval(
        model, examples, args.rounds, args.questions_per_row, args.batch_size, args.generation
    )
    print(json.dumps(result))
    return 0
