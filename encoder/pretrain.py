"""Self-supervised pretraining of the video encoder: JEPA (or the MAE baseline) on any videos.

Run it::

    jepa-vqa pretrain --config configs/pretrain/tiny.yaml --out runs/jepa-tiny [train.steps=200 ...]
    jepa-vqa pretrain --config configs/pretrain/tiny.yaml --out runs/mae-tiny objective=mae
    accelerate launch --multi_gpu --num_processes 2 -m encoder.pretrain --config F --out DIR [k=v ...]

(on a CPU-only machine the same command starts 2 gloo processes through torchrun; plain
``accelerate launch --cpu --num_processes 2`` starts only one process unless MPI is set up, so use
``--multi_gpu`` or ``torchrun --nproc_per_node 2 -m encoder.pretrain ...``).

``DIR`` then holds ``config.yaml`` (resolved), ``metrics.jsonl`` (per-step loss, lr, momentum,
target_std, clips/s), ``curves.png``, ``checkpoint/`` (atomic; a run pointed at ``DIR`` resumes from
it exactly), ``encoder/`` (the exported EMA encoder: ``encoder.load_encoder(DIR)``) and
``objective/`` (the full objective: ``encoder.objective.load_objective``).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch

from encoder.config import ModelConfig
from jepa_vqa.config import load_config, read_yaml, save_config, to_dict
from jepa_vqa.precision import autocast, resolve_precision
from jepa_vqa.training import (
    MetricsLogger,
    atomic_directory,
    check_resumable,
    find_checkpoint,
    load_checkpoint,
    plot_metrics,
    save_checkpoint,
    set_seed,
    warmup_cosine,
)

CURVES = ("loss", "lr", "momentum", "target_std", "grad_norm", "clips_per_s")


@dataclass
class DataConfig:
    """Where clips come from (see ``encoder.data.find_videos``) and how they are loaded."""

    path: str = ""
    split: str = "train"
    num_workers: int = 1
    cache: bool = True  # decode each clip once and keep it in memory (uint8) when the dataset fits
    # Augmentation (encoder.augment): a random resized crop per clip and a horizontal flip.
    augment: bool = False
    crop_scale: tuple[float, float] = (0.3, 1.0)  # area of the crop, fraction of the frame
    crop_aspect_ratio: tuple[float, float] = (0.75, 1.35)  # width / height of the crop
    flip: bool = True

    def __post_init__(self) -> None:
        if self.num_workers < 0:
            raise ValueError(f"num_workers must be >= 0, got {self.num_workers}")
        if self.augment:
            self.augmenter()  # validates the ranges

    def augmenter(self):
        """The configured :class:`encoder.augment.ClipAugment`, or None when ``augment`` is off."""
        from encoder.augment import ClipAugment

        if not self.augment:
            return None
        return ClipAugment(tuple(self.crop_scale), tuple(self.crop_aspect_ratio), self.flip)


@dataclass
class TrainConfig:
    """Optimisation: AdamW, warm-up + cosine LR, gradient clipping, bf16 autocast where it pays."""

    steps: int = 1000
    batch_size: int = 16
    lr: float = 5e-4
    final_lr_ratio: float = 0.01
    warmup_steps: int = 50
    weight_decay: float = 0.04
    grad_clip: float = 1.0  # 0 = off
    log_every: int = 1
    ckpt_every: int = 200
    precision: Literal["auto", "fp32", "bf16"] = (
        "auto"  # auto | fp32 | bf16 (auto: bf16 on CUDA or a CPU with bf16 units)
    )
    compile: bool = False

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "log_every", "ckpt_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.lr <= 0 or self.warmup_steps < 0 or self.weight_decay < 0 or self.grad_clip < 0:
            raise ValueError("lr must be > 0 and warmup_steps, weight_decay, grad_clip >= 0")


@dataclass
class PretrainConfig:
    """A pretraining run: objective, model, data, optimisation."""

    seed: int = 0
    objective: Literal["jepa", "mae"] = "jepa"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        if not self.data.path:
            raise ValueError("data.path is required (a worlds dataset, a folder of videos or a dataset)")


# ----------------------------------------------------------------------------------------------
# Pieces of the loop


def mask_generator(seed: int, step: int, rank: int, stream: int = 0) -> torch.Generator:
    """The generator for the masks (``stream`` 0) or the augmentation (1) of ``step`` on ``rank``:
    a pure function, so resuming is exact (stream 0 draws the masks of earlier versions)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 4099 + rank + stream * 2**40)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set ``lr`` on every group (scaled by a group's ``lr_scale`` when it has one)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def same_run(cfg: PretrainConfig, out_dir: Path) -> None:
    """A resumed run must train the same objective and model as the checkpoint in ``out_dir``."""
    saved_path = out_dir / "config.yaml"
    if not saved_path.is_file():
        return
    saved, now = read_yaml(saved_path), to_dict(cfg)
    keys = ("objective", "model")
    check_resumable({k: saved.get(k) for k in keys}, {k: now[k] for k in keys}, out_dir)


def export(raw_objective: torch.nn.Module, cfg: PretrainConfig, out_dir: Path) -> None:
    """Write ``out_dir/encoder/`` (the EMA encoder) and ``out_dir/objective/``, each atomically."""
    from encoder.objective import save_objective

    with atomic_directory(out_dir / "encoder") as tmp:
        raw_objective.export_encoder().save_pretrained(tmp)
    with atomic_directory(out_dir / "objective") as tmp:
        save_objective(raw_objective, cfg.model, cfg.objective, tmp)


def build_data(cfg: PretrainConfig, progress: bool):
    """The clip dataset at the model's frames/size, cached in memory when small, normalised as
    ``VideoEncoder.prepare`` does (so training sees what inference sees)."""
    from encoder.data import VideoClips, find_videos, maybe_cache
    from encoder.prepare import IMAGENET_MEAN, IMAGENET_STD

    paths = find_videos(cfg.data.path, cfg.data.split)
    frames, size = cfg.model.vit.num_frames, cfg.model.vit.img_size
    cache = maybe_cache(paths, frames, size, cfg.data.num_workers, progress) if cfg.data.cache else None
    return VideoClips(paths, frames, size, IMAGENET_MEAN, IMAGENET_STD, cache=cache)


# ----------------------------------------------------------------------------------------------
# The loop


def pretrain(
    cfg: PretrainConfig, out_dir: str | Path, stop_after: int | None = None, progress: bool = True
) -> Path:
    """Train (or resume) in ``out_dir``; return it. ``stop_after`` ends the run early at that step
    (with a checkpoint) without changing the schedule, as an interruption would."""
    from accelerate import Accelerator
    from tqdm import tqdm

    from encoder.data import build_loader
    from encoder.objective import build_objective

    out_dir = Path(out_dir)
    tc = cfg.train
    # cpu=True without CUDA: under torchrun (e.g. `accelerate launch --multi_gpu`) ranks use gloo.
    acc = Accelerator(cpu=not torch.cuda.is_available())
    precision = resolve_precision(tc.precision, acc.device)  # weights and optimiser stay fp32
    main = acc.is_main_process
    ckpt = find_checkpoint(out_dir)
    if ckpt is not None:
        same_run(cfg, out_dir)

    # 1. Model, optimiser (AdamW: no decay on norms/biases), same init on every rank.
    set_seed(cfg.seed)
    raw = build_objective(cfg.objective, cfg.model)
    optimizer = torch.optim.AdamW(raw.param_groups(tc.weight_decay), lr=tc.lr, betas=(0.9, 0.95))
    model = torch.compile(raw) if tc.compile else raw
    model, optimizer = acc.prepare(model, optimizer)
    masker = raw.masker()  # MultiBlockMasker on the configured grid

    # 2. Resume: weights, EMA target, optimiser, RNG; data order and masks follow from the step.
    start = 0
    if ckpt is not None:
        start = load_checkpoint(ckpt, {"objective": raw}, optimizer)["step"]
        if main:
            print(f"resuming from {ckpt} at step {start}/{tc.steps}", file=sys.stderr)
    if main:
        save_config(cfg, out_dir / "config.yaml")
        warn_stale_target(cfg)
    end = min(tc.steps, stop_after) if stop_after is not None else tc.steps

    # 3. Data: decoded at the model's frames/size, sharded per rank by the step sampler.
    dataset = build_data(cfg, progress and main)
    loader = build_loader(
        dataset,
        tc.batch_size,
        cfg.seed,
        start,
        end,
        acc.process_index,
        acc.num_processes,
        cfg.data.num_workers,
    )
    sampler = loader.batch_sampler
    augment = cfg.data.augmenter()

    log = MetricsLogger(out_dir / "metrics.jsonl", enabled=main, resume_step=start if ckpt else None)
    bar = tqdm(
        total=max(0, end - start),
        initial=0,
        desc=f"pretrain {cfg.objective}",
        disable=not (progress and main),
        file=sys.stderr,
        dynamic_ncols=True,
    )
    model.train()
    tick, last_logged = time.perf_counter(), start
    for step, video in enumerate(loader, start=start):
        if augment is not None:
            video = augment(video, mask_generator(cfg.seed, step, acc.process_index, stream=1))
        video = video.to(acc.device, non_blocking=True)  # (B, T, C, H, W)
        masks = masker(video.shape[0], mask_generator(cfg.seed, step, acc.process_index))
        lr = warmup_cosine(step, tc.steps, tc.lr, tc.warmup_steps, tc.final_lr_ratio)
        set_lr(optimizer, lr)
        # 4. Forward (context encoder + predictor vs. EMA target, or MAE), backward, clip, step.
        with autocast(precision, acc.device):
            loss, info = model(video, masks, step)
        optimizer.zero_grad(set_to_none=True)
        acc.backward(loss)
        grad_norm = acc.clip_grad_norm_(model.parameters(), tc.grad_clip) if tc.grad_clip > 0 else None
        optimizer.step()
        # 5. EMA update of the target encoder (JEPA); None for MAE.
        momentum = raw.update_target(step, tc.steps)
        done = step + 1
        if done % tc.log_every == 0 or done == end:
            now = time.perf_counter()
            clips_per_s = tc.batch_size * acc.num_processes * (done - last_logged) / (now - tick)
            record = _metrics(acc, loss, video, info, lr, momentum, grad_norm, clips_per_s)
            log.log(done, **record)
            bar.set_postfix(loss=f"{record['loss']:.4f}", lr=f"{lr:.2e}")
            bar.update(done - last_logged)
            tick, last_logged = now, done
        if done % tc.ckpt_every == 0 or done == end:
            _checkpoint(acc, raw, optimizer, cfg, out_dir, done, sampler.state(done))
    bar.close()
    log.close()
    if end == start and main:  # nothing left to train: make sure the exports exist
        export(raw, cfg, out_dir)
    if main and (out_dir / "metrics.jsonl").stat().st_size:
        plot_metrics(out_dir / "metrics.jsonl", out_dir / "curves.png", CURVES)
    acc.wait_for_everyone()
    return out_dir


def warn_stale_target(cfg: PretrainConfig) -> None:
    """Say so when the EMA target that is exported would stay mostly its random init."""
    if cfg.objective != "jepa":
        return
    from encoder.jepa import init_share

    share = init_share(cfg.model.jepa, cfg.train.steps)
    if share > 0.5:
        print(
            f"warning: with model.jepa.momentum={cfg.model.jepa.momentum}, the exported EMA encoder keeps "
            f"{share:.0%} of its random init after {cfg.train.steps} steps; for a short run lower it "
            "(e.g. model.jepa.momentum=0.99 model.jepa.momentum_ramp=true)",
            file=sys.stderr,
        )


def _metrics(acc, loss, video, info: dict, lr: float, momentum, grad_norm, clips_per_s: float) -> dict:
    """One metrics record; loss averaged over ranks, plus each rank's batch fingerprint."""
    return {
        "loss": acc.reduce(loss.detach().float(), reduction="mean").item(),
        "lr": lr,
        "momentum": momentum,
        "grad_norm": float(grad_norm) if grad_norm is not None else None,
        "clips_per_s": clips_per_s,
        # A fingerprint of each rank's clips (ranks see different data), one value per rank.
        "batch_sum": acc.gather(video.detach().float().sum().reshape(1)).tolist(),
        **{k: float(v) for k, v in info.items() if k != "loss"},
    }


def _checkpoint(acc, raw, optimizer, cfg: PretrainConfig, out_dir: Path, step: int, data_state: dict) -> None:
    """Rank 0 writes the checkpoint and the exports; every rank waits for it."""
    acc.wait_for_everyone()
    if acc.is_main_process:
        state = {"data": data_state, "scheduler": {"kind": "warmup_cosine", "step": step}}
        save_checkpoint(out_dir, step, {"objective": raw}, optimizer, state=state)
        export(raw, cfg, out_dir)
    acc.wait_for_everyone()


# ----------------------------------------------------------------------------------------------
# Entry points


def run_from_args(config: str, out: str, overrides: list[str]) -> Path:
    """``--config F --out DIR k=v ...`` -> a finished run dir."""
    cfg = load_config(PretrainConfig, config, overrides)
    return pretrain(cfg, out)


def main(argv: list[str] | None = None) -> int:
    """``python -m encoder.pretrain`` (what ``accelerate launch -m encoder.pretrain`` runs)."""
    from jepa_vqa.cli import config_module_main

    return config_module_main("encoder.pretrain", "JEPA / MAE video pretraining", run_from_args, argv)


if __name__ == "__main__":
    sys.exit(main())
