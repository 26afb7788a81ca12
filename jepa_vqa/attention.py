"""Self-attention that is fast to train in bf16 on a CPU.

torch's fused CPU attention (flash) is the fastest forward in both precisions, but its backward
barely profits from bf16 matrix units: on a 2-core Xeon with AMX, 16 x 3 heads x 512 tokens x 64,
forward + backward took 72 ms in bf16 against 41 ms for the same attention written as two bf16
matmuls around a bf16 softmax, whose backward autograd runs as bf16 matmuls too
(``benchmarks/cpu_attention.py``). So a bf16 CPU forward that will be differentiated takes the
matmul form; everything else (fp32, CUDA, no-grad forwards such as the EMA target) keeps the fused
kernel::

    out = attention(q, k, v, attn_mask)   # (B, heads, N, hd) each -> (B, heads, N, hd)

The matmul form holds the (B, heads, N, N) probabilities for the backward (25 MB per layer at the
size above), as any non-fused attention does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _differentiated_bf16_on_cpu(*tensors: torch.Tensor) -> bool:
    q = tensors[0]
    return (
        q.dtype == torch.bfloat16
        and q.device.type == "cpu"
        and torch.is_grad_enabled()
        and any(t.requires_grad for t in tensors)
    )


def matmul_attention(q, k, v, attn_mask=None):
    """softmax(q k^T / sqrt(hd) [+ mask]) v in the inputs' dtype, as autograd-visible ops.

    ``attn_mask``: bool (True = attend) or additive float, broadcastable to (B, heads, N, M).
    """
    scores = (q * q.shape[-1] ** -0.5) @ k.transpose(-1, -2)  # (B, heads, N, M)
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    elif attn_mask is not None:
        scores = scores + attn_mask.to(scores.dtype)
    with torch.autocast(q.device.type, enabled=False):  # keep the softmax in bf16
        probs = torch.softmax(scores, dim=-1)
    return probs @ v  # (B, heads, N, hd)


def attention(q, k, v, attn_mask=None):
    """Scaled dot-product attention, (B, heads, N, hd) -> (B, heads, N, hd); see the module doc."""
    if _differentiated_bf16_on_cpu(q, k, v):
        return matmul_attention(q, k, v, attn_mask)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
