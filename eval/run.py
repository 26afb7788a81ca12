"""Run one evaluation task and write ``results.json``, ``samples.jsonl``, ``report.md`` and plots.

    jepa-vqa eval --model runs/align --task world-qa --data data/world-tiny --out runs/eval
    python -m eval.run --model runs/align --task world-qa --data data/world-tiny --limit 64 --out runs/eval
    accelerate launch --multi_gpu --num_processes 2 -m eval.run --task world-qa ...   # sharded, same results

From Python: ``evaluate_task(model_or_spec, "world-qa", data=..., out_dir=...) -> results dict``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from eval.config import EvalConfig
from eval.distributed import barrier, current
from eval.registry import Task, get_task, list_tasks
from jepa_vqa.config import load_config, to_dict
from jepa_vqa.errors import UserError
from vlm.inference import add_precision_argument, llm_dtype


def default_model_spec() -> str:
    """The shipped default model (``vlm.model.default_model_path()``), or a UserError saying how to get one."""
    try:
        from vlm.model import default_model_path
    except ImportError:
        raise UserError(
            "no --model given and no default model is available (vlm.model.default_model_path "
            "is missing); pass --model DIR_OR_HUB_ID"
        ) from None
    path = default_model_path()
    if path is None or not (Path(path) / "config.json").is_file():
        raise UserError(
            f"no --model given and the default model is not installed ({path}); "
            "run `make default-model` or pass --model DIR_OR_HUB_ID"
        )
    return str(path)


def load_model(model_or_spec, device: str = "cpu", precision: str = "auto"):
    """A ``VideoQAModel`` from a dir/Hub id (or the default when None) on ``device``, its LLM in
    ``precision``; objects pass through."""
    if model_or_spec is not None and not isinstance(model_or_spec, (str, Path)):
        return model_or_spec
    spec = str(model_or_spec) if model_or_spec is not None else default_model_spec()
    from vlm.model import VideoQAModel

    model = VideoQAModel.from_pretrained(spec, dtype=llm_dtype(precision, device))
    return model.to(device).eval()


def model_id(model, spec) -> str:
    if isinstance(spec, (str, Path)):
        return str(spec)
    describe = getattr(model, "describe", None)
    if callable(describe):
        info = describe()
        return str(info.get("model") or info)
    return type(model).__name__


def encoder_spec(model_or_spec) -> str:
    """The encoder a voe/probe task runs on: an encoder dir/spec, or the encoder of a VideoQA model."""
    if isinstance(model_or_spec, (str, Path)):
        return _encoder_of_model_dir(Path(model_or_spec)) or str(model_or_spec)
    if model_or_spec is None:
        model_or_spec = load_model(None)
    enc = getattr(model_or_spec, "encoder", None)
    if enc is not None and getattr(enc, "spec", None):
        return str(enc.spec)
    raise UserError("world-voe and probe tasks need --model: an encoder dir or spec (e.g. random:tiny)")


def _encoder_of_model_dir(path: Path) -> str | None:
    """The encoder spec saved in a VideoQA model dir's config.json (its pretrain run for surprise)."""
    import json

    config = path / "config.json"
    if not config.is_file():
        return None
    try:
        data = json.loads(config.read_text())
    except json.JSONDecodeError:
        return None
    if data.get("format") == "jepa-vqa" and (path / "encoder.safetensors").is_file():
        return str(path)  # the model dir bundles its encoder (and world_model/ for surprise)
    if data.get("format") == "jepa-vqa" and isinstance(data.get("encoder"), str):
        return data["encoder"]
    return None


def _answer_pool(task: Task, data: str | None):
    """Train-split examples for the majority baseline (qa.jsonl datasets only)."""
    from eval.loaders import load_qa_jsonl

    if task.loader is not load_qa_jsonl or task.split == "train":
        return None
    try:
        return load_qa_jsonl(data, "train")
    except UserError:
        return None


def _of_types(examples: list, types: list[str]) -> list:
    """The examples whose question type is in ``types``; a type the data lacks is a UserError."""
    present = sorted({ex.type for ex in examples})
    missing = [t for t in types if t not in present]
    if missing:
        raise UserError(f"question_types {missing} are not in the data (its types: {', '.join(present)})")
    return [ex for ex in examples if ex.type in types]


def _attach_scenes(examples: list, data: str | None) -> None:
    """Give each example its clip's ground-truth description (for a model trained on descriptions)."""
    from worlds.qa import scene_descriptions

    scenes = scene_descriptions(data) if data and Path(data).is_dir() else {}
    for ex in examples:
        ex.scene = scenes.get(ex.video)


