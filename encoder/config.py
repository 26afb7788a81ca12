"""Typed configs for the JEPA encoder, its predictor, the masks and the two objectives.

``ModelConfig`` is what ``encoder.pretrain`` reads from ``configs/pretrain/*.yaml`` (section
``model:``) and what every checkpoint stores next to its weights::

    from jepa_vqa.config import load_config
    cfg = load_config(ModelConfig, None, ["vit.preset=test", "jepa.dense_weight=0.5"])
    vit = ViTConfig.preset("tiny")          # named size presets: test, tiny, small, base, large

Size fields of ``ViTConfig`` left at ``None`` are filled from its ``preset``; explicit values win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

# name -> (img_size, num_frames, patch_size, tubelet, embed_dim, depth, num_heads)
VIT_PRESETS: dict[str, tuple[int, int, int, int, int, int, int]] = {
    "test": (32, 16, 8, 2, 32, 2, 2),
    "tiny": (64, 16, 8, 2, 192, 12, 3),
    "small": (128, 16, 16, 2, 384, 12, 6),
    "base": (224, 16, 16, 2, 768, 12, 12),
    "large": (256, 16, 16, 2, 1024, 24, 16),
}
_PRESET_FIELDS = ("img_size", "num_frames", "patch_size", "tubelet", "embed_dim", "depth", "num_heads")


@dataclass
class ViTConfig:
    """Video ViT: tubelet patches (tubelet x P x P), pre-norm blocks, RoPE or sin-cos positions."""

    preset: str = "tiny"
    img_size: int | None = None
    num_frames: int | None = None
    patch_size: int | None = None
    tubelet: int | None = None
    embed_dim: int | None = None
    depth: int | None = None
    num_heads: int | None = None
    mlp_ratio: float = 4.0
    in_chans: int = 3
    qkv_bias: bool = True
    pos_embed: Literal["rope", "sincos"] = "rope"
    rope_theta: float = 10000.0
    compile: bool = False  # torch.compile each block (speed only; same maths)

    def __post_init__(self) -> None:
        if self.preset not in VIT_PRESETS:
            raise ValueError(f"unknown preset '{self.preset}' (known: {', '.join(VIT_PRESETS)})")
        for name, value in zip(_PRESET_FIELDS, VIT_PRESETS[self.preset]):
            if getattr(self, name) is None:
                setattr(self, name, value)
        for name in _PRESET_FIELDS:
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}")
        if self.img_size % self.patch_size:
            raise ValueError(f"img_size {self.img_size} is not a multiple of patch_size {self.patch_size}")
        if self.num_frames % self.tubelet:
            raise ValueError(f"num_frames {self.num_frames} is not a multiple of tubelet {self.tubelet}")
        if self.head_dim < 6:
            raise ValueError(
                f"head dim {self.head_dim} (embed_dim / num_heads) must be >= 6 for 3D positions"
            )

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    def grid(self, num_frames: int | None = None, height: int | None = None, width: int | None = None):
        """Token grid ``(t, h, w)`` for a clip (defaults: the configured clip size)."""
        t = num_frames or self.num_frames
        h = height or self.img_size
        w = width or self.img_size
        return (t // self.tubelet, h // self.patch_size, w // self.patch_size)


def _vit_preset(cls, name: str, **overrides) -> ViTConfig:
    """``ViTConfig.preset("tiny", depth=4)``: a named size preset, with optional overrides."""
    return cls(preset=name, **overrides)


# The dataclass field ``preset`` (a string on instances) and the constructor ``ViTConfig.preset(name)``
# share a name: instances keep their own ``preset`` attribute, the class gets the classmethod.
ViTConfig.preset = classmethod(_vit_preset)  # type: ignore[assignment,method-assign]


@dataclass
class PredictorConfig:
    """The narrow ViT that predicts target latents (JEPA) or pixels (MAE decoder)."""

    embed_dim: int | None = None  # default: encoder width // 2
    depth: int = 6
    num_heads: int | None = None  # default: encoder heads
    mlp_ratio: float = 4.0

    def __post_init__(self) -> None:
        if self.depth <= 0:
            raise ValueError(f"depth must be positive, got {self.depth}")


@dataclass
class BlockMaskSpec:
    """One mask type: ``num_blocks`` tubes, each covering ``spatial_scale`` of the frame area."""

    num_blocks: int = 8
    spatial_scale: float = 0.15
    temporal_scale: float = 1.0  # fraction of the time steps each block spans
    aspect_ratio: tuple[float, float] = (0.75, 1.5)

    def __post_init__(self) -> None:
        if self.num_blocks <= 0:
            raise ValueError(f"num_blocks must be positive, got {self.num_blocks}")
        if not 0.0 < self.spatial_scale <= 1.0:
            raise ValueError(f"spatial_scale must be in (0, 1], got {self.spatial_scale}")
        if not 0.0 < self.temporal_scale <= 1.0:
            raise ValueError(f"temporal_scale must be in (0, 1], got {self.temporal_scale}")
        lo, hi = self.aspect_ratio
        if not 0.0 < lo <= hi:
            raise ValueError(f"aspect_ratio must be (min, max) with 0 < min <= max, got {self.aspect_ratio}")


def _default_mask_specs() -> list[BlockMaskSpec]:
    return [BlockMaskSpec(8, 0.15), BlockMaskSpec(2, 0.7)]


@dataclass
class MaskConfig:
    """V-JEPA multi-block masks: by default a short-range and a long-range mask per clip."""

    specs: list[BlockMaskSpec] = field(default_factory=_default_mask_specs)

    def __post_init__(self) -> None:
        if not self.specs:
            raise ValueError("specs must name at least one mask type")


@dataclass
class JEPAConfig:
    """EMA target, latent L1 loss, and the V-JEPA 2.1 dense / deep-supervision options."""

    momentum: float = 0.99925
    momentum_end: float = 1.0
    momentum_ramp: bool = False  # linear ramp momentum -> momentum_end over training
    dense_weight: float = 0.0  # weight of the loss on context (visible) tokens; 0 = off
    dense_warmup_steps: int = 0  # linear warm-up of dense_weight from 0
    deep_layers: list[int] = field(default_factory=list)  # encoder blocks used as targets; [] = last

    def __post_init__(self) -> None:
        for name in ("momentum", "momentum_end"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.dense_weight < 0 or self.dense_warmup_steps < 0:
            raise ValueError("dense_weight and dense_warmup_steps must be >= 0")


@dataclass
class MAEConfig:
    """VideoMAE-style pixel baseline; the decoder size comes from ``PredictorConfig``."""

    norm_pix_loss: bool = True  # targets normalised per patch (mean 0, var 1)


@dataclass
class ModelConfig:
    """Everything needed to rebuild an objective (and its encoder) from a checkpoint."""

    vit: ViTConfig = field(default_factory=ViTConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    masks: MaskConfig = field(default_factory=MaskConfig)
    jepa: JEPAConfig = field(default_factory=JEPAConfig)
    mae: MAEConfig = field(default_factory=MAEConfig)

    def __post_init__(self) -> None:
        if self.predictor.embed_dim is None:
            self.predictor.embed_dim = max(self.vit.embed_dim // 2, self.vit.num_heads)
        if self.predictor.num_heads is None:
            self.predictor.num_heads = self.vit.num_heads
        if self.predictor.embed_dim % self.predictor.num_heads:
            raise ValueError(
                f"predictor.embed_dim {self.predictor.embed_dim} is not divisible by "
                f"predictor.num_heads {self.predictor.num_heads}"
            )
        depth = self.vit.depth
        for layer in self.jepa.deep_layers:
            if not -depth <= layer < depth:
                raise ValueError(f"jepa.deep_layers entry {layer} is outside the encoder's {depth} blocks")
