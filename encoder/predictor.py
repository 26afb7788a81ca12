"""The JEPA predictor (also the MAE pixel decoder): a narrow ViT over context + mask tokens.

    pred = Predictor(in_dim=192, width=96, depth=6, num_heads=3, out_dim=192)
    out = pred(ctx_tokens, ctx_idx, tgt_idx, grid)       # (B, Nc, 192), (B, Nc), (B, Nt) -> (B, Nt, 192)
    out, ctx_out = pred(..., return_context=True)         # also predictions at the context tokens

Context tokens are projected to the predictor width; each target gets the learned mask token, and
every token gets its true 3D position (RoPE of its index, or sin-cos added), so the predictor knows
*where* to predict. Only the target (and optionally context) outputs are projected back.
"""

from __future__ import annotations

import torch
from torch import nn

from encoder.rope import Rope3D, sincos_embed, token_coords
from encoder.vit import Block, init_weights


class Predictor(nn.Module):
    def __init__(
        self,
        in_dim: int,
        width: int,
        depth: int,
        num_heads: int,
        out_dim: int,
        mlp_ratio: float = 4.0,
        pos_embed: str = "rope",
        rope_theta: float = 10000.0,
    ) -> None:
        super().__init__()
        self.width = width
        self.embed = nn.Linear(in_dim, width)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, width))
        self.blocks = nn.ModuleList(Block(width, num_heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.head = nn.Linear(width, out_dim)
        self.rope = Rope3D(width // num_heads, rope_theta) if pos_embed == "rope" else None
        init_weights(self, self.blocks)
        nn.init.trunc_normal_(self.mask_token, std=0.02)

    def forward(self, ctx_tokens, ctx_idx, tgt_idx, grid, return_context=False, attn_mask=None):
        """Predict the target tokens ``tgt_idx`` (B, Nt) from ``ctx_tokens`` (B, Nc, in_dim) at ``ctx_idx``."""
        B, Nc, _ = ctx_tokens.shape
        Nt = tgt_idx.shape[1]
        x = torch.cat((self.embed(ctx_tokens), self.mask_token.expand(B, Nt, -1)), dim=1)  # (B, Nc+Nt, w)
        coords = token_coords(torch.cat((ctx_idx, tgt_idx), dim=1), grid)  # (B, Nc+Nt, 3)
        rope = None
        if self.rope is not None:
            rope = self.rope(coords)  # complex (B, 1, Nc+Nt, hd/2)
        else:
            x = x + sincos_embed(coords, self.width).to(x.dtype)
        for block in self.blocks:
            x = block(x, rope, attn_mask)
        x = self.norm(x)
        pred = self.head(x[:, Nc:])  # (B, Nt, out_dim)
        if return_context:
            return pred, self.head(x[:, :Nc])  # (B, Nc, out_dim)
        return pred
