"""benchmarks/pure_bf16_step.py: the pure-bf16 arm trains the fp32 master as the fp32 step does."""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from conftest import benchmark_script

from encoder.objective import build_objective
from encoder.pretrain import PretrainConfig, mask_generator
from jepa_vqa.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    return benchmark_script("pure_bf16_step")


def test_pure_bf16_step_gives_the_master_fp32_gradients_near_the_fp32_ones():
    bench = _bench()
    cfg = load_config(PretrainConfig, ROOT / "configs/pretrain/test.yaml")
    torch.manual_seed(0)
    master = build_objective(cfg.objective, cfg.model).train()
    pure = copy.deepcopy(master).to(torch.bfloat16)
    vit = cfg.model.vit
    video = torch.rand(2, vit.num_frames, 3, vit.img_size, vit.img_size)  # (B, T, C, H, W)
    masks = master.masker()(2, mask_generator(0, 0, 0))
    bench._backward(master, video, masks)
    reference = {n: p.grad.clone() for n, p in master.named_parameters() if p.grad is not None}
    with torch.no_grad():
        next(pure.parameters()).add_(1.0)  # the copy drifted: the step must put the master's weights back
    bench._pure_step(master, pure, video, masks)
    grads = {n: p.grad for n, p in master.named_parameters() if p.grad is not None}
    assert grads.keys() == reference.keys() and all(g.dtype == torch.float32 for g in grads.values())
    cosine = torch.nn.functional.cosine_similarity(
        torch.cat([g.flatten() for g in grads.values()]),
        torch.cat([g.flatten() for g in reference.values()]),
        dim=0,
    )
    assert cosine > 0.9, float(cosine)  # the same gradient, at bf16 precision
    for p, q in zip(master.parameters(), pure.parameters()):
        assert q.dtype == torch.bfloat16 and torch.equal(q, p.to(torch.bfloat16))
