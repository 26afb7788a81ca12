"""Video ViT: tubelet patches -> pre-norm transformer blocks (3D RoPE or sin-cos, fused SDPA).

    from encoder.config import ViTConfig
    vit = VisionTransformer(ViTConfig.preset("test"))
    tokens = vit(video)                      # video (B, T, C, H, W) float -> (B, t*h*w, D)
    ctx = vit(video, keep=idx)               # only the tokens idx (B, K): (B, K, D), true positions
    layers = vit(video, return_layers=[0, -1])   # list of normed intermediate outputs
    vit.save_pretrained("out/encoder"); VisionTransformer.from_pretrained("out/encoder")

Token order is (time, height, width). Any frame count that is a multiple of the tubelet and any
height/width that is a multiple of the patch size works: positions come from the actual grid.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from encoder.config import ViTConfig
from encoder.rope import Rope3D, apply_rope, sincos_embed, token_coords
from jepa_vqa.atomic import atomic_write, atomic_write_text
from jepa_vqa.attention import attention
from jepa_vqa.config import read_json
from jepa_vqa.errors import UserError

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MODEL_TYPE = "jepa-vqa-vit"


# ----------------------------------------------------------------------------- building blocks


class Attention(nn.Module):
    """Multi-head self-attention with optional rotary positions and a key mask."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, rope=None, attn_mask=None):
        B, N, D = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.num_heads, D // self.num_heads).permute(2, 0, 3, 1, 4)
        # qkv: (3, B, heads, N, hd)
        if rope is not None:
            qk = apply_rope(qkv[:2], rope)  # (2, B, heads, N, hd): q and k rotated in one op
            q, k, v = qk[0], qk[1], qkv[2]
        else:
            q, k, v = qkv.unbind(0)
        out = attention(q, k, v, attn_mask)  # (B, heads, N, hd)
        return self.proj(out.transpose(1, 2).reshape(B, N, D))


