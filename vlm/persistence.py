"""The VideoQA model dir: save, load, export, push to the Hub. Safetensors only, no pickles.

::

    DIR/config.json            VideoQAConfig: encoder spec + config, projector, LLM spec, prompt, frames, version
    DIR/encoder.safetensors    encoder weights (absent for a frozen ``vjepa2:`` encoder: the spec suffices)
    DIR/projector.safetensors  projector weights
    DIR/adapter/               LoRA adapter in peft's format (adapter_config.json, adapter_model.safetensors)
    DIR/llm/                   only in exported dirs: the (merged) LLM, so the dir stands alone
    DIR/tokenizer*.json ...    tokenizer files (+ chat template)
    DIR/README.md              model card: config, training data, results

Writes go to a temp dir beside ``DIR`` that is renamed into place, so readers never see half a model.
"""

from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from encoder.vit import load_weights
from jepa_vqa.atomic import atomic_directory
from jepa_vqa.config import from_dict, read_json, to_dict
from jepa_vqa.errors import UserError
from vlm.config import VideoQAConfig

CONFIG_NAME = "config.json"
ENCODER_WEIGHTS = "encoder.safetensors"
BUNDLED_ENCODER = "."  # config.json's encoder spec when its weights are in the model dir
PROJECTOR_WEIGHTS = "projector.safetensors"
ADAPTER_DIR = "adapter"
LLM_DIR = "llm"
FORMAT = "jepa-vqa"  # config.json "format" (not "model_type": transformers would try to parse it)


