"""The world model behind a VideoQA model: which JEPA predictor draws its surprise curves, and a
clip's curve next to that of a still copy of the clip (the app's world-model view).

    spec = world_model_spec(model)          # the model dir if it bundles world_model/, else its encoder
    s = clip_surprise(spec, frames)         # uint8 (T, C, H, W) -> s.curve, s.still (S,), s.frames_per_step

The curves are `encoder.surprise.surprise_curve`, the same code the `world-voe` eval task uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from encoder.surprise import WORLD_MODEL_DIR, load_world_model, surprise_curve


@dataclass
class ClipSurprise:
    """A clip's surprise curve and the curve of its first frame repeated (nothing happens)."""

    curve: torch.Tensor  # (S,) one value per predicted token time step
    still: torch.Tensor  # (S,) the same for the still copy: the noise level
    frames_per_step: int  # frames per token time step (the encoder's tubelet)


def world_model_spec(model) -> str | None:
    """Where the surprise curve's JEPA predictor comes from: the model dir when it bundles its world
    model (``world_model/``), else the model's own encoder spec (a pretrain run dir)."""
    model_dir = Path(getattr(model, "name", "") or "")
    if str(model_dir) and (model_dir / WORLD_MODEL_DIR / "config.json").is_file():
        return str(model_dir)
    return model.config.encoder


def clip_surprise(spec: str, frames: torch.Tensor) -> ClipSurprise:
    """The surprise of uint8 ``frames`` (T, C, H, W) under the world model ``spec`` (a model dir with
    ``world_model/``, a pretrain run dir, or ``random:<preset>``); bad specs raise UserError."""
    world = load_world_model(spec)
    curve = surprise_curve(world, frames)  # (S,)
    still = surprise_curve(world, frames[:1].expand_as(frames).contiguous())  # (S,)
    return ClipSurprise(curve, still, world.cfg.vit.tubelet)