class MLP(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLP(dim, int(dim * mlp_ratio))

    def forward(self, x, rope=None, attn_mask=None):
        x = x + self.attn(self.norm1(x), rope, attn_mask)
        return x + self.mlp(self.norm2(x))


def init_weights(module: nn.Module, blocks: nn.ModuleList) -> None:
    """Truncated-normal linears, zero biases, unit norms; residual projections scaled by depth."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for layer_id, block in enumerate(blocks, start=1):
        block.attn.proj.weight.data.div_(math.sqrt(2.0 * layer_id))
        block.mlp.fc2.weight.data.div_(math.sqrt(2.0 * layer_id))


def param_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups over trainable params: no decay on norms, biases, 1-D params and mask tokens."""
    decay, no_decay = [], []
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.ndim <= 1 or name.endswith(".bias") or "norm" in name or "mask_token" in name
        (no_decay if skip else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def gather_tokens(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x[b, idx[b]]`` for every row: (B, N, D), (B, K) -> (B, K, D)."""
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def token_grid(cfg: ViTConfig, T: int, H: int, W: int) -> tuple[int, int, int]:
    """Token grid ``(t, h, w)`` of a clip of T frames at H x W under ``cfg``'s tubelet and patch."""
    if T % cfg.tubelet or H % cfg.patch_size or W % cfg.patch_size:
        raise UserError(
            f"video of {T} frames at {H}x{W} does not fit tubelet {cfg.tubelet} / patch {cfg.patch_size}: "
            "frames must be a multiple of the tubelet and height/width multiples of the patch"
        )
    return (T // cfg.tubelet, H // cfg.patch_size, W // cfg.patch_size)


def patchify(video: torch.Tensor, tubelet: int, patch: int) -> torch.Tensor:
    """(B, T, C, H, W) -> (B, t*h*w, C*tubelet*patch*patch); each vector ordered (C, tubelet, P, P)."""
    B, T, C, H, W = video.shape
    t, h, w = T // tubelet, H // patch, W // patch
    x = video.reshape(B, t, tubelet, C, h, patch, w, patch)
    x = x.permute(0, 1, 4, 6, 3, 2, 5, 7)  # (B, t, h, w, C, tubelet, P, P)
    return x.reshape(B, t * h * w, C * tubelet * patch * patch)


class PatchEmbed3D(nn.Module):
    """Conv3d tubelet embedding, run as patchify + one matmul (same weights, faster on CPU)."""

    def __init__(self, in_chans: int, dim: int, tubelet: int, patch: int) -> None:
        super().__init__()
        self.tubelet, self.patch = tubelet, patch
        self.proj = nn.Conv3d(
            in_chans, dim, kernel_size=(tubelet, patch, patch), stride=(tubelet, patch, patch)
        )

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        patches = patchify(video, self.tubelet, self.patch)  # (B, N, C*tub*P*P)
        return F.linear(patches, self.proj.weight.flatten(1), self.proj.bias)  # (B, N, D)


# ----------------------------------------------------------------------------- the encoder


class VisionTransformer(nn.Module):
    """The JEPA video encoder (context encoder, EMA target encoder, MAE encoder)."""

    def __init__(self, cfg: ViTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        D = cfg.embed_dim
        self.embed_dim = D
        self.patch_embed = PatchEmbed3D(cfg.in_chans, D, cfg.tubelet, cfg.patch_size)
        self.blocks = nn.ModuleList(
            Block(D, cfg.num_heads, cfg.mlp_ratio, cfg.qkv_bias) for _ in range(cfg.depth)
        )
        self.norm = nn.LayerNorm(D, eps=1e-6)
        self.rope = Rope3D(cfg.head_dim, cfg.rope_theta) if cfg.pos_embed == "rope" else None
        init_weights(self, self.blocks)
        if cfg.compile:
            for block in self.blocks:
                block.compile(dynamic=True)

    # -- geometry
    def grid(self, T: int, H: int, W: int) -> tuple[int, int, int]:
        """Token grid ``(t, h, w)`` of a clip of T frames at H x W."""
        return token_grid(self.cfg, T, H, W)

    def embed(self, video: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int, int]]:
        """Patch tokens with absolute positions if configured: (B, T, C, H, W) -> (B, N, D), grid."""
        if video.ndim != 5:
            raise UserError(f"video must be (B, T, C, H, W), got shape {tuple(video.shape)}")
        B, T, C, H, W = video.shape
        grid = self.grid(T, H, W)
        x = self.patch_embed(video)  # (B, N, D)
        if self.rope is None:
            x = x + sincos_embed(token_coords(None, grid, x.device), self.embed_dim).to(x.dtype)
        return x, grid

    def forward_tokens(self, x, idx, grid, attn_mask=None, return_layers=None):
        """Run the blocks on embedded tokens ``x`` (B, K, D) sitting at indices ``idx`` (B, K) or all."""
        rope = None
        if self.rope is not None:
            rope = self.rope(token_coords(idx, grid, x.device))  # complex (B|1, 1, K, hd/2)
        wanted = None
        if return_layers is not None:
            depth = len(self.blocks)
            wanted = [layer % depth for layer in return_layers]
        outputs = {}
        last = len(self.blocks) - 1 if wanted is None else max(wanted)
        for i, block in enumerate(self.blocks[: last + 1]):
            x = block(x, rope, attn_mask)
            if wanted is not None and i in wanted:
                outputs[i] = self.norm(x)
        if wanted is not None:
            return [outputs[i] for i in wanted]
        return self.norm(x)

    def encode_many(self, x, keeps, grid):
        """Encode several index sets of the same embedded clip ``x`` (B, N, D); one call when counts match.

        Returns one ``(B, K_i, D)`` tensor per entry of ``keeps`` (each (B, K_i)).
        """
        if len({k.shape[1] for k in keeps}) == 1:  # equal counts: stack the masks along the batch
            idx = torch.cat(keeps, dim=0)  # (M*B, K)
            tokens = torch.cat([gather_tokens(x, k) for k in keeps], dim=0)  # (M*B, K, D)
            out = self.forward_tokens(tokens, idx, grid)
            return list(out.chunk(len(keeps), dim=0))
        return [self.forward_tokens(gather_tokens(x, k), k, grid) for k in keeps]

    def forward(self, video, keep=None, return_layers=None):
        """(B, T, C, H, W) -> (B, N or K, D), or a list of normed layer outputs if ``return_layers``."""
        x, grid = self.embed(video)  # (B, N, D)
        if keep is not None:
            x = gather_tokens(x, keep)  # (B, K, D)
        return self.forward_tokens(x, keep, grid, return_layers=return_layers)

    # -- persistence
    def save_pretrained(self, out_dir: str | Path) -> Path:
        """Write ``config.json`` + ``model.safetensors`` (atomically) to ``out_dir``."""
        from jepa_vqa.config import to_dict

        out_dir = Path(out_dir)
        config = {"model_type": MODEL_TYPE, "vit": to_dict(self.cfg)}
        save_weights_and_config(self.state_dict(), config, out_dir)
        return out_dir

    @classmethod
    def from_pretrained(cls, model_dir: str | Path) -> VisionTransformer:
        """Rebuild from a directory written by :meth:`save_pretrained`."""
        from jepa_vqa.config import from_dict

        config = read_config(model_dir)
        if config.get("model_type") != MODEL_TYPE or "vit" not in config:
            raise UserError(f"{model_dir} is not a jepa-vqa encoder dir (config.json model_type)")
        model = cls(from_dict(ViTConfig, config["vit"]))
        load_weights(model, Path(model_dir) / WEIGHTS_NAME)
        return model


# ----------------------------------------------------------------------------- safetensors I/O


def save_weights_and_config(state: dict, config: dict, out_dir: Path) -> None:
    """Atomically write ``model.safetensors`` and then ``config.json`` into ``out_dir``."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
    atomic_write(out_dir / WEIGHTS_NAME, lambda tmp: save_file(tensors, str(tmp)))
    atomic_write_text(out_dir / CONFIG_NAME, json.dumps(config, indent=2))


def read_config(model_dir: str | Path) -> dict:
    path = Path(model_dir) / CONFIG_NAME
    if not path.is_file():
        raise UserError(f"no {CONFIG_NAME} in {model_dir}")
    return read_json(path)


def load_weights(model: nn.Module, path: Path) -> None:
    """Load a safetensors file into ``model`` strictly (missing or unexpected keys are an error)."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
    if missing or unexpected:
        raise UserError(
            f"{path} does not match the config: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
