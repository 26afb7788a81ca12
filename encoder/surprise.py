"""Surprise curves: how badly the world model predicts each time step from the ones before it.

    from encoder.surprise import surprise_curve
    curve = surprise_curve("runs/pretrain-tiny", frames_uint8)   # (T, C, H, W) uint8 -> (t - 1,) float
    curve = surprise_curve("random:test", frames_uint8)          # a seeded random-init JEPA (control)

For token time step ``s = 1 .. t-1`` (t = T / tubelet): the context encoder sees all tokens of time
steps ``< s``; the predictor predicts the tokens of step ``s``; surprise is the L1 error against the
EMA target encoder's latents of step ``s``, computed causally (the target encoder sees only steps
``<= s``, so a later event cannot leak into an earlier value). For an ``mae`` checkpoint the value
is the pixel MSE of reconstructing step ``s`` from earlier steps. Used by ``world-voe`` and the app.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from encoder.api import RANDOM_SEED
from encoder.config import ModelConfig, ViTConfig
from encoder.prepare import IMAGENET_MEAN, IMAGENET_STD, prepare_frames
from encoder.vit import gather_tokens
from jepa_vqa.errors import UserError


@functools.lru_cache(maxsize=4)
def _load_cached(spec: str, stamp: float) -> nn.Module:
    if spec.startswith("random:"):
        from encoder.jepa import JEPA

        try:
            cfg = ModelConfig(vit=ViTConfig.preset(spec.split(":", 1)[1]))
        except ValueError as exc:
            raise UserError(f"surprise spec '{spec}': {exc}") from None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_SEED)
            return JEPA(cfg).eval()
    if spec.startswith("vjepa2:"):
        raise UserError(
            "surprise needs an in-repo pretrain run (with its predictor); vjepa2: is not supported"
        )
    from encoder.objective import load_objective, objective_dir

    if (Path(spec) / WORLD_MODEL_DIR / "config.json").is_file():
        return load_bundled_world_model(Path(spec)).eval()
    if objective_dir(spec) is None:
        raise UserError(
            f"{spec} has no saved objective (objective/ with the predictor): surprise needs a pretrain run dir"
        )
    obj, _, _ = load_objective(spec)
    return obj.eval()


WORLD_MODEL_DIR = "world_model"  # in a VideoQA model dir: the objective's config + predictor weights


def save_bundled_world_model(objective_dir: str | Path, model_dir: str | Path) -> Path:
    """Give a VideoQA model dir its world model at the cost of the predictor alone: the objective's
    config and ``predictor.*`` weights go to ``model_dir/world_model/``; the encoder weights are the
    model's own ``encoder.safetensors`` (the EMA target encoder of the same run)."""
    from safetensors.torch import load_file, save_file

    src, out = Path(objective_dir), Path(model_dir) / WORLD_MODEL_DIR
    out.mkdir(parents=True, exist_ok=True)
    weights = load_file(str(src / "model.safetensors"))
    predictor = {k: v.contiguous() for k, v in weights.items() if k.startswith("predictor.")}
    save_file(predictor, str(out / "predictor.safetensors"))
    (out / "config.json").write_text((src / "config.json").read_text())
    return out


def load_bundled_world_model(model_dir: Path) -> nn.Module:
    """The objective of a VideoQA model dir written with :func:`save_bundled_world_model`; the
    model's encoder serves as context and target encoder alike (as the EMA target does at inference)."""
    import json

    from safetensors.torch import load_file

    from encoder.objective import build_objective
    from jepa_vqa.config import from_dict

    config = json.loads((model_dir / WORLD_MODEL_DIR / "config.json").read_text())
    obj = build_objective(config["objective"], from_dict(ModelConfig, config["model"]))
    backbone = {
        k.removeprefix("backbone."): v for k, v in load_file(str(model_dir / "encoder.safetensors")).items()
    }
    state = load_file(str(model_dir / WORLD_MODEL_DIR / "predictor.safetensors"))
    for part in ("encoder", "target_encoder"):
        state.update({f"{part}.{k}": v for k, v in backbone.items()})
    obj.load_state_dict(state, strict=True)
    return obj


def load_world_model(spec: str | Path) -> nn.Module:
    """The objective (JEPA or MAE) for ``spec``: a run dir, an objective dir, or ``random:<preset>``."""
    spec = str(spec)
    path = Path(spec).expanduser()
    stamp = 0.0
    if not spec.startswith(("random:", "vjepa2:")):
        if not path.is_dir():
            raise UserError(f"surprise spec '{spec}' is not a directory or 'random:<preset>'")
        spec = str(path.resolve())
        config = path / "objective" / "config.json"
        stamp = config.stat().st_mtime if config.is_file() else 0.0
    return _load_cached(spec, stamp)


def _clip(obj: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """uint8 (T, C, H, W) -> normalised float (1, T', C, S, S), T' a multiple of the tubelet."""
    vit = obj.cfg.vit
    video = prepare_frames(frames, vit.img_size, IMAGENET_MEAN, IMAGENET_STD)  # (T, C, S, S)
    T = (video.shape[0] // vit.tubelet) * vit.tubelet
    if T < 2 * vit.tubelet:
        raise UserError(f"surprise needs at least {2 * vit.tubelet} frames, got {frames.shape[0]}")
    return video[:T].unsqueeze(0)


@torch.no_grad()
def surprise_from_objective(obj: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """The surprise curve of a loaded objective; see the module docstring."""
    video = _clip(obj, frames)  # (1, T, C, S, S)
    x, grid = obj.encoder.embed(video)  # (1, N, D)
    t, h, w = grid
    hw = h * w
    is_jepa = getattr(obj, "name", "") == "jepa"
    if is_jepa:
        tgt_x, _ = obj.target_encoder.embed(video)  # (1, N, D)
    else:
        pixels = obj.pixel_targets(video)  # (1, N, P)
    values = []
    for s in range(1, t):
        ctx_idx = torch.arange(s * hw).unsqueeze(0)  # (1, s*hw)
        tgt_idx = torch.arange(s * hw, (s + 1) * hw).unsqueeze(0)  # (1, hw)
        z = obj.encoder.forward_tokens(gather_tokens(x, ctx_idx), ctx_idx, grid)  # (1, s*hw, D)
        if is_jepa:
            upto = torch.arange((s + 1) * hw).unsqueeze(0)
            layers = obj.target_encoder.forward_tokens(
                gather_tokens(tgt_x, upto), upto, grid, return_layers=obj.target_layers
            )
            target = torch.cat(
                [F.layer_norm(y[:, -hw:], y.shape[-1:]) for y in layers], dim=-1
            )  # (1, hw, D')
            pred = obj.predictor(z, ctx_idx, tgt_idx, grid)
            values.append((pred - target).abs().mean())
        else:
            pred = obj.decoder(z, ctx_idx, tgt_idx, grid)
            values.append((pred - gather_tokens(pixels, tgt_idx)).pow(2).mean())
    return torch.stack(values).float()  # (t - 1,)


def surprise_curve(encoder_spec_or_dir, frames_uint8: torch.Tensor) -> torch.Tensor:
    """One surprise value per predicted token time step (``T / tubelet - 1`` values)."""
    obj = (
        encoder_spec_or_dir
        if isinstance(encoder_spec_or_dir, nn.Module)
        else load_world_model(encoder_spec_or_dir)
    )
    return surprise_from_objective(obj, frames_uint8)
