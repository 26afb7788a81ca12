"""jepa_vqa.attention: the bf16 CPU training path equals torch's fused attention, and is only
taken where it pays (a differentiated bf16 forward on CPU)."""

import pytest
import torch
import torch.nn.functional as F

from jepa_vqa import attention as attn


def _qkv(dtype=torch.float32, requires_grad=True, n=12):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(2, 3, n, 8, generator=g, dtype=dtype).requires_grad_(requires_grad) for _ in range(3)]


def _grads(fn, q, k, v, mask=None):
    q, k, v = (t.detach().clone().requires_grad_() for t in (q, k, v))
    out = fn(q, k, v, mask)
    out.backward(torch.ones_like(out) * torch.linspace(-1, 1, out.shape[-1]))
    return out.detach(), q.grad, k.grad, v.grad


def _sdpa(q, k, v, mask=None):
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


@pytest.mark.parametrize("mask_kind", [None, "bool", "float"])
def test_matmul_attention_matches_sdpa_values_and_gradients(mask_kind):
    q, k, v = _qkv(torch.float64)
    mask = None
    if mask_kind is not None:
        keep = torch.rand(2, 1, 12, 12, generator=torch.Generator().manual_seed(1)) > 0.3
        keep[..., 0] = True  # every query sees at least one key
        mask = (
            keep
            if mask_kind == "bool"
            else torch.zeros(keep.shape, dtype=torch.float64).masked_fill(~keep, -1e9)
        )
    ours, theirs = _grads(attn.matmul_attention, q, k, v, mask), _grads(_sdpa, q, k, v, mask)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b)


def test_bf16_training_path_is_close_to_fp32():
    q, k, v = _qkv(torch.float32, n=64)
    ref = _grads(_sdpa, q, k, v)
    low = _grads(attn.attention, *(t.detach().bfloat16() for t in (q, k, v)))
    for a, b in zip(low, ref, strict=True):
        rel = (a.float() - b).norm() / b.norm()
        assert rel < 0.03, rel


def _cpu(monkeypatch, flags):
    from jepa_vqa import precision

    monkeypatch.setattr(precision, "_cpuinfo", lambda: ("cpu", frozenset(flags)))


def test_dispatch_on_amx_only_differentiated_bf16_cpu_forwards_take_the_matmul_form(monkeypatch):
    _cpu(monkeypatch, {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
    calls = []
    monkeypatch.setattr(attn, "matmul_attention", lambda *a: calls.append("matmul") or _sdpa(*a))
    attn.attention(*_qkv(torch.bfloat16))
    assert calls == ["matmul"]
    attn.attention(*_qkv(torch.float32))  # fp32: the fused kernel
    attn.attention(*_qkv(torch.bfloat16, requires_grad=False))  # nothing to differentiate
    with torch.no_grad():
        attn.attention(*_qkv(torch.bfloat16))  # e.g. the EMA target's forward
    assert calls == ["matmul"]


def test_dispatch_without_amx_every_bf16_cpu_forward_takes_the_matmul_form(monkeypatch):
    _cpu(monkeypatch, {"avx512f", "avx512_bf16"})
    calls = []
    monkeypatch.setattr(attn, "matmul_attention", lambda *a: calls.append("matmul") or _sdpa(*a))
    with torch.no_grad():
        attn.attention(*_qkv(torch.bfloat16))  # the EMA target's forward
    attn.attention(*_qkv(torch.bfloat16))
    attn.attention(*_qkv(torch.float32))  # fp32: the fused kernel
    assert calls == ["matmul", "matmul"]
    monkeypatch.setattr(attn, "MAX_NO_GRAD_SCORES", 10)
    with torch.no_grad():
        attn.attention(*_qkv(torch.bfloat16))  # scores too large to hold: the fused kernel
    assert calls == ["matmul", "matmul"]


def test_softmax_stays_bf16_under_autocast():
    q, k, v = _qkv(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = attn.attention(q, k, v)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), _sdpa(q.float(), k.float(), v.float()), atol=0.03, rtol=0.03)


@pytest.mark.parametrize("padded", [False, True])
def test_llm_attention_matches_transformers_sdpa(monkeypatch, tmp_path, padded):
    """Forced onto the matmul path (float64 so that the comparison is exact), the tiny test Llama
    (grouped KV heads, as SmolLM2 has) gives sdpa's logits and input gradients, causal and with
    right padding."""
    from transformers import AutoModelForCausalLM

    from vlm.testing import make_tiny_llm

    ids = torch.randint(0, 64, (2, 10), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, 10, dtype=torch.long)
    if padded:
        mask[1, 7:] = 0

    def run(llm):
        emb = llm.get_input_embeddings()(ids).detach().requires_grad_()
        logits = llm(inputs_embeds=emb, attention_mask=mask, use_cache=False).logits
        (logits * mask[..., None]).sum().backward()
        return logits.detach() * mask[..., None], emb.grad * mask[..., None]

    llm = AutoModelForCausalLM.from_pretrained(make_tiny_llm(tmp_path)).double().eval()
    assert llm.config.num_key_value_heads < llm.config.num_attention_heads
    expected = run(llm)
    monkeypatch.setattr(attn, "_differentiated_bf16_on_cpu", lambda *t: True)
    calls, matmul = [], attn.matmul_attention
    monkeypatch.setattr(attn, "matmul_attention", lambda *a: calls.append(1) or matmul(*a))
    attn.use_training_attention(llm)
    got = run(llm)
    assert calls, "the matmul path was not taken"
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b)
