"""Alignment throughput: answers per second of real training steps, phase by phase.

    jepa-vqa bench align --config configs/align/tiny.yaml [--stage 2] [--steps 5] [k=v ...]

The same model, batches, precision and optimiser as ``jepa-vqa align``, on the config's first
clips (their encoder tokens are cached first, timed apart): each step is timed as batch assembly,
projector, LLM forward, loss (the rest of the forward), backward and optimizer. The report holds
the median step, answers/s (answers trained on per second: a stage-2 row holds several
questions), tokens per step, peak memory, the precision and the hardware.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch

from encoder.bench import PhaseTimer, peak_memory_mb, timed
from jepa_vqa.errors import UserError
from jepa_vqa.precision import autocast, hardware_info, resolve_precision

PHASES = ("batch", "projector", "llm forward", "loss", "backward", "optimizer")


def answers_in(labels: torch.Tensor) -> int:
    """Answer spans in ``labels`` (B, L): runs of positions that are not -100."""
    target = labels != -100  # (B, L)
    starts = target[:, 1:] & ~target[:, :-1]  # (B, L-1): a span begins after a prompt token
    return int(starts.sum() + target[:, 0].sum())


def _setup(cfg, stage: int, clips: int, cache_dir: Path, device: torch.device, precision: str):
    """(model, batches, optimizer, seconds spent caching) for the first ``clips`` clips of ``stage``."""
    from alignment.batches import Batches, fit_projector_inputs
    from alignment.cache import FeatureCache
    from alignment.data import load_scenes
    from alignment.model import build_model, set_stage, trainable_parameters
    from alignment.train import _datasets, _first_clips, _optimizer

    if stage == 1 and cfg.stage1.data == "grounding":
        raise UserError(
            "stage1.data=grounding runs no LLM (the align progress bar shows its steps/s); "
            "bench align times the LLM stages: --stage 2, or stage 1 with stage1.data=descriptions"
        )
    stage1_ds, qa_ds = _datasets(cfg)
    ds = qa_ds if stage == 2 or stage1_ds is None else stage1_ds
    ds = _first_clips(ds, clips)
    model = build_model(cfg, precision).to(device)
    cache, t0 = None, time.perf_counter()
    if cfg.use_cache:
        cache = FeatureCache(model, cfg.train.cache_dir or cache_dir)
        cache.build(list(ds["video"]), cfg.train.encode_batch_size, progress=False)
    cache_seconds = time.perf_counter() - t0
    if cfg.sees_video:
        fit_projector_inputs(model, list(ds["video"]), cache)
    kind = "qa" if stage == 2 else cfg.stage1.data
    scenes = load_scenes(cfg.data.path) if cfg.perception == "description" else None
    batches = Batches(model, ds, cache, kind, False, cfg.questions_per_row(stage), scenes)
    set_stage(model, stage)
    model.train()
    return model, batches, _optimizer(cfg, trainable_parameters(model)), cache_seconds


def bench_align(
    config: str, overrides: list[str], stage: int = 2, steps: int = 5, warmup: int = 1, threads: int = 2
) -> dict:
    """Time ``steps`` alignment steps of ``stage`` (after ``warmup`` untimed ones)."""
    from alignment.config import AlignConfig
    from jepa_vqa.config import load_config

    torch.set_num_threads(threads)
    cfg = load_config(AlignConfig, config, overrides)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    precision = resolve_precision(cfg.train.precision, device)
    size = (cfg.stage1.batch_size or cfg.train.batch_size) if stage == 1 else cfg.train.batch_size
    with tempfile.TemporaryDirectory() as tmp:
        model, batches, opt, cache_seconds = _setup(
            cfg, stage, (steps + warmup) * size, Path(tmp), device, precision
        )
        params = [p for group in opt.param_groups for p in group["params"]]
        timer = PhaseTimer({"projector": [model.projector], "llm forward": [model.llm]}, device)
        per_step, answers, tokens = [], [], []
        for step in range(warmup + steps):
            times: dict[str, float] = {}
            idx = [i % len(batches) for i in range(step * size, (step + 1) * size)]
            t0 = time.perf_counter()
            with timed(times, "batch", device):
                batch = batches(idx)
            with timed(times, "forward", device), autocast(precision, device):
                loss = model(batch)
            opt.zero_grad(set_to_none=True)
            with timed(times, "backward", device):
                loss.backward()
            with timed(times, "optimizer", device):
                torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip)
                opt.step()
            times["step"] = time.perf_counter() - t0
            times.update(timer.take())
            times["loss"] = times.pop("forward") - times.get("projector", 0.0) - times["llm forward"]
            if step >= warmup:
                per_step.append(times)
                answers.append(answers_in(batch["labels"]))
                tokens.append(int(batch["labels"].numel()))
        timer.remove()
    step_s = statistics.median(t["step"] for t in per_step)
    return {
        "bench": "align",
        "stage": stage,
        "rows_per_step": size,
        "answers_per_step": statistics.median(answers),
        "tokens_per_step": statistics.median(tokens),
        "step_ms": round(step_s * 1000, 1),
        "answers_per_s": round(statistics.median(answers) / step_s, 2),
        "phases_ms": {p: round(statistics.median(t.get(p, 0.0) for t in per_step) * 1000, 1) for p in PHASES},
        "cache_seconds": round(cache_seconds, 1),
        "peak_memory_mb": round(peak_memory_mb(device), 1),
        "precision": precision,
        "device": device.type,
        "hardware": hardware_info(),
    }


def format_report(r: dict) -> str:
    """The report as a few readable lines."""
    hw = r["hardware"]
    phases = ", ".join(f"{k} {v:.0f}" for k, v in r["phases_ms"].items())
    return "\n".join(
        [
            f"bench align (stage {r['stage']}) on {r['device']} ({hw['cpu']}, {' '.join(hw['cpu_flags'])}), "
            f"{hw['threads']} threads, {r['precision']}",
            f"{r['answers_per_s']} answers/s: {r['step_ms']:.0f} ms/step of {r['rows_per_step']} rows, "
            f"{r['answers_per_step']} answers, {r['tokens_per_step']} tokens",
            f"phases (ms, median): {phases}",
            f"peak memory {r['peak_memory_mb']:.0f} MiB; caching the clips' tokens took {r['cache_seconds']} s",
        ]
    )
