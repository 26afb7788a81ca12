"""3D positions for video tokens: token coordinates, 3D rotary embedding, 3D sin-cos embedding.

Tokens are ordered (time, height, width); index ``i`` of a ``(t, h, w)`` grid sits at
``(i // (h*w), (i // w) % h, i % w)``. Time, height and width each get an equal, even share of a
head's dims (``2 * ((head_dim // 3) // 2)`` each; any remainder is left unrotated). Rotation acts on
adjacent pairs ``(2i, 2i+1)``, so each frequency is ``repeat_interleave``-d, not ``repeat``-ed::

    rope = Rope3D(head_dim=64)
    cis = rope(token_coords(idx, grid))          # complex (B, 1, K, 32): one rotation per pair
    q = apply_rope(q, cis)                       # q: (B, heads, K, 64)
"""

from __future__ import annotations

import torch
from torch import nn


def token_coords(
    idx: torch.Tensor | None, grid: tuple[int, int, int], device: torch.device | None = None
) -> torch.Tensor:
    """Float ``(t, y, x)`` coordinates, ``(B, K, 3)`` for indices ``(B, K)`` or ``(1, N, 3)`` for all."""
    t, h, w = grid
    if idx is None:
        idx = torch.arange(t * h * w, device=device).unsqueeze(0)  # (1, N)
    tt = torch.div(idx, h * w, rounding_mode="floor")
    rem = idx - tt * (h * w)
    yy = torch.div(rem, w, rounding_mode="floor")
    xx = rem - yy * w
    return torch.stack((tt, yy, xx), dim=-1).float()  # (B, K, 3)


def axis_share(dim: int) -> int:
    """Dims given to each of the three axes: equal and even."""
    return 2 * ((dim // 3) // 2)


class Rope3D(nn.Module):
    """Rotary tables for 3D coordinates: ``forward(coords (B, K, 3)) -> cis`` complex (B, 1, K, head_dim/2)."""

    def __init__(self, head_dim: int, theta: float = 10000.0) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.axis_dim = axis_share(head_dim)
        if self.axis_dim == 0:
            raise ValueError(f"head_dim {head_dim} is too small for 3D RoPE (needs >= 6)")
        exponents = torch.arange(0, self.axis_dim, 2, dtype=torch.float64) / self.axis_dim
        self.register_buffer("freqs", (1.0 / theta**exponents).float(), persistent=False)  # (axis_dim/2,)

    def angles(self, coords: torch.Tensor) -> torch.Tensor:
        """Rotation angle of every dim (B, K, head_dim): pairs share one angle, remainder 0."""
        angles = coords.unsqueeze(-1) * self.freqs.to(coords.device)  # (B, K, 3, axis_dim/2)
        angles = angles.repeat_interleave(2, dim=-1).flatten(-2)  # (B, K, 3 * axis_dim)
        rest = self.head_dim - angles.shape[-1]
        return torch.cat((angles, angles.new_zeros(*angles.shape[:-1], rest)), dim=-1)

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        pair_angles = self.angles(coords)[..., 0::2]  # (B, K, head_dim/2): one per pair
        return torch.polar(torch.ones_like(pair_angles), pair_angles).unsqueeze(1)  # (B, 1, K, hd/2)


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """``(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...)``: a quarter turn of each adjacent pair."""
    pairs = x.unflatten(-1, (-1, 2))  # (..., D/2, 2)
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def apply_rope_real(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Reference rotation with real ops: ``x * cos + rotate_pairs(x) * sin`` (tests compare with it)."""
    return x * angles.cos() + rotate_pairs(x) * angles.sin()


def apply_rope(x: torch.Tensor, cis: torch.Tensor) -> torch.Tensor:
    """Rotate each adjacent pair of ``x`` (..., K, head_dim) as one complex multiply by ``cis``.

    One complex kernel is ~4x faster on CPU than the cos/sin/rotate formulation (forward + backward).
    """
    if torch.compiler.is_compiling():  # inductor has no complex kernels; it fuses the real form
        return apply_rope_real(x, torch.angle(cis).repeat_interleave(2, dim=-1))
    dtype = x.dtype
    xc = x if dtype in (torch.float32, torch.float64) else x.float()
    if xc.stride(-1) != 1 or any(st % 2 for st in xc.stride()[:-1]):
        xc = xc.contiguous()
    out = torch.view_as_real(torch.view_as_complex(xc.unflatten(-1, (-1, 2))) * cis).flatten(-2)
    return out.to(dtype)


def sincos_embed(coords: torch.Tensor, dim: int) -> torch.Tensor:
    """Absolute 3D sin-cos embedding ``(B, K, dim)``: sin and cos halves per axis, zero remainder."""
    share = axis_share(dim)
    half = share // 2
    omega = 1.0 / 10000 ** (torch.arange(half, dtype=torch.float64, device=coords.device) / max(half, 1))
    angles = coords.double().unsqueeze(-1) * omega  # (B, K, 3, half)
    emb = torch.cat((angles.sin(), angles.cos()), dim=-1).flatten(-2).float()  # (B, K, 3 * share)
    rest = dim - emb.shape[-1]
    if rest:
        emb = torch.cat((emb, emb.new_zeros(*emb.shape[:-1], rest)), dim=-1)
    return emb
