"""Official V-JEPA 2 weights (``transformers.VJEPA2Model``) behind the ``VideoEncoder`` contract.

    enc = load_encoder("vjepa2:facebook/vjepa2-vitl-fpc64-256")   # Hub id (needs the Hub) or a local dir
    tokens = enc(enc.prepare(frames_uint8)[None])                  # (1, t*h*w, 1024)

Preprocessing follows the checkpoint's video processor config (crop size, mean, std; the shorter
side is resized to crop * 256/224 before the centre crop, like ``VJEPA2VideoProcessor``), falling
back to the model config's ``crop_size`` and ImageNet statistics. transformers is imported lazily.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from encoder.prepare import IMAGENET_MEAN, IMAGENET_STD, prepare_frames
from jepa_vqa.errors import UserError

PROCESSOR_FILES = ("video_preprocessor_config.json", "preprocessor_config.json")
RESIZE_RATIO = 256 / 224


class VJEPA2Encoder(nn.Module):
    """Frames in, V-JEPA 2 encoder tokens out (the predictor is never run)."""

    def __init__(self, model, spec: str, image_size: int | None = None, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.model = model
        cfg = model.config
        self.spec = spec
        self.embed_dim = cfg.hidden_size
        self.num_frames = cfg.frames_per_clip
        self.image_size = int(image_size or cfg.crop_size)
        self.mean, self.std = tuple(mean), tuple(std)
        self.tubelet = cfg.tubelet_size
        self.patch_size = cfg.patch_size if isinstance(cfg.patch_size, int) else cfg.patch_size[0]

    def prepare(self, frames: torch.Tensor) -> torch.Tensor:
        return prepare_frames(frames, self.image_size, self.mean, self.std, resize_ratio=RESIZE_RATIO)

    def grid(self, T: int, H: int, W: int) -> tuple[int, int, int]:
        if T % self.tubelet or H % self.patch_size or W % self.patch_size:
            raise UserError(
                f"video of {T} frames at {H}x{W} does not fit tubelet {self.tubelet} / patch {self.patch_size}"
            )
        return (T // self.tubelet, H // self.patch_size, W // self.patch_size)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) float -> (B, t*h*w, hidden_size)."""
        self.grid(*video.shape[1:2], *video.shape[-2:])
        return self.model.encoder(pixel_values_videos=video).last_hidden_state

    def config_dict(self) -> dict:
        return {
            "model_type": "vjepa2",
            "hf_config": self.model.config.to_dict(),
            "image_size": self.image_size,
            "mean": list(self.mean),
            "std": list(self.std),
        }

    @classmethod
    def from_config_dict(cls, config: dict, spec: str = "") -> VJEPA2Encoder:
        """Random-weight module from :meth:`config_dict` (load a saved state into it)."""
        from transformers import VJEPA2Config, VJEPA2Model

        model = VJEPA2Model(VJEPA2Config.from_dict(config["hf_config"]))
        return cls(
            model,
            spec,
            config.get("image_size"),
            config.get("mean", IMAGENET_MEAN),
            config.get("std", IMAGENET_STD),
        )

    def save_pretrained(self, out_dir: str | Path) -> Path:
        """The HF model files plus a video processor config; ``load_encoder(out_dir)`` reads both."""
        out_dir = Path(out_dir)
        self.model.save_pretrained(out_dir)
        processor = {"crop_size": self.image_size, "image_mean": list(self.mean), "image_std": list(self.std)}
        (out_dir / PROCESSOR_FILES[0]).write_text(json.dumps(processor, indent=2))
        return out_dir


def _processor_config(source: str) -> dict:
    """The checkpoint's video processor settings, from a local dir or the Hub; {} if there are none."""
    local = Path(source).expanduser()
    for name in PROCESSOR_FILES:
        if local.is_dir():
            path = local / name
        else:
            try:
                from huggingface_hub import hf_hub_download

                path = Path(hf_hub_download(source, name))
            except Exception:  # noqa: BLE001 - the file is optional; fall back to the model config
                continue
        if path.is_file():
            return json.loads(path.read_text())
    return {}


def _crop(value) -> int | None:
    if isinstance(value, dict):
        return value.get("height") or value.get("shortest_edge")
    return value


def load_vjepa2(source: str, spec: str | None = None) -> VJEPA2Encoder:
    """Load ``VJEPA2Model`` from a Hub id or a local dir and wrap it."""
    if not source:
        raise UserError("encoder spec 'vjepa2:' needs a Hub id or a directory after the colon")
    if source.startswith(("/", ".", "~")) and not Path(source).expanduser().is_dir():
        raise UserError(f"encoder spec 'vjepa2:{source}': no such directory")
    from transformers import VJEPA2Model

    try:
        model = VJEPA2Model.from_pretrained(
            str(Path(source).expanduser()) if Path(source).expanduser().is_dir() else source
        )
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load V-JEPA 2 model '{source}': {str(exc).splitlines()[0]}") from None
    proc = _processor_config(source)
    return VJEPA2Encoder(
        model.eval(),
        spec or f"vjepa2:{source}",
        image_size=_crop(proc.get("crop_size")),
        mean=proc.get("image_mean", IMAGENET_MEAN),
        std=proc.get("image_std", IMAGENET_STD),
    )
