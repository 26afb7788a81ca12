"""Self-attention on CPU: torch's fused kernel in fp32 and bf16, and the bf16 matmul form that
bf16 training takes (``jepa_vqa.attention.matmul_attention``), forward and forward + backward.

    .venv/bin/python benchmarks/cpu_attention.py --threads 1 --batch 16 --tokens 512

The encoder's attention at the tiny preset (3 heads of 64 channels, 512 tokens): why bf16 training
takes the matmul form on CPU (docs/perf.md). Prints one JSON line of milliseconds per call (median of --repeat).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.nn import functional as F


def _time(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1000, 2)


def measure(batch: int, heads: int, tokens: int, head_dim: int, repeat: int) -> dict:
    """ms per call of each variant on random (batch, heads, tokens, head_dim) q, k, v."""
    from jepa_vqa.attention import matmul_attention

    results = {}
    fused = F.scaled_dot_product_attention
    for name, dtype, inner, attend in (
        ("fp32", torch.float32, torch.float32, fused),
        ("bf16", torch.bfloat16, torch.bfloat16, fused),
        ("bf16, attention cast to fp32", torch.bfloat16, torch.float32, fused),
        ("bf16 matmul form", torch.bfloat16, torch.bfloat16, matmul_attention),
    ):
        q, k, v = (
            torch.randn(batch, heads, tokens, head_dim, dtype=dtype, requires_grad=True) for _ in range(3)
        )
        grad = torch.randn(batch, heads, tokens, head_dim, dtype=dtype)

        def forward(q=q, k=k, v=v, inner=inner, attend=attend):  # (B, H, N, hd)
            return attend(q.to(inner), k.to(inner), v.to(inner)).to(q.dtype)

        def train_step(forward=forward, grad=grad):
            forward().backward(grad)

        with torch.no_grad():
            results[f"{name}: forward"] = _time(forward, repeat)
        results[f"{name}: forward + backward"] = _time(train_step, repeat)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from jepa_vqa.precision import hardware_info

    ms = measure(args.batch, args.heads, args.tokens, args.head_dim, args.repeat)
    print(
        json.dumps(
            {
                "ms_per_call": ms,
                "shape": [args.batch, args.heads, args.tokens, args.head_dim],
                "hardware": hardware_info(),
            }
        )
    )


if __name__ == "__main__":
    main()
