"""``pixels:<preset>``: a clip's own patches as its tokens, the encoder that holds everything the
frames hold and has learned nothing. Aligned like any encoder, it separates the two suspects of a
blind model: if a projector on raw patches learns to answer and one on JEPA tokens does not, the
encoder is what is missing; if neither learns, the projector, data or budget is::

    enc = load_encoder("pixels:tiny")           # the tiny ViT's grid: 16 frames, 64 px, patch 8, tubelet 2
    tokens = enc(enc.prepare(frames)[None])     # (1, 8*8*8, 3*2*8*8) normalised pixel patches
"""

from __future__ import annotations

import torch
from torch import nn

from encoder.config import ViTConfig
from encoder.prepare import IMAGENET_MEAN, IMAGENET_STD, prepare_frames
from encoder.vit import patchify, token_grid
from jepa_vqa.errors import UserError

MODEL_TYPE = "pixels"


class PixelEncoder(nn.Module):
    """Patchify on a ViT preset's grid: tokens (B, t*h*w, C*tubelet*patch*patch), no weights."""

    def __init__(self, cfg: ViTConfig, spec: str) -> None:
        super().__init__()
        self.cfg, self.spec = cfg, spec
        self.embed_dim = cfg.in_chans * cfg.tubelet * cfg.patch_size**2
        self.num_frames, self.image_size = cfg.num_frames, cfg.img_size
        self.mean, self.std = tuple(IMAGENET_MEAN), tuple(IMAGENET_STD)

    @classmethod
    def from_preset(cls, preset: str) -> PixelEncoder:
        try:
            return cls(ViTConfig.preset(preset), f"pixels:{preset}")
        except ValueError as exc:
            raise UserError(f"encoder spec 'pixels:{preset}': {exc}") from None

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (T, C, H, W) -> normalised float (T, C, image_size, image_size)."""
        return prepare_frames(frames, self.image_size, self.mean, self.std)

    def grid(self, T: int, H: int, W: int) -> tuple[int, int, int]:
        """Token grid ``(t, h, w)`` of a clip of T frames at H x W."""
        return token_grid(self.cfg, T, H, W)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) float -> (B, t*h*w, embed_dim)."""
        return patchify(video, self.cfg.tubelet, self.cfg.patch_size)

    def config_dict(self) -> dict:
        from jepa_vqa.config import to_dict

        return {"model_type": MODEL_TYPE, "vit": to_dict(self.cfg)}
