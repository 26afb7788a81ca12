"""``load_encoder(spec) -> VideoEncoder``: frames in, tokens out, whatever the encoder's origin.

    enc = load_encoder("runs/pretrain-tiny")      # a pretrain run dir (uses DIR/encoder/) or an exported dir
    enc = load_encoder("random:test")             # seeded random init of a preset (controls, tests)
    enc = load_encoder("pixels:tiny")             # the frames' own patches on the preset's grid (a control)
    enc = load_encoder("vjepa2:facebook/vjepa2-vitl-fpc64-256")   # official weights (or a local dir)
    video = enc.prepare(frames_uint8)             # (T, C, H, W) uint8 -> (T, C, S, S) float, normalised
    tokens = enc(video[None])                     # (1, t*h*w, enc.embed_dim), (time, height, width) order
    enc.save_pretrained("out/encoder")            # config.json + model.safetensors; load_encoder round-trips

A model that embeds the encoder stores ``enc.config_dict()`` and ``enc.state_dict()``;
``encoder_from_config(config_dict)`` rebuilds the module (random weights) to load that state into.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from encoder.config import ViTConfig
from encoder.prepare import IMAGENET_MEAN, IMAGENET_STD, prepare_frames  # noqa: F401 - re-exported
from encoder.vit import MODEL_TYPE, VisionTransformer, load_weights, read_config
from jepa_vqa.errors import UserError

RANDOM_SEED = 0


class VideoEncoder(nn.Module):
    """An in-repo JEPA ViT behind the encoder contract (see module docstring)."""

    def __init__(self, backbone: VisionTransformer, spec: str, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> None:
        super().__init__()
        self.backbone = backbone
        self.spec = spec
        cfg = backbone.cfg
        self.embed_dim = cfg.embed_dim
        self.num_frames = cfg.num_frames
        self.image_size = cfg.img_size
        self.mean, self.std = tuple(mean), tuple(std)

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 (T, C, H, W) -> normalised float (T, C, image_size, image_size)."""
        return prepare_frames(frames, self.image_size, self.mean, self.std)

    def grid(self, T: int, H: int, W: int) -> tuple[int, int, int]:
        return self.backbone.grid(T, H, W)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) float -> (B, t*h*w, embed_dim)."""
        return self.backbone(video)

    def config_dict(self) -> dict:
        from jepa_vqa.config import to_dict

        return {"model_type": MODEL_TYPE, "vit": to_dict(self.backbone.cfg)}

    def save_pretrained(self, out_dir: str | Path) -> Path:
        return self.backbone.save_pretrained(out_dir)


def encoder_from_config(config: dict, spec: str = "") -> nn.Module:
    """Rebuild an encoder module (random weights) from ``config_dict()``, to load a saved state into."""
    model_type = config.get("model_type")
    if model_type == MODEL_TYPE:
        from jepa_vqa.config import from_dict

        return VideoEncoder(VisionTransformer(from_dict(ViTConfig, config["vit"])), spec)
    if model_type == "pixels":
        from encoder.pixels import PixelEncoder
        from jepa_vqa.config import from_dict

        return PixelEncoder(from_dict(ViTConfig, config["vit"]), spec)
    if model_type == "vjepa2":
        from encoder.vjepa2 import VJEPA2Encoder

        return VJEPA2Encoder.from_config_dict(config, spec)
    raise UserError(f"unknown encoder model_type {model_type!r} in config")


def random_encoder(preset: str, seed: int = RANDOM_SEED) -> VideoEncoder:
    """``random:<preset>``: a seeded random init that leaves the global RNG untouched."""
    try:
        cfg = ViTConfig.preset(preset)
    except ValueError as exc:
        raise UserError(f"encoder spec 'random:{preset}': {exc}") from None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = VisionTransformer(cfg)
    return VideoEncoder(backbone, f"random:{preset}")


def _load_dir(path: Path) -> nn.Module:
    if (path / "encoder" / "config.json").is_file():  # a pretrain run dir
        return _load_dir(path / "encoder")
    if (path / "config.json").is_file() and (path / "encoder.safetensors").is_file():  # a VideoQA model dir
        config = read_config(path)
        if "encoder_config" in config:
            encoder = encoder_from_config(config["encoder_config"], str(path))
            load_weights(encoder, path / "encoder.safetensors")
            return encoder
    if (path / "config.json").is_file():
        config = read_config(path)
        if config.get("model_type") == MODEL_TYPE:
            return VideoEncoder(VisionTransformer.from_pretrained(path), str(path))
        if config.get("model_type") == "vjepa2":
            from encoder.vjepa2 import load_vjepa2

            return load_vjepa2(str(path), spec=str(path))
    from encoder.objective import load_objective, objective_dir

    if objective_dir(path) is not None:  # a run dir with only the full objective saved
        obj, _, _ = load_objective(path)
        return VideoEncoder(obj.export_encoder(), str(path))
    raise UserError(f"{path} holds no encoder (expected config.json + model.safetensors, or encoder/)")


def load_encoder(spec: str) -> nn.Module:
    """A ``VideoEncoder`` from a dir, ``vjepa2:<hub id or dir>``, ``random:<preset>`` or
    ``pixels:<preset>`` (the frames' own patches: ``encoder.pixels``)."""
    spec = str(spec)
    if spec.startswith("random:"):
        return random_encoder(spec.split(":", 1)[1]).eval()
    if spec.startswith("pixels:"):
        from encoder.pixels import PixelEncoder

        return PixelEncoder.from_preset(spec.split(":", 1)[1])
    if spec.startswith("vjepa2:"):
        from encoder.vjepa2 import load_vjepa2

        return load_vjepa2(spec.split(":", 1)[1], spec=spec).eval()
    path = Path(spec).expanduser()
    if path.is_dir():
        return _load_dir(path.resolve()).eval()
    raise UserError(
        f"encoder spec '{spec}' is not a directory, 'vjepa2:<hub id or dir>', 'random:<preset>' or 'pixels:<preset>'"
    )
