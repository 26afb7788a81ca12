"""VideoMAE-style pixel baseline on the same backbone and the same multi-block masks.

    obj = MAE(ModelConfig())
    loss, info = obj(video, obj.masker()(batch_size, generator), step)

The encoder sees only the context tokens; a light decoder (the predictor architecture, so the two
objectives are matched in size) reconstructs the pixels of the masked tubelets, normalised per patch
when ``mae.norm_pix_loss``; the loss is the MSE on target tubelets, averaged over the masks.
"""

from __future__ import annotations

import time

import torch
from torch import nn

from encoder.config import ModelConfig
from encoder.masks import MaskPair, MultiBlockMasker
from encoder.predictor import Predictor
from encoder.vit import VisionTransformer, gather_tokens, param_groups, patchify


class MAE(nn.Module):
    name = "mae"

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        v, p = cfg.vit, cfg.predictor
        self.encoder = VisionTransformer(v)
        pixels = v.in_chans * v.tubelet * v.patch_size**2
        self.decoder = Predictor(
            v.embed_dim,
            p.embed_dim,
            p.depth,
            p.num_heads,
            out_dim=pixels,
            mlp_ratio=p.mlp_ratio,
            pos_embed=v.pos_embed,
            rope_theta=v.rope_theta,
        )

    def masker(self, grid: tuple[int, int, int] | None = None) -> MultiBlockMasker:
        return MultiBlockMasker(self.cfg.masks, grid or self.cfg.vit.grid())

    def export_encoder(self) -> VisionTransformer:
        return self.encoder

    def param_groups(self, weight_decay: float) -> list[dict]:
        return param_groups(self, weight_decay)

    def update_target(self, step: int, total_steps: int) -> None:
        """No EMA target for MAE."""
        return None

    def pixel_targets(self, video: torch.Tensor) -> torch.Tensor:
        """Per-tubelet pixel vectors (B, N, C*tub*P*P), normalised per patch if configured."""
        v = self.cfg.vit
        pix = patchify(video, v.tubelet, v.patch_size)
        if self.cfg.mae.norm_pix_loss:
            mean = pix.mean(dim=-1, keepdim=True)
            var = pix.var(dim=-1, keepdim=True)
            pix = (pix - mean) / (var + 1e-6).sqrt()
        return pix

    def forward(self, video: torch.Tensor, masks: list[MaskPair], step: int = 0):
        t0 = time.perf_counter()
        pix = self.pixel_targets(video)  # (B, N, pixels)
        x, grid = self.encoder.embed(video)  # (B, N, D)
        contexts = self.encoder.encode_many(x, [m.context for m in masks], grid)  # [(B, Nc_i, D)]
        t1 = time.perf_counter()
        loss = 0.0
        for (ctx_idx, tgt_idx), z in zip(masks, contexts):
            pred = self.decoder(z, ctx_idx, tgt_idx, grid)  # (B, Nt, pixels)
            loss = loss + (pred - gather_tokens(pix, tgt_idx)).pow(2).mean()
        loss = loss / len(masks)
        t2 = time.perf_counter()
        feats = torch.cat([z.detach().flatten(0, 1) for z in contexts])  # (sum B*Nc_i, D)
        info = {
            "loss": float(loss.detach()),
            "target_std": float(feats.std(dim=0).mean()),
            "time_context_s": t1 - t0,
            "time_predictor_s": t2 - t1,
        }
        return loss, info
