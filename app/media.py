"""Checking an uploaded video and turning decoded frames into pictures for the gallery.

Usage:

    video = check_video("clip.mp4", AppConfig())  # a probed VideoFile, or UserError with a readable message
    browser_playable("clip.mp4", video.info)     # False: no preview (Chromium cannot play it)
    images = gallery_images(frames)               # frames: uint8 (T, C, H, W) -> list of (H, W, 3)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from app.config import AppConfig
from jepa_vqa.errors import UserError

PLAYABLE = {  # container suffix -> codecs a browser plays in it (the app has no ffmpeg to convert)
    ".mp4": {"h264", "av1", "vp9"},
    ".m4v": {"h264"},
    ".mov": {"h264"},
    ".webm": {"vp8", "vp9", "av1"},
    ".ogg": {"theora"},
    ".ogv": {"theora"},
}
MIN_GALLERY_SIDE = 160  # tiny world clips (64 px) are upscaled so the gallery shows them crisply


def check_video(path: str | Path | None, cfg: AppConfig):
    """Refuse a missing, empty, oversized, undecodable or too long video; return it as a `VideoFile`
    (probed once: its `info` here, its frames later without opening the header again)."""
    from vlm import VideoDecodeError, VideoFile

    if path is None or str(path) == "":
        raise UserError("no video: upload a clip or pick an example")
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise UserError(f"{name}: file not found")
    size_mb = path.stat().st_size / 1e6
    if size_mb == 0:
        raise UserError(f"{name}: the file is empty")
    if size_mb > cfg.max_upload_mb:
        raise UserError(f"{name}: the file is {size_mb:.1f} MB, the limit is {cfg.max_upload_mb:g} MB")
    try:
        video = VideoFile(path)
    except VideoDecodeError as exc:
        raise UserError(f"{name}: {exc.problem}") from None
    info = video.info
    if info.frames is not None and info.frames < 1:
        raise UserError(f"{name}: the video has no frames")
    if info.duration_s is not None and info.duration_s > cfg.max_duration_s:
        raise UserError(
            f"{name}: the video is {info.duration_s:.0f} s long, the limit is {cfg.max_duration_s:g} s"
        )
    return video


def browser_playable(path: str | Path, info) -> bool:
    """Whether a browser's video player can show this file (else the app shows only its frames)."""
    return (info.codec or "").lower() in PLAYABLE.get(Path(path).suffix.lower(), set())


def gallery_images(frames: torch.Tensor) -> list[np.ndarray]:
    """uint8 (T, C, H, W) -> T images (H', W', 3), nearest-upscaled to at least MIN_GALLERY_SIDE."""
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"expected frames (T, 3, H, W), got {tuple(frames.shape)}")
    side = min(frames.shape[-2:])
    scale = max(1, -(-MIN_GALLERY_SIDE // side))  # ceil division
    images = frames.permute(0, 2, 3, 1)  # (T, H, W, C)
    if scale > 1:
        images = images.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)  # (T, sH, sW, C)
    return [img.contiguous().numpy() for img in images]
