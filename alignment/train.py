"""Alignment training: stage 1 trains the projector alone on scene descriptions, stage 2 trains
projector + LoRA on the QA train split. The encoder is frozen (its tokens are cached per clip)
unless ``encoder_tuning.last_blocks`` > 0. Resumes exactly from ``OUT/checkpoint``.

    jepa-vqa align --config configs/align/tiny.yaml --out runs/align-tiny
    python -m alignment.train --config configs/align/test.yaml --out /tmp/a train.steps=4
    accelerate launch --multi_gpu --num_processes 2 -m alignment.train --config F --out DIR

(on a CPU-only machine ``--multi_gpu`` starts 2 gloo processes through torchrun; ``--cpu`` would
start one.)

``OUT`` ends up as a model dir (``VideoQAModel.from_pretrained(OUT)``) that also holds
``align_config.yaml``, ``metrics.jsonl``, ``loss.png``, ``checkpoint/`` and ``cache/``.
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from alignment.batches import Batches, fit_projector_inputs
from alignment.cache import FeatureCache
from alignment.config import AlignConfig
from alignment.data import load_descriptions, load_qa, load_scenes
from alignment.grounding import GroundingBatches, grounding_loss
from alignment.model import build_model, set_stage, trainable_parameters
from jepa_vqa.config import load_config, save_config, to_dict
from jepa_vqa.precision import autocast, resolve_precision
from jepa_vqa.sampler import batch_indices
from jepa_vqa.training import (
    MetricsLogger,
    check_resumable,
    find_checkpoint,
    flat_config,
    load_checkpoint,
    plot_metrics,
    save_checkpoint,
    set_seed,
    warmup_cosine,
)

__all__ = ["AlignConfig", "Batches", "fit_projector_inputs", "train"]


def _first_clips(ds, n: int):
    """Rows of ``ds`` whose video is among its first ``n`` distinct videos (all when n == 0)."""
    if not n:
        return ds
    keep = set(list(dict.fromkeys(ds["video"]))[:n])
    return ds.filter(lambda v: v in keep, input_columns="video", desc=f"first {n} clips")


def _datasets(cfg: AlignConfig):
    """(stage-1 dataset or None, stage-2 QA dataset)."""
    qa = _first_clips(load_qa(cfg.data.path, cfg.data.split), cfg.data.max_clips)
    stage1 = None
    if not cfg.sees_video:
        return None, qa
    if cfg.stage1.steps > 0 and cfg.stage1.data == "descriptions":
        videos = set(qa["video"])  # describe the same clips stage 2 asks about
        stage1 = load_descriptions(cfg.data.path, cfg.data.split)
        stage1 = stage1.filter(lambda v: v in videos, input_columns="video", desc="clips with questions")
    elif cfg.stage1.steps > 0 and cfg.stage1.data == "qa":
        stage1 = qa
    return stage1, qa


def _lr(cfg: AlignConfig, step: int) -> float:
    """Warmup + cosine within each stage; a pure function of the step (exact resume)."""
    s1 = cfg.stage1.steps
    if step < s1:
        return warmup_cosine(step, s1, cfg.stage1.lr, min(cfg.train.warmup, s1 // 2), 0.1)
    n2 = cfg.train.steps - s1
    return warmup_cosine(step - s1, n2, cfg.stage2.lr, min(cfg.train.warmup, n2 // 2), 0.1)


def _optimizer(cfg: AlignConfig, groups: dict[str, list[torch.nn.Parameter]]) -> torch.optim.AdamW:
    param_groups = [
        {"params": ps, "name": name, "weight_decay": cfg.train.weight_decay}
        for name, ps in groups.items()
        if ps
    ]
    return torch.optim.AdamW(param_groups, lr=cfg.stage1.lr)


def _set_lr(cfg: AlignConfig, opt: torch.optim.Optimizer, step: int) -> float:
    """Set this step's lr on every group: all follow one curve, scaled to the encoder's lr for
    unfrozen encoder blocks and, in stage 2, to ``stage2.projector_lr`` for the projector."""
    lr = _lr(cfg, step)
    stage2 = step >= cfg.stage1.steps
    base = cfg.stage2.lr if stage2 else cfg.stage1.lr
    peak = {"encoder": cfg.encoder_tuning.lr}
    if stage2 and cfg.stage2.projector_lr:
        peak["projector"] = cfg.stage2.projector_lr
    for group in opt.param_groups:
        group["lr"] = peak.get(group["name"], base) * lr / base
    return lr


def _sync_grads(accelerator, params: list[torch.nn.Parameter]) -> None:
    """Average gradients over processes (one flat all-reduce; a no-op for one process)."""
    if accelerator.num_processes == 1:
        return
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return
    flat = torch.cat([p.grad.flatten() for p in with_grad])
    flat = accelerator.reduce(flat, reduction="mean")
    offset = 0
    for p in with_grad:
        n = p.grad.numel()
        p.grad.copy_(flat[offset : offset + n].view_as(p.grad))
        offset += n


def hardware() -> str:
    """One line naming the accelerator (or CPU) this process trained on."""
    if torch.cuda.is_available():
        return f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def save_model_into(model, out: Path, card: dict) -> None:
    """``model.save_pretrained`` into the run dir ``out`` itself, next to the run's own files.

    The model is written to a temp dir first, then moved in file by file, config.json last, so
    ``out`` never looks like a complete model dir before it is one.
    """
    tmp = out.parent / f".{out.name}.model-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, card=card)
    names = sorted(p.name for p in tmp.iterdir())
    for name in [n for n in names if n != "config.json"] + ["config.json"]:
        dst = out / name
        if dst.is_dir():
            shutil.rmtree(dst)
        os.replace(tmp / name, dst)
    shutil.rmtree(tmp, ignore_errors=True)


def _grounded_words(cfg: AlignConfig) -> str:
    """What the grounded stage 1 taught, for the model card."""
    slots = " and every object's words in a slot" if cfg.projector.kind == "slots" else ""
    count = " and the number of objects" if cfg.projector.count_token else ""
    count += " and of objects of each colour and shape" if cfg.projector.count_words else ""
    return f"clips, every cell's object words{slots}{count}"


def _card(cfg: AlignConfig, stats: dict) -> dict:
    """Model-card facts (vlm.card renders them into README.md and config.json keeps them)."""
    s1, s2 = cfg.stage1.steps, cfg.train.steps - cfg.stage1.steps
    return {
        "training_data": {
            "dataset": cfg.data.path,
            "synthetic_world_only": (Path(cfg.data.path) / "world.json").is_file(),
            "stage 1": f"{s1} steps, projector only, {stats['stage1_examples']} "
            + (f"{cfg.stage1.data} pairs" if cfg.stage1.data != "grounding" else _grounded_words(cfg)),
            "stage 2": f"{s2} steps, projector + LoRA, {stats['stage2_examples']} QA pairs (split {cfg.data.split})",
        },
        "training": {
            "final loss": round(stats["final_loss"], 4),
            "stage 1 final loss": stats["stage1_loss"],
            "batch": f"{cfg.stage1.batch_size or cfg.train.batch_size} (stage 1) / {cfg.train.batch_size} (stage 2) "
            f"per process x {stats['processes']} processes",
            "training time": f"{stats['seconds'] / 60:.1f} min (feature caching {stats['cache_seconds']:.0f} s)",
            "hardware": stats["hardware"],
            "curves": "loss.png, metrics.jsonl",
        },
        "alignment_config": to_dict(cfg),
    }


_VOLATILE = (
    "train.stop_at",
    "train.log_every",
    "train.checkpoint_every",
    "train.cache_dir",
    "train.encode_batch_size",
    "train.pad_multiple",
)


def run_identity(cfg: AlignConfig) -> dict:
    """The config as flat ``{"a.b": value}``, minus keys that may change between resumed runs
    (they do not change what is trained)."""
    return flat_config(to_dict(cfg), _VOLATILE)


def train(cfg: AlignConfig, out_dir: str | Path) -> Path:
    """Run (or resume) alignment into ``out_dir``; return it, now a loadable model dir."""
    from accelerate import Accelerator
    from safetensors.torch import load_file

    accelerator = Accelerator(cpu=not torch.cuda.is_available())  # CPU under torchrun: gloo ranks
    precision = resolve_precision(cfg.train.precision, accelerator.device)  # weights stay fp32
    out = Path(out_dir)
    rank, world, is_main = accelerator.process_index, accelerator.num_processes, accelerator.is_main_process
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
        save_config(cfg, out / "align_config.yaml")
    set_seed(cfg.seed)
    t_start = time.time()

    # 1. Data and model (LoRA attached from the start; the stage decides what trains).
    stage1_ds, qa_ds = _datasets(cfg)
    model = build_model(cfg, precision)
    model.to(accelerator.device)

    # 2. Encoder tokens: computed once per clip and cached when the encoder is frozen.
    cache, t_cache = None, time.time()
    if cfg.use_cache:
        cache = FeatureCache(model, cfg.train.cache_dir or out / "cache")
        videos = list(qa_ds["video"]) + (list(stage1_ds["video"]) if stage1_ds is not None else [])
        cache.build(
            videos, cfg.train.encode_batch_size, rank, world, accelerator.wait_for_everyone, progress=is_main
        )
    cache_seconds = time.time() - t_cache
    scenes = load_scenes(cfg.data.path) if cfg.perception == "description" else None
    if cfg.sees_video:
        fit_projector_inputs(model, list(qa_ds["video"]), cache)
    batches = {
        2: Batches(
            model,
            qa_ds,
            cache,
            "qa",
            is_main,
            cfg.questions_per_row(2),
            scenes,
            cfg.stage2.open_fraction,
            cfg.train.pad_multiple,
        )
    }
    batches[1] = None
    if stage1_ds is not None:
        batches[1] = Batches(
            model,
            stage1_ds,
            cache,
            cfg.stage1.data,
            is_main,
            cfg.questions_per_row(1),
            pad_multiple=cfg.train.pad_multiple,
        )
    elif cfg.sees_video and cfg.stage1.steps > 0 and cfg.stage1.data == "grounding":
        batches[1] = GroundingBatches(
            model, list(qa_ds["video"]), cfg.data.path, cfg.data.split, cache, cfg.stage1.empty_apart
        )

    # 3. Optimiser over projector + LoRA (+ unfrozen encoder blocks); resume from OUT/checkpoint.
    groups = trainable_parameters(model)
    params = [p for ps in groups.values() for p in ps]
    ids = {id(p) for p in params}
    named = {n: p for n, p in model.named_parameters() if id(p) in ids}
    opt = _optimizer(cfg, groups)
    start, state = cfg.first_step, {}
    ckpt = find_checkpoint(out)
    if ckpt is not None:
        state = load_checkpoint(ckpt, modules={}, optimizer=opt)
        saved = load_file(str(ckpt / "trainable.safetensors"))
        with torch.no_grad():
            for name, p in named.items():
                p.copy_(saved[name])
        start = state["step"]
        check_resumable(state.get("config", {}), run_identity(cfg), ckpt)
    log = MetricsLogger(
        out / "metrics.jsonl", enabled=is_main, resume_step=start if ckpt is not None else None
    )

    # 4. The loop: batch -> loss -> backward -> all-reduce grads -> clip -> step.
    model.train()
    end = cfg.train.stop_at or cfg.train.steps
    bar = tqdm(
        range(start, end),
        desc="align",
        unit="step",
        disable=not is_main,
        initial=start,
        total=cfg.train.steps,
    )
    loss_value, stage1_loss, stage = state.get("loss", math.nan), state.get("stage1_loss"), 0
    for step in bar:
        if (1 if step < cfg.stage1.steps else 2) != stage:
            stage = 1 if step < cfg.stage1.steps else 2
            set_stage(model, stage)
        local = step if stage == 1 else step - cfg.stage1.steps
        size = (cfg.stage1.batch_size or cfg.train.batch_size) if stage == 1 else cfg.train.batch_size
        idx = batch_indices(len(batches[stage]), local, size, rank, world, cfg.seed + stage)
        batch = batches[stage](idx)
        lr = _set_lr(cfg, opt, step)
        with autocast(precision, accelerator.device):
            grounded = stage == 1 and cfg.stage1.data == "grounding"
            loss = grounding_loss(model, batch, batches[1].word_tables) if grounded else model(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        _sync_grads(accelerator, params)
        grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.train.grad_clip).item()
        opt.step()
        loss_value = accelerator.reduce(loss.detach(), reduction="mean").item()
        if step == cfg.stage1.steps - 1:
            stage1_loss = round(loss_value, 4)
        bar.set_postfix(stage=stage, loss=f"{loss_value:.3f}")
        if (step + 1) % cfg.train.log_every == 0 or step + 1 == cfg.train.steps:
            log.log(step + 1, loss=loss_value, lr=lr, stage=stage, grad_norm=grad_norm)
        if (step + 1) % cfg.train.checkpoint_every == 0 or step + 1 == end:
            accelerator.wait_for_everyone()
            if is_main:
                seconds = state.get("seconds", 0.0) + time.time() - t_start
                save_checkpoint(
                    out,
                    step + 1,
                    {"trainable": dict(named)},
                    optimizer=opt,
                    state={
                        "stage1_loss": stage1_loss,
                        "loss": loss_value,
                        "seconds": seconds,
                        "config": run_identity(cfg),
                    },
                )
    bar.close()
    log.close()

    # 5. The final model dir (weights, adapter, tokenizer, card) in OUT, plus the loss curve.
    accelerator.wait_for_everyone()
    if is_main and end < cfg.train.steps:
        print(
            f"stopped at step {end} of {cfg.train.steps}: run the same command again to resume",
            file=sys.stderr,
        )
    elif is_main:
        set_stage(model, 2)
        plot_metrics(out / "metrics.jsonl", out / "loss.png", ["loss", "lr"])
        stats = {
            "stage1_examples": len(stage1_ds) if stage1_ds is not None else len(batches[1] or []),
            "stage2_examples": len(qa_ds),
            "processes": world,
            "final_loss": loss_value,
            "stage1_loss": stage1_loss,
            "seconds": state.get("seconds", 0.0) + time.time() - t_start,
            "cache_seconds": cache_seconds,
            "hardware": hardware(),
        }
        save_model_into(model, out, _card(cfg, stats))
    accelerator.wait_for_everyone()
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m alignment.train`` (what ``accelerate launch -m alignment.train`` runs)."""
    from jepa_vqa.cli import config_module_main

    def run(config: str, out: str, overrides: list[str]) -> Path:
        return train(load_config(AlignConfig, config, overrides), out)

    return config_module_main("alignment.train", __doc__.splitlines()[0], run, argv)


if __name__ == "__main__":
    sys.exit(main())
