"""Pretraining augmentation: one crop per clip in every frame, deterministic per step, valid ranges."""

from __future__ import annotations

import pytest
import torch

from encoder.augment import ClipAugment
from encoder.pretrain import PretrainConfig, mask_generator
from jepa_vqa.config import load_config
from jepa_vqa.errors import ConfigError


def _moving_square(T: int = 4, size: int = 32) -> torch.Tensor:
    """(T, 3, size, size): a bright 4 px square moving right one pixel a frame on a dark frame."""
    video = torch.zeros(T, 3, size, size)
    for t in range(T):
        video[t, :, 10:14, 8 + t : 12 + t] = 1.0
    return video


def test_identity_box_keeps_the_clip():
    video = torch.randn(2, 4, 3, 16, 16)
    augment = ClipAugment(scale=(1.0, 1.0), aspect_ratio=(1.0, 1.0), flip=False)
    torch.testing.assert_close(augment(video, torch.Generator().manual_seed(0)), video)


def test_one_crop_for_all_frames_and_the_same_draw_per_step():
    clip = _moving_square()[0:1].expand(4, -1, -1, -1)  # (T, C, H, W): the same frame 4 times
    video = torch.stack([clip, clip, clip])  # (B=3, T, C, H, W)
    augment = ClipAugment(scale=(0.3, 0.6))
    out = augment(video, mask_generator(0, 5, 0, stream=1))
    assert out.shape == video.shape
    for b in range(3):  # every frame of a clip goes through the same box (and flip)
        for t in range(1, 4):
            torch.testing.assert_close(out[b, t], out[b, 0])
    assert not torch.allclose(out[0], video[0])  # a crop of 30-60% of the frame zooms in
    again = augment(video, mask_generator(0, 5, 0, stream=1))
    torch.testing.assert_close(again, out)  # a pure function of (seed, step, rank)
    other = augment(video, mask_generator(0, 6, 0, stream=1))
    assert not torch.allclose(other, out)


def test_flip_mirrors_motion_and_crops_stay_inside():
    video = _moving_square().unsqueeze(0)  # (1, T, C, H, W)
    flip_only = ClipAugment(scale=(1.0, 1.0), aspect_ratio=(1.0, 1.0), flip=True)
    flipped = [flip_only(video, torch.Generator().manual_seed(s)) for s in range(16)]
    mirrored = [torch.equal(f, video.flip(-1)) for f in flipped]
    assert any(mirrored) and not all(mirrored)  # about half the draws flip, the rest are unchanged
    assert all(m or torch.equal(f, video) for f, m in zip(flipped, mirrored))
    augment = ClipAugment(scale=(0.3, 1.0), aspect_ratio=(0.75, 1.35))
    gen = torch.Generator().manual_seed(1)
    for _ in range(200):
        top, left, h, w = augment.box(64, 48, gen)
        assert 0 <= top and top + h <= 64 and 0 <= left and left + w <= 48 and h > 0 and w > 0


def test_masks_unchanged_and_bad_ranges_refused():
    # stream 0 is the masks' generator of earlier versions (runs reproduce across the change)
    assert mask_generator(3, 7, 1).initial_seed() == (3 * 1_000_003 + 7) * 4099 + 1
    assert mask_generator(3, 7, 1, stream=1).initial_seed() != mask_generator(3, 7, 1).initial_seed()
    base = ["data.path=x", "data.augment=true"]
    assert load_config(PretrainConfig, None, base).data.augmenter() is not None
    assert load_config(PretrainConfig, None, ["data.path=x"]).data.augmenter() is None
    for bad in ("data.crop_scale=[0.0, 1.0]", "data.crop_scale=[0.8, 0.5]", "data.crop_aspect_ratio=[-1, 2]"):
        with pytest.raises(ConfigError, match="crop"):
            load_config(PretrainConfig, None, [*base, bad])
