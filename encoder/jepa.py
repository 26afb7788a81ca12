"""V-JEPA objective: predict EMA-target latents of masked tubes from the visible context.

    obj = JEPA(ModelConfig())
    masks = obj.masker()(batch_size, generator)          # list[MaskPair], one per mask type
    loss, info = obj(video, masks, step)                  # video (B, T, C, H, W) float
    loss.backward(); opt.step(); obj.update_target(step, total_steps)

Per batch: ONE no-grad target-encoder forward over all tokens (shared by every mask); targets are
its output layer-normed without affine (or, with ``deep_layers``, several layers each normed and
concatenated); ONE patch embedding for the context encoder, whose masks' context tokens are batched
together when their counts match; an L1 loss averaged over the masks. V-JEPA 2.1 dense loss:
``dense_weight`` (linearly warmed up) times the L1 error on the context tokens too.
"""

from __future__ import annotations

import copy
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from encoder.config import ModelConfig
from encoder.masks import MaskPair, MultiBlockMasker
from encoder.predictor import Predictor
from encoder.vit import VisionTransformer, gather_tokens, param_groups


def scheduled_momentum(cfg, step: int, total_steps: int) -> float:
    """EMA momentum at ``step``: constant, or a linear ramp ``momentum -> momentum_end``."""
    if not cfg.momentum_ramp:
        return cfg.momentum
    frac = min(1.0, max(0.0, step / max(1, total_steps)))
    return cfg.momentum + (cfg.momentum_end - cfg.momentum) * frac


def init_share(cfg, total_steps: int) -> float:
    """How much of the exported EMA target is still its random init after ``total_steps``: the
    product of the momenta (each update keeps ``m`` of the target). At the long-run momentum
    0.99925, 300 steps leave 80% of the init; a short run needs a shorter EMA horizon."""
    return math.prod(scheduled_momentum(cfg, step, total_steps) for step in range(total_steps))


class JEPA(nn.Module):
    name = "jepa"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = VisionTransformer(cfg.vit)
        self.target_encoder = copy.deepcopy(self.encoder).requires_grad_(False)
        depth = cfg.vit.depth
        self.target_layers = [layer % depth for layer in (cfg.jepa.deep_layers or [-1])]
        D, p = cfg.vit.embed_dim, cfg.predictor
        self.predictor = Predictor(
            D,
            p.embed_dim,
            p.depth,
            p.num_heads,
            out_dim=D * len(self.target_layers),
            mlp_ratio=p.mlp_ratio,
            pos_embed=cfg.vit.pos_embed,
            rope_theta=cfg.vit.rope_theta,
        )

    # -- interface used by the training loop
    def masker(self, grid: tuple[int, int, int] | None = None) -> MultiBlockMasker:
        """The multi-block masker for ``grid`` (default: the configured clip size)."""
        return MultiBlockMasker(self.cfg.masks, grid or self.cfg.vit.grid())

    def export_encoder(self) -> VisionTransformer:
        """The EMA target encoder (what downstream uses)."""
        return self.target_encoder

    def param_groups(self, weight_decay: float) -> list[dict]:
        return param_groups(self, weight_decay)

    @torch.no_grad()
    def update_target(self, step: int, total_steps: int) -> float:
        """EMA: ``target <- m * target + (1 - m) * context``; returns the momentum used."""
        m = scheduled_momentum(self.cfg.jepa, step, total_steps)
        tgt = list(self.target_encoder.parameters())
        src = [p.detach() for p in self.encoder.parameters()]
        torch._foreach_lerp_(tgt, src, 1.0 - m)
        return m

    def dense_weight(self, step: int) -> float:
        cfg = self.cfg.jepa
        if cfg.dense_warmup_steps <= 0:
            return cfg.dense_weight
        return cfg.dense_weight * min(1.0, step / cfg.dense_warmup_steps)

    # -- the objective
    @torch.no_grad()
    def targets(self, video: torch.Tensor) -> torch.Tensor:
        """Target latents of every token: (B, T, C, H, W) -> (B, N, D * len(target_layers))."""
        layers = self.target_encoder(video, return_layers=self.target_layers)
        return torch.cat([F.layer_norm(h, h.shape[-1:]) for h in layers], dim=-1)

    def forward(self, video: torch.Tensor, masks: list[MaskPair], step: int = 0):
        """JEPA loss on one batch: returns ``(loss, info)`` with python floats in ``info``."""
        t0 = time.perf_counter()
        h = self.targets(video)  # (B, N, D')
        t1 = time.perf_counter()
        x, grid = self.encoder.embed(video)  # (B, N, D)
        contexts = self.encoder.encode_many(x, [m.context for m in masks], grid)  # [(B, Nc_i, D)]
        t2 = time.perf_counter()
        lam = self.dense_weight(step)
        loss_tgt, loss_ctx = 0.0, 0.0
        for (ctx_idx, tgt_idx), z in zip(masks, contexts):
            out = self.predictor(z, ctx_idx, tgt_idx, grid, return_context=lam > 0)
            pred_tgt, pred_ctx = out if lam > 0 else (out, None)
            loss_tgt = loss_tgt + (pred_tgt - gather_tokens(h, tgt_idx)).abs().mean()
            if pred_ctx is not None:
                loss_ctx = loss_ctx + (pred_ctx - gather_tokens(h, ctx_idx)).abs().mean()
        loss_tgt = loss_tgt / len(masks)
        loss_ctx = loss_ctx / len(masks)
        loss = loss_tgt + lam * loss_ctx
        t3 = time.perf_counter()
        info = {
            "loss": float(loss.detach()),
            "loss_target": float(loss_tgt.detach()),
            "target_std": float(h.flatten(0, 1).std(dim=0).mean()),
            "time_target_s": t1 - t0,
            "time_context_s": t2 - t1,
            "time_predictor_s": t3 - t2,
        }
        if lam > 0:
            info["loss_dense"] = float(loss_ctx.detach())
            info["dense_weight"] = lam
        return loss, info
