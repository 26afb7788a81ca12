"""Does the elementwise work in fp32 hold the bf16 pretraining step back?

    .venv/bin/python benchmarks/pure_bf16_step.py --data runs/quickstart/world --threads 2

Autocast runs the matmuls in bf16 but LayerNorm, the residual adds and the loss stay in fp32, so
every block converts activations back and forth. The "pure" arm holds a bf16 copy of the model
(fp32 master weights get its gradients, and the copy gets the weights back after each step, as
mixed precision without autocast does), so every elementwise pass reads and writes half the
bytes. The three arms (fp32, autocast bf16, pure bf16) step the tiny pretraining config on the
same clips and masks, interleaved step by step; prints one JSON line: clips/s per arm and the
ratios to fp32, with the CPU. The optimizer step is left out of every arm alike.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import torch

from encoder.data import build_loader
from encoder.objective import build_objective
from encoder.pretrain import PretrainConfig, build_data, mask_generator
from jepa_vqa.config import load_config
from jepa_vqa.precision import autocast, hardware_info


def _backward(model, video, masks, precision: str = "fp32") -> None:
    with autocast(precision, video.device):
        loss, _ = model(video, masks)
    model.zero_grad(set_to_none=True)
    loss.backward()


def _pure_step(master, pure, video, masks) -> None:
    """bf16 forward and backward of the copy; its gradients to the fp32 master, weights back."""
    _backward(pure, video.to(torch.bfloat16), masks)
    with torch.no_grad():
        for p, q in zip(master.parameters(), pure.parameters()):
            p.grad = None if q.grad is None else q.grad.float()
            q.copy_(p)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="configs/pretrain/tiny.yaml")
    ap.add_argument("--data", required=True, help="a world dir (the clips to step on)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8, help="timed steps per arm (after 2 warm-up)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_config(PretrainConfig, args.config, [f"data.path={args.data}"])
    torch.manual_seed(cfg.seed)
    master = build_objective(cfg.objective, cfg.model).train()
    pure = copy.deepcopy(master).to(torch.bfloat16)
    masker = master.masker()
    loader = iter(
        build_loader(build_data(cfg, progress=False), cfg.train.batch_size, cfg.seed, 0, args.steps + 2)
    )
    arms = {
        "fp32": lambda v, m: _backward(master, v, m),
        "bf16 autocast": lambda v, m: _backward(master, v, m, "bf16"),
        "bf16 pure": lambda v, m: _pure_step(master, pure, v, m),
    }
    seconds: dict[str, list[float]] = {arm: [] for arm in arms}
    for step in range(args.steps + 2):
        video = next(loader)  # (B, T, C, H, W)
        masks = masker(video.shape[0], mask_generator(cfg.seed, step, 0))
        for arm, run in arms.items():
            t0 = time.perf_counter()
            run(video, masks)
            if step >= 2:
                seconds[arm].append(time.perf_counter() - t0)
    clips_per_s = {arm: cfg.train.batch_size / statistics.median(s) for arm, s in seconds.items()}
    report = {
        "hardware": hardware_info(),
        "clips_per_s": {arm: round(v, 2) for arm, v in clips_per_s.items()},
        "vs_fp32": {arm: round(v / clips_per_s["fp32"], 2) for arm, v in clips_per_s.items()},
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
