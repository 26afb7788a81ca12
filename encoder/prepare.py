"""Frames to encoder input: uint8 (T, C, H, W) -> resized, centre-cropped, normalised float.

    video = prepare_frames(frames_uint8, 64, IMAGENET_MEAN, IMAGENET_STD)   # (T, C, 64, 64) float

Every encoder (in-repo ViT, V-JEPA 2, the surprise model, pretraining data) prepares frames here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from jepa_vqa.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def prepare_frames(frames: torch.Tensor, size: int, mean, std, resize_ratio: float = 1.0) -> torch.Tensor:
    """uint8 (T, C, H, W) -> float (T, C, size, size): resize the shorter side to ``size * resize_ratio``,
    centre-crop ``size``, scale to [0, 1], normalise with ``mean``/``std``."""
    if not isinstance(frames, torch.Tensor) or frames.ndim != 4 or frames.dtype != torch.uint8:
        got = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise UserError(f"frames must be a uint8 tensor (T, C, H, W), got {got}")
    if frames.shape[1] != 3:
        raise UserError(f"frames must have 3 channels in dim 1 (T, C, H, W), got shape {tuple(frames.shape)}")
    x = frames.float() / 255.0  # (T, C, H, W)
    H, W = x.shape[-2:]
    short = max(size, round(size * resize_ratio))
    if (H, W) != (size, size):
        scale = short / min(H, W)
        new_h, new_w = max(short, round(H * scale)), max(short, round(W * scale))
        if (new_h, new_w) != (H, W):
            x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
        top, left = (new_h - size) // 2, (new_w - size) // 2
        x = x[..., top : top + size, left : left + size]
    mean_t = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
    return ((x - mean_t) / std_t).contiguous()
