"""V-JEPA multi-block 3D masks: targets are unions of spatial blocks that run through time.

    masker = MultiBlockMasker(MaskConfig(), grid=(8, 8, 8))
    g = torch.Generator().manual_seed(0)
    short, long = masker(batch_size=16, generator=g)   # one MaskPair per mask type
    short.context  # (B, Nc) token indices the context encoder sees (sorted)
    short.target   # (B, Nt) token indices to predict (sorted); never overlaps the context

Per batch and mask type, one block size is drawn (scale x aspect ratio, as in the reference); each
sample then draws its own block positions. The context is the complement of the target. Counts are
made equal across the batch by truncating every row to the batch minimum (as the reference collator
does), so a batch stacks into rectangular tensors. Everything is drawn from the given generator.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from encoder.config import BlockMaskSpec, MaskConfig
from jepa_vqa.errors import UserError

MAX_TRIES = 100


class MaskPair(NamedTuple):
    context: torch.Tensor  # (B, Nc) long
    target: torch.Tensor  # (B, Nt) long


def _uniform(generator: torch.Generator) -> float:
    return torch.rand(1, generator=generator).item()


class MultiBlockMasker:
    """Draws one :class:`MaskPair` per configured mask type for a batch on a ``(t, h, w)`` token grid."""

    def __init__(self, cfg: MaskConfig, grid: tuple[int, int, int]) -> None:
        self.cfg = cfg
        self.grid = tuple(int(g) for g in grid)

    def __call__(self, batch_size: int, generator: torch.Generator | None = None) -> list[MaskPair]:
        g = generator if generator is not None else torch.Generator().manual_seed(0)
        return [self._sample(spec, batch_size, g) for spec in self.cfg.specs]

    def block_size(self, spec: BlockMaskSpec, generator: torch.Generator) -> tuple[int, int, int]:
        """One ``(bt, bh, bw)`` block size: area ``spatial_scale`` of a frame, log-uniform aspect ratio."""
        t, h, w = self.grid
        bt = max(1, int(t * spec.temporal_scale))
        area = max(1, int(h * w * spec.spatial_scale))
        lo, hi = spec.aspect_ratio
        ratio = math.exp(math.log(lo) + _uniform(generator) * (math.log(hi) - math.log(lo)))
        bh = min(h, max(1, round(math.sqrt(area * ratio))))
        bw = min(w, max(1, round(math.sqrt(area / ratio))))
        return bt, bh, bw

    def _blocks(self, n: int, spec: BlockMaskSpec, size, generator) -> torch.Tensor:
        """Union of ``spec.num_blocks`` randomly placed blocks for ``n`` samples: bool (n, t, h, w)."""
        t, h, w = self.grid
        bt, bh, bw = size
        shape = (n, spec.num_blocks, 1)
        start = torch.randint(0, t - bt + 1, shape, generator=generator)
        top = torch.randint(0, h - bh + 1, shape, generator=generator)
        left = torch.randint(0, w - bw + 1, shape, generator=generator)
        in_t = (torch.arange(t) >= start) & (torch.arange(t) < start + bt)  # (n, nb, t)
        in_h = (torch.arange(h) >= top) & (torch.arange(h) < top + bh)  # (n, nb, h)
        in_w = (torch.arange(w) >= left) & (torch.arange(w) < left + bw)  # (n, nb, w)
        blocks = in_t[..., :, None, None] & in_h[..., None, :, None] & in_w[..., None, None, :]
        return blocks.any(dim=1)  # (n, t, h, w)

    def _sample(self, spec: BlockMaskSpec, batch_size: int, generator: torch.Generator) -> MaskPair:
        size = self.block_size(spec, generator)
        masked = self._blocks(batch_size, spec, size, generator).flatten(1)  # (B, N) True = target
        for _ in range(MAX_TRIES):  # redraw samples whose context came out empty
            empty = masked.all(dim=1)
            if not empty.any():
                break
            masked[empty] = self._blocks(int(empty.sum()), spec, size, generator).flatten(1)
        else:
            raise UserError(f"mask {spec} leaves no context on token grid {self.grid}: use smaller blocks")
        targets = [row.nonzero().squeeze(1) for row in masked]
        contexts = [(~row).nonzero().squeeze(1) for row in masked]
        n_tgt = min(len(x) for x in targets)
        n_ctx = min(len(x) for x in contexts)
        return MaskPair(
            context=torch.stack([x[:n_ctx] for x in contexts]),
            target=torch.stack([x[:n_tgt] for x in targets]),
        )
