"""The ``jepa-vqa eval`` command (registered by jepa_vqa.cli; also ``python -m eval.run``).

jepa-vqa eval --model runs/align --task world-qa --data data/world-tiny --limit 64 --out runs/eval
jepa-vqa eval --task world-voe --model random:tiny --data data/world-tiny --out runs/voe
jepa-vqa eval --compare runs/eval runs/eval-blind-trained     # one markdown table
jepa-vqa eval --list                                          # the registered tasks
"""

from __future__ import annotations

import argparse

from vlm.inference import add_quantize_argument


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags shared by ``jepa-vqa eval`` and ``python -m eval.run``."""
    p.add_argument(
        "--model",
        help="model dir or Hub id (QA tasks); encoder dir or spec (world-voe, probe-*); "
        "default: the shipped default model",
    )
    p.add_argument("--task", help="task name (see --list)")
    p.add_argument("--data", help="dataset dir, file or Hugging Face dataset id")
    p.add_argument("--limit", type=int, help="evaluate only the first N examples")
    p.add_argument("--no-controls", action="store_true", help="skip the blind/shuffled/single-frame runs")
    p.add_argument("--out", help="output dir for results.json, samples.jsonl, report.md, plots")
    p.add_argument("--config", help="YAML preset (configs/eval/*.yaml)")
    p.add_argument("--compare", nargs="+", metavar="DIR", help="print one table across result dirs and exit")
    p.add_argument("--list", action="store_true", help="list the registered tasks and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_quantize_argument(p)
    p.add_argument("overrides", nargs="*", metavar="k=v", help="config overrides, e.g. batch_size=4")


def run_command(args: argparse.Namespace) -> int:
    """Handle parsed ``eval`` arguments; UserError on bad input."""
    from jepa_vqa.errors import UserError

    if args.list:
        from eval.registry import list_tasks

        for task in list_tasks():
            print(f"{task.name:24s} {task.runner:6s} {task.description}")
        return 0
    if args.compare:
        from eval.report import compare_table

        print(compare_table(args.compare))
        return 0
    if not args.task:
        raise UserError("--task is required (see `jepa-vqa eval --list`)")
    if not args.out:
        raise UserError("--out is required")
    from eval.config import EvalConfig
    from eval.registry import get_task
    from eval.run import evaluate_task
    from jepa_vqa.config import load_config

    get_task(args.task)  # fail fast on an unknown task, before loading anything heavy
    cfg = load_config(EvalConfig, args.config, args.overrides)
    if args.quantize:
        cfg.quantize = args.quantize
    results = evaluate_task(
        args.model,
        args.task,
        data=args.data,
        limit=args.limit,
        out_dir=args.out,
        controls=not args.no_controls,
        config=cfg,
        progress=not args.quiet,
    )
    if results:
        from eval.report import fmt, headline

        main, controls = headline(results)
        summary = ", ".join(f"{k} {fmt(v)}" for k, v in controls.items())
        print(f"{args.task}: {fmt(main)}" + (f" ({summary})" if summary else "") + f" -> {args.out}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Register ``jepa-vqa eval``."""
    p = sub.add_parser("eval", help="evaluate a model on a task, with controls; write results and a report")
    add_arguments(p)
    p.set_defaults(func=run_command)


def add_bench_commands(sub: argparse._SubParsersAction) -> None:
    """No ``bench`` commands: eval timings are in each results.json."""
