"""The objective registry and its on-disk format (the one interface the training loop uses).

    obj = build_objective("jepa", cfg)          # or "mae"; cfg: encoder.config.ModelConfig
    masks = obj.masker()(batch_size, generator)
    loss, info = obj(video, masks, step)        # info: python floats, incl. "target_std"
    obj.update_target(step, total_steps)        # EMA (jepa) / no-op (mae)
    encoder = obj.export_encoder()              # a VisionTransformer
    save_objective(obj, cfg, "jepa", run_dir / "objective")
    obj, cfg, name = load_objective(run_dir)    # accepts DIR or DIR/objective

On disk: ``config.json`` = ``{"objective": name, "model": <ModelConfig>}`` and ``model.safetensors``
with the whole objective (encoder, EMA target, predictor / decoder), enough to rebuild it alone.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from encoder.config import ModelConfig
from encoder.jepa import JEPA
from encoder.mae import MAE
from encoder.vit import WEIGHTS_NAME, load_weights, read_config, save_weights_and_config
from jepa_vqa.errors import UserError

OBJECTIVES: dict[str, type[nn.Module]] = {"jepa": JEPA, "mae": MAE}
OBJECTIVE_DIR = "objective"


def build_objective(name: str, cfg: ModelConfig) -> nn.Module:
    """A fresh objective module: ``"jepa"`` (latent prediction, EMA target) or ``"mae"`` (pixels)."""
    if name not in OBJECTIVES:
        raise UserError(f"unknown objective '{name}' (known: {', '.join(OBJECTIVES)})")
    return OBJECTIVES[name](cfg)


def save_objective(obj: nn.Module, cfg: ModelConfig, name: str, out_dir: str | Path) -> Path:
    """Write the objective's config and all its weights (atomically per file) to ``out_dir``."""
    from jepa_vqa.config import to_dict

    out_dir = Path(out_dir)
    save_weights_and_config(obj.state_dict(), {"objective": name, "model": to_dict(cfg)}, out_dir)
    return out_dir


def objective_dir(path: str | Path) -> Path | None:
    """The objective dir inside ``path`` (a run dir or the objective dir itself), or None."""
    path = Path(path)
    for candidate in (path, path / OBJECTIVE_DIR):
        if (candidate / "config.json").is_file() and (candidate / WEIGHTS_NAME).is_file():
            if "objective" in read_config(candidate):
                return candidate
    return None


def load_objective(path: str | Path) -> tuple[nn.Module, ModelConfig, str]:
    """Rebuild ``(objective, ModelConfig, name)`` from a dir written by :func:`save_objective`."""
    from jepa_vqa.config import from_dict

    found = objective_dir(path)
    if found is None:
        raise UserError(
            f"no saved objective in {path} (expected {OBJECTIVE_DIR}/config.json + {WEIGHTS_NAME})"
        )
    config = read_config(found)
    name = config.get("objective")
    cfg = from_dict(ModelConfig, config.get("model", {}))
    obj = build_objective(name, cfg)
    load_weights(obj, found / WEIGHTS_NAME)
    return obj, cfg, name
