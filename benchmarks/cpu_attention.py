"""Self-attention on CPU: torch's fused kernel in fp32 and bf16, and the bf16 matmul form that
bf16 training takes (``jepa_vqa.attention.matmul_attention``), forward and forward + backward.

    .venv/bin/python benchmarks/cpu_attention.py --threads 1 --batch 16 --tokens 512
    .venv/bin/python benchmarks/cpu_attention.py --threads 2 --encoder tiny   # + the whole ViT forward
    .venv/bin/python benchmarks/cpu_attention.py --threads 2 --decode 200     # + one decoding step's

The encoder's attention at the tiny preset (3 heads of 64 channels, 512 tokens): why bf16 training
takes the matmul form on CPU, and why a CPU without AMX takes it for no-grad forwards too
(docs/perf.md). ``--decode S`` adds the LLM's attention while answering: one new token's 9 query
heads over S cached positions of 3 key/value heads (SmolLM2-135M), in bf16 and in fp32, which is
why ``vlm.fastdecode`` keeps its cache in fp32 on a CPU. Prints one JSON line of milliseconds per
call (median of --repeat rounds; the variants take turns within each round).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from torch.nn import functional as F


def _elapsed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _time_interleaved(calls: dict, repeat: int) -> dict:
    """Median ms per call of each of ``calls`` (name -> fn), timed round-robin so that a noisy
    neighbour slows every variant alike."""
    for fn in calls.values():
        fn()  # warm-up
    times = {name: [] for name in calls}
    for _ in range(repeat):
        for name, fn in calls.items():
            times[name].append(_elapsed(fn))
    return {name: round(statistics.median(t) * 1000, 2) for name, t in times.items()}


def measure(batch: int, heads: int, tokens: int, head_dim: int, repeat: int) -> dict:
    """ms per call of each variant on random (batch, heads, tokens, head_dim) q, k, v."""
    from jepa_vqa.attention import matmul_attention

    calls = {}
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

        def forward_no_grad(forward=forward):
            with torch.no_grad():
                forward()

        def train_step(forward=forward, grad=grad):
            forward().backward(grad)

        calls[f"{name}: forward"] = forward_no_grad
        calls[f"{name}: forward + backward"] = train_step
    return _time_interleaved(calls, repeat)


def measure_encoder(preset: str, batch: int, repeat: int) -> dict:
    """ms per no-grad bf16 forward of a random-init ``preset`` ViT over a random clip batch (what
    the EMA target and feature caching run), with every attention fused or in the matmul form."""
    from unittest import mock

    from encoder.config import ViTConfig
    from encoder.vit import VisionTransformer
    from jepa_vqa import attention

    cfg = ViTConfig.preset(preset)
    vit = VisionTransformer(cfg).eval()
    clips = torch.randn(batch, cfg.num_frames, cfg.in_chans, cfg.img_size, cfg.img_size)

    def forward(matmul_form: bool):
        # the dispatch rule: no-grad bf16 forwards take the matmul form exactly where there is no AMX
        with mock.patch.object(attention, "cpu_has_amx", lambda: not matmul_form):
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                vit(clips)

    calls = {
        f"{preset} ViT bf16 forward, fused attention": lambda: forward(False),
        f"{preset} ViT bf16 forward, matmul-form attention": lambda: forward(True),
    }
    return _time_interleaved(calls, repeat)


def measure_decode(
    positions: int, repeat: int, heads: int = 9, kv_heads: int = 3, head_dim: int = 64
) -> dict:
    """ms per fused attention call of one new query over ``positions`` cached keys (GQA), per dtype."""
    calls = {}
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        q = torch.randn(1, heads, 1, head_dim, dtype=dtype)
        k, v = (torch.randn(1, kv_heads, positions, head_dim, dtype=dtype) for _ in range(2))

        def attend(q=q, k=k, v=v):
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, enable_gqa=True)

        calls[f"decode step over {positions} positions, {name}"] = lambda attend=attend: [
            attend() for _ in range(100)
        ]
    return {name: round(ms / 100, 4) for name, ms in _time_interleaved(calls, repeat).items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--heads", type=int, default=3)
    p.add_argument("--tokens", type=int, default=512)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument(
        "--encoder", default="", help="also time this ViT preset's whole no-grad forward (e.g. tiny)"
    )
    p.add_argument(
        "--decode", type=int, default=0, help="also time a decoding step's attention over this many positions"
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from jepa_vqa.precision import hardware_info

    ms = measure(args.batch, args.heads, args.tokens, args.head_dim, args.repeat)
    if args.encoder:
        ms.update(measure_encoder(args.encoder, args.batch, args.repeat))
    if args.decode:
        ms.update(measure_decode(args.decode, args.repeat))
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
