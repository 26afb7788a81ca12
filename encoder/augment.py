"""Clip augmentation for pretraining: a random resized crop (one box per clip, the same in every
frame) and a horizontal flip, as V-JEPA pretrains with, drawn from a generator that is a pure
function of the step, so a resumed run augments exactly as the uninterrupted one.

    augment = ClipAugment(scale=(0.3, 1.0), aspect_ratio=(0.75, 1.35), flip=True)
    video = augment(video, generator)   # float (B, T, C, H, W) -> the same shape

Why try it on a synthetic world: walls, floor and the occluder sit at the same few places in every
clip, so a predictor could lower its loss by recalling what each position usually holds; moving and
rescaling the frame makes position a poor guess. Measured on the tiny world (docs/levers.md, the
`augment` row of benchmarks/pretraining_levers.sh), it did not make the encoder's probes beat random
init, so the shipped configs leave it off.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


class ClipAugment:
    """Random resized crop (area ``scale`` of the frame, width/height ``aspect_ratio``) + flip."""

    def __init__(
        self,
        scale: tuple[float, float] = (0.3, 1.0),
        aspect_ratio: tuple[float, float] = (0.75, 1.35),
        flip: bool = True,
    ):
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"crop scale must satisfy 0 < low <= high <= 1, got {list(scale)}")
        if not 0 < aspect_ratio[0] <= aspect_ratio[1]:
            raise ValueError(f"crop aspect_ratio must satisfy 0 < low <= high, got {list(aspect_ratio)}")
        self.scale, self.aspect_ratio, self.flip = scale, aspect_ratio, flip

    def box(self, height: int, width: int, generator: torch.Generator) -> tuple[int, int, int, int]:
        """One crop box ``(top, left, h, w)`` in pixels, inside the frame."""
        u = torch.rand(4, generator=generator).tolist()
        area = height * width * (self.scale[0] + u[0] * (self.scale[1] - self.scale[0]))
        lo, hi = math.log(self.aspect_ratio[0]), math.log(self.aspect_ratio[1])
        ratio = math.exp(lo + u[1] * (hi - lo))  # width / height
        w = min(width, max(1, round(math.sqrt(area * ratio))))
        h = min(height, max(1, round(math.sqrt(area / ratio))))
        top = int(u[2] * (height - h + 1))
        left = int(u[3] * (width - w + 1))
        return top, left, h, w

    def __call__(self, video: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``video`` (B, T, C, H, W) -> each clip cropped, resized back to (H, W), maybe flipped."""
        B, T, C, H, W = video.shape
        out = torch.empty_like(video)
        for b in range(B):
            top, left, h, w = self.box(H, W, generator)
            crop = video[b, :, :, top : top + h, left : left + w]  # (T, C, h, w)
            clip = F.interpolate(crop, size=(H, W), mode="bilinear", align_corners=False)
            if self.flip and torch.rand(1, generator=generator).item() < 0.5:
                clip = clip.flip(-1)
            out[b] = clip  # (T, C, H, W)
        return out
