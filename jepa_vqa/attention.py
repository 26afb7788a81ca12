"""Self-attention that is fast to train in bf16 on a CPU.

torch's fused CPU attention (flash) barely profits from bf16 matrix units in its backward. Written
as two bf16 matmuls around a bf16 softmax, whose backward autograd runs as bf16 matmuls too, the
attention trains faster: on a 2-core Xeon with AMX the tiny pretraining step went from 1.46x to
1.80x its fp32 speed, and alignment's stage 2 from about 4.8 to 5.7 answers/s (docs/perf.md).
Without AMX (AVX512-BF16 only, e.g. AMD Zen 5) the matmul form is faster in no-grad forwards too:
the tiny ViT's bf16 forward at batch 16 took 384-563 ms against 520-578 fused (four interleaved
runs of ``benchmarks/cpu_attention.py --threads 2 --encoder tiny``); with AMX the fused kernel is
the fastest forward. So a bf16 CPU forward takes the matmul form when it will be differentiated or
when the CPU has no AMX (and its scores fit in 256 MB); everything else (fp32, CUDA, an AMX CPU's
no-grad forwards such as the EMA target's) keeps the fused kernel::

    out = attention(q, k, v, attn_mask)   # (B, heads, N, hd) each -> (B, heads, N, hd)
    use_training_attention(llm)           # the training rule inside a transformers LLM

The matmul form holds the (B, heads, N, N) probabilities for the backward (25 MB per layer at the
size above), as any non-fused attention does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from jepa_vqa.precision import cpu_has_amx

# The no-grad matmul form materialises the (B, heads, N, M) scores; above this many elements
# (256 MB in bf16) the memory-efficient fused kernel is kept.
MAX_NO_GRAD_SCORES = 2**27


def _bf16_on_cpu_without_amx(q: torch.Tensor, k: torch.Tensor) -> bool:
    small = q.shape[:-1].numel() * k.shape[-2] <= MAX_NO_GRAD_SCORES
    return q.dtype == torch.bfloat16 and q.device.type == "cpu" and small and not cpu_has_amx()


def _differentiated_bf16_on_cpu(*tensors: torch.Tensor) -> bool:
    q = tensors[0]
    return (
        q.dtype == torch.bfloat16
        and q.device.type == "cpu"
        and torch.is_grad_enabled()
        and any(t.requires_grad for t in tensors)
    )


def matmul_attention(q, k, v, attn_mask=None, scale=None):
    """softmax(q k^T * scale [+ mask]) v in the inputs' dtype, as autograd-visible ops.

    ``attn_mask``: bool (True = attend) or additive float, broadcastable to (B, heads, N, M);
    ``scale`` defaults to 1/sqrt(hd). A query row with every key masked gets a uniform average
    instead of NaN (such rows are padding, whose outputs nothing reads).
    """
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    scores = (q * scale) @ k.transpose(-1, -2)  # (B, heads, N, M)
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attn_mask, torch.finfo(scores.dtype).min)
    elif attn_mask is not None:
        scores = scores + attn_mask.to(scores.dtype)
    with torch.autocast(q.device.type, enabled=False):  # keep the softmax in bf16
        probs = torch.softmax(scores, dim=-1)
    return probs @ v  # (B, heads, N, hd)


def attention(q, k, v, attn_mask=None):
    """Scaled dot-product attention, (B, heads, N, hd) -> (B, heads, N, hd); see the module doc."""
    if _differentiated_bf16_on_cpu(q, k, v) or _bf16_on_cpu_without_amx(q, k):
        return matmul_attention(q, k, v, attn_mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)


def hf_attention(
    module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs
):
    """The same rule as a transformers attention function (``AttentionInterface``): query
    (B, heads, L, hd), key/value (B, kv_heads, S, hd) -> ((B, L, heads, hd), None). Anything this
    path does not cover (dropout, softcap, fp32, no grad) goes to transformers' own sdpa."""
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    if dropout or kwargs.get("softcap") is not None or not _differentiated_bf16_on_cpu(query, key, value):
        return sdpa_attention_forward(
            module,
            query,
            key,
            value,
            attention_mask,
            dropout=dropout,
            scaling=scaling,
            is_causal=is_causal,
            **kwargs,
        )
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)  # (B, heads, S, hd)
    q_len, kv_len = query.shape[2], key.shape[2]
    if attention_mask is not None:
        attention_mask = attention_mask[:, :, :, :kv_len]
    elif q_len > 1 and (is_causal if is_causal is not None else getattr(module, "is_causal", True)):
        attention_mask = torch.ones(q_len, kv_len, dtype=torch.bool, device=query.device).tril(kv_len - q_len)
    out = matmul_attention(query, key, value, attention_mask, scaling)  # (B, heads, L, hd)
    return out.transpose(1, 2).contiguous(), None


HF_NAME = "jepa_vqa_training"


def use_training_attention(llm) -> None:
    """Route ``llm``'s attention through :func:`hf_attention` (registered once with transformers)."""
    from transformers import AttentionInterface

    AttentionInterface.register(HF_NAME, hf_attention)
    llm.set_attn_implementation(HF_NAME)
