"""The JEPA video encoder: model (`vit`), objectives (`jepa`, `mae`), loaders (`api`, `vjepa2`).

    from encoder import load_encoder
    enc = load_encoder("random:test")          # or a run dir, an exported dir, "vjepa2:<id or dir>"
    tokens = enc(enc.prepare(frames_uint8)[None])

Names are imported lazily, so `import encoder` (and the CLI) stays fast and never imports transformers.
"""

from __future__ import annotations

from jepa_vqa.lazy import lazy_exports

_EXPORTS = {
    "load_encoder": "encoder.api",
    "VideoEncoder": "encoder.api",
    "encoder_from_config": "encoder.api",
    "build_objective": "encoder.objective",
    "load_objective": "encoder.objective",
    "save_objective": "encoder.objective",
    "ModelConfig": "encoder.config",
    "ViTConfig": "encoder.config",
    "VisionTransformer": "encoder.vit",
    "surprise_curve": "encoder.surprise",
}

__getattr__, __all__ = lazy_exports("encoder", _EXPORTS)
