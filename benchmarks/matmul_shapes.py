"""How much faster bf16 matmuls are than fp32 at the shapes of the tiny pretraining step.

    .venv/bin/python benchmarks/matmul_shapes.py --threads 2

Do the matmuls cap the step's bf16 speed-up (41% of the bf16 step, docs/perf.md)? The tiny ViT's
linears are 192 channels wide, far smaller than the 1024 x 1024 matmul that ``bench pretrain`` quotes. Each row is a linear layer's forward + backward (the step's work) at the
target encoder's 8,192 tokens (16 clips x 512), timed in fp32 and in bf16, interleaved round by round;
prints one JSON line: GFLOP/s per precision and their ratio, with the CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

# (name, tokens, in, out): the tiny ViT (width 192, MLP 768) over 16 clips of 512 tokens
SHAPES = (
    ("qkv 192->576", 8192, 192, 576),
    ("proj 192->192", 8192, 192, 192),
    ("fc1 192->768", 8192, 192, 768),
    ("fc2 768->192", 8192, 768, 192),
    ("square 1024", 1024, 1024, 1024),
)


def _step(layer: torch.nn.Linear, x: torch.Tensor, grad: torch.Tensor):
    def run():
        layer(x).backward(grad)

    return run


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def measure(rounds: int) -> list[dict]:
    rows = []
    for name, tokens, d_in, d_out in SHAPES:
        runs = {}
        for dtype in (torch.float32, torch.bfloat16):
            layer = torch.nn.Linear(d_in, d_out).to(dtype)
            x = torch.randn(tokens, d_in, dtype=dtype, requires_grad=True)
            runs[dtype] = _step(layer, x, torch.randn(tokens, d_out, dtype=dtype))
            runs[dtype]()  # warm-up
        times = {dtype: [] for dtype in runs}
        for _ in range(rounds):  # interleaved, so that both see the same machine
            for dtype, fn in runs.items():
                times[dtype].append(_seconds(fn))
        gflop = 3 * 2 * tokens * d_in * d_out / 1e9  # forward + two backward matmuls
        rate = {dtype: gflop / statistics.median(t) for dtype, t in times.items()}
        rows.append(
            {
                "layer": name,
                "fp32 GFLOP/s": rate[torch.float32],
                "bf16 GFLOP/s": rate[torch.bfloat16],
                "bf16 / fp32": rate[torch.bfloat16] / rate[torch.float32],
            }
        )
    return rows


def main() -> None:
    from jepa_vqa.precision import hardware_info

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = [
        {k: round(v, 2) if isinstance(v, float) else v for k, v in r.items()} for r in measure(args.rounds)
    ]
    print(json.dumps({"hardware": hardware_info(), "threads": args.threads, "rows": rows}))


if __name__ == "__main__":
    main()