# -- writing ---------------------------------------------------------------------------------------
def _save_tensors(module: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


def _stores_encoder_weights(model) -> bool:
    return not model.config.encoder.startswith("vjepa2:") or model.config.unfreeze_encoder_blocks > 0


def _portable_adapter(adapter_dir: Path, llm_spec: str) -> None:
    """peft records the base model by the path it was loaded from (a cache dir of this machine):
    record the model's LLM spec instead, which ``vlm.llm.load_llm`` resolves anywhere, and drop
    peft's template card (the model dir's README.md is the card)."""
    config = adapter_dir / "adapter_config.json"
    data = json.loads(config.read_text())
    data["base_model_name_or_path"] = llm_spec
    config.write_text(json.dumps(data, indent=2) + "\n")
    (adapter_dir / "README.md").unlink(missing_ok=True)


def _write_dir(model, out_dir: Path, config, llm=None) -> None:
    """Write every file of the model dir into the (empty) ``out_dir``."""
    from vlm.card import model_card

    if _stores_encoder_weights(model) and not config.encoder.startswith(("random:", "pixels:", "vjepa2:")):
        config = replace(config, encoder=BUNDLED_ENCODER)  # the dir itself is the encoder's spec
    payload = {"format": FORMAT, **to_dict(config)}
    (out_dir / CONFIG_NAME).write_text(json.dumps(payload, indent=2, default=str) + "\n")
    if _stores_encoder_weights(model):
        _save_tensors(model.encoder, out_dir / ENCODER_WEIGHTS)
    _save_tensors(model.projector, out_dir / PROJECTOR_WEIGHTS)
    if config.lora is not None:
        model.llm.save_pretrained(out_dir / ADAPTER_DIR)
        _portable_adapter(out_dir / ADAPTER_DIR, config.llm)
    if llm is not None:
        llm.save_pretrained(out_dir / LLM_DIR)
        model.tokenizer.save_pretrained(out_dir / LLM_DIR)
    model.tokenizer.save_pretrained(out_dir)
    (out_dir / "README.md").write_text(model_card(model, config))


def _atomic_dir(out_dir: str | Path, write) -> Path:
    """Call ``write(tmp_dir)``, then swap ``tmp_dir`` into ``out_dir`` (replacing an old one)."""
    out_dir = Path(out_dir)
    if out_dir.is_dir() and not (out_dir / CONFIG_NAME).is_file() and any(out_dir.iterdir()):
        raise UserError(f"{out_dir} exists and is not a model dir: refusing to overwrite it")
    with atomic_directory(out_dir) as tmp:
        write(tmp)
    return out_dir


def save_model(model, out_dir: str | Path) -> Path:
    """``VideoQAModel.save_pretrained``: the config, weights, adapter, tokenizer and card."""
    return _atomic_dir(out_dir, lambda tmp: _write_dir(model, tmp, model.config))


def export_model(model, out_dir: str | Path, merge: bool = True) -> Path:
    """A standalone dir: the LLM is written into ``llm/``; ``merge`` folds LoRA into it first."""
    config = copy.deepcopy(model.config)
    config.bundled_llm = True
    llm = model.llm
    if model.is_lora and merge:
        llm = copy.deepcopy(model.llm).merge_and_unload()
        config.lora = None
    elif model.is_lora:
        from vlm.inference import lora_merged

        llm = copy.deepcopy(model.llm)
        if lora_merged(llm):
            llm.unmerge_adapter()  # base weights without the adapter, which is saved apart
        llm = llm.get_base_model()

    def write(tmp: Path) -> None:
        _write_dir(model, tmp, config, llm=llm)

    return _atomic_dir(out_dir, write)


def push_model(model, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Save into a temp dir and upload it with ``huggingface_hub`` (create the repo if needed)."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    with tempfile.TemporaryDirectory() as tmp:
        local = save_model(model, Path(tmp) / "model")
        info = api.upload_folder(
            repo_id=repo_id, folder_path=str(local), commit_message="Upload jepa-vqa model"
        )
    return str(info)


# -- reading ---------------------------------------------------------------------------------------
def resolve_model_dir(path_or_id: str | Path) -> Path:
    """A local model dir, or a Hub repo id downloaded (or found in the HF cache when offline)."""
    path = Path(path_or_id).expanduser()
    if path.exists():
        if not (path / CONFIG_NAME).is_file():
            raise UserError(f"{path} is not a model dir (no {CONFIG_NAME})")
        return path
    text = str(path_or_id)
    if text.count("/") != 1 or text.startswith((".", "/")):
        raise UserError(f"model '{text}' is neither a local dir nor a Hub id (owner/name)")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(text))
    except Exception as exc:  # noqa: BLE001 - offline, missing repo, auth: all bad input here
        raise UserError(f"cannot fetch model '{text}' from the Hub: {str(exc).splitlines()[0]}") from None


def read_config(model_dir: Path):
    """The strict :class:`VideoQAConfig` of a model dir."""
    data = read_json(model_dir / CONFIG_NAME)
    if not isinstance(data, dict) or data.pop("format", None) != FORMAT:
        raise UserError(f'{model_dir} is not a jepa-vqa model dir (config.json has no "format": "{FORMAT}")')
    return from_dict(VideoQAConfig, data)


def _load_encoder(model_dir: Path, config):
    """Rebuild the encoder from its saved config and weights; a frozen vjepa2 one from its spec."""
    from encoder import encoder_from_config, load_encoder

    if not (model_dir / ENCODER_WEIGHTS).is_file():
        return load_encoder(config.encoder).eval()
    enc = encoder_from_config(config.encoder_config, config.encoder)
    load_weights(enc, model_dir / ENCODER_WEIGHTS)
    return enc.eval()


def load_model(cls, path_or_id: str | Path, dtype=None, trainable: bool = False):
    """``VideoQAModel.from_pretrained``: rebuild the model from its dir alone."""
    from transformers import AutoTokenizer

    from vlm.llm import load_llm

    model_dir = resolve_model_dir(path_or_id)
    config = read_config(model_dir)
    encoder = _load_encoder(model_dir, config)
    llm, _ = load_llm(str(model_dir / LLM_DIR) if config.bundled_llm else config.llm, dtype=dtype)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if config.lora is not None:
        from peft import PeftModel

        llm = PeftModel.from_pretrained(llm, model_dir / ADAPTER_DIR, is_trainable=trainable)
    model = cls(config, encoder, llm, tokenizer)
    load_weights(model.projector, model_dir / PROJECTOR_WEIGHTS)
    model.name = str(path_or_id)
    model.eval()
    return model