def _run_qa(task, model_or_spec, data, limit, cfg, out, dist, progress) -> tuple[dict, list[dict] | None]:
    from eval.plots import accuracy_bars
    from eval.qa import run_qa

    examples = task.load(data)
    if cfg.question_types:
        examples = _of_types(examples, cfg.question_types)
    if limit is not None:
        examples = examples[:limit]
    model = load_model(model_or_spec, dist.device, cfg.precision)
    if getattr(getattr(model, "config", None), "perception", "video") == "description":
        _attach_scenes(examples, data)
    metrics, samples, timings = run_qa(model, examples, cfg, dist, _answer_pool(task, data), progress)
    if not dist.is_main:
        return {}, None
    conds = metrics["conditions"]
    results = {
        "runner": "qa",
        "model": model_id(model, model_or_spec),
        "num_examples": len(examples),
        "metrics": conds["model"],
        "controls": {**{k: v for k, v in conds.items() if k != "model"}, **metrics["baselines"]},
        "generation": metrics["generation"],
        "timings": timings,
    }
    from eval.report import qa_series

    plot = accuracy_bars(qa_series(results), out / "accuracy.png", f"{task.name}: accuracy with controls")
    results["plots"] = [plot.name]
    return results, samples


def _run_voe(task, model_or_spec, data, limit, cfg, out, dist, progress) -> tuple[dict, list[dict] | None]:
    from eval.plots import surprise_curves
    from eval.voe import load_pairs, run_voe

    if not data:
        raise UserError(f"task '{task.name}' needs --data ({task.needs_data})")
    pairs = load_pairs(data, cfg.voe_split)
    if limit is not None:
        pairs = pairs[:limit]
    spec = encoder_spec(model_or_spec)
    metrics, rows, timings = run_voe(spec, pairs, cfg.voe_reduce, cfg.n_boot, cfg.seed, dist, progress)
    if not dist.is_main:
        return {}, None
    plot = surprise_curves(rows, out / "surprise_curves.png", f"{task.name}: {spec}")
    return {
        "runner": "voe",
        "model": spec,
        "num_examples": len(pairs),
        "metrics": metrics,
        "controls": {"chance": metrics["baselines"]["chance"]},
        "timings": timings,
        "plots": [plot.name],
    }, rows


def _run_probe(task, model_or_spec, data, limit, cfg, out, dist, progress) -> tuple[dict, list[dict] | None]:
    from eval.probes import run_probe

    if not data:
        raise UserError(f"task '{task.name}' needs --data ({task.needs_data})")
    spec = encoder_spec(model_or_spec)
    start = time.perf_counter()
    metrics = (
        run_probe(spec, data, task.label, seed=cfg.seed, n_boot=cfg.n_boot, **cfg.probe)
        if dist.is_main
        else None
    )
    if not dist.is_main:
        return {}, None
    return {
        "runner": "probe",
        "model": spec,
        "num_examples": metrics["num_test"],
        "metrics": metrics,
        "controls": metrics["baselines"],
        "timings": {"probe_s": time.perf_counter() - start},
    }, None


RUNNERS = {"qa": _run_qa, "voe": _run_voe, "probe": _run_probe}


def evaluate_task(
    model_or_spec,
    task: str,
    data: str | None = None,
    limit: int | None = None,
    out_dir: str | Path = "runs/eval",
    controls: bool = True,
    config: EvalConfig | None = None,
    progress: bool = True,
) -> dict:
    """Run ``task`` and write its outputs to ``out_dir``; returns the results dict (empty off rank 0)."""
    from eval.report import git_commit, write_report, write_results, write_samples
    from jepa_vqa.precision import hardware_info

    cfg = config or EvalConfig()
    if not controls:
        cfg.controls = []
        cfg.baselines = False
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be >= 1, got {limit}")
    spec = get_task(task)
    dist = current()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    if dist.is_main:
        out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results, samples = RUNNERS[spec.runner](spec, model_or_spec, data, limit, cfg, out, dist, progress)
    barrier(dist)
    if not dist.is_main:
        return {}
    results = {
        "task": task,
        **results,
        "data": None if data is None else str(data),
        "limit": limit,
        "config": to_dict(cfg),
        "git_commit": git_commit(),
        "hardware": hardware_info(),
    }
    results["timings"]["total_s"] = time.perf_counter() - start
    results["timings"].setdefault("num_processes", dist.world_size)
    if samples is not None:
        write_samples(out, samples)
    write_report(out, results)
    write_results(out, results)
    return results


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
    add_precision_argument(p)
    p.add_argument("overrides", nargs="*", metavar="k=v", help="config overrides, e.g. batch_size=4")


def run_command(args: argparse.Namespace) -> int:
    """Handle parsed ``eval`` arguments; UserError on bad input."""
    if args.list:
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
    get_task(args.task)  # fail fast on an unknown task, before loading anything heavy
    cfg = load_config(EvalConfig, args.config, args.overrides)
    if args.precision:
        cfg.precision = args.precision
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


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.run ...`` (and ``accelerate launch -m eval.run ...``): same flags as ``jepa-vqa eval``."""
    parser = argparse.ArgumentParser(prog="python -m eval.run", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return int(run_command(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
