"""Answer latency: decode, encode, prefill, time to first token, tokens/s, peak RSS.

::

    jepa-vqa bench answer                     # the default model (or random:tiny + embedded LLM)
    jepa-vqa bench answer --model runs/m --video clip.mp4 --runs 5 --new-tokens 32

    from vlm.bench import bench_answer
    print(bench_answer(model, "clip.mp4"))

Each run times one full ``answer`` path for a 16-frame clip: decode the file, encode + project the
frames, build the prompt, then generate greedily with the KV cache. Figures are medians over runs
after one warm-up run. ``*_cpu_*`` figures time the same spans in process CPU seconds: on a shared,
busy machine with ``--threads 1`` they estimate what an idle core would give.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from pathlib import Path

import torch

QUESTION = "What happens in the video? Describe the motion of the objects."


def write_test_clip(path: str | Path, num_frames: int = 16, size: int = 128, fps: int = 8) -> Path:
    """A small h264 mp4 of a square moving left to right (for benchmarks and tests)."""
    import av
    import numpy as np

    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(num_frames):
            img = np.full((size, size, 3), 40, dtype=np.uint8)
            x = int(i * (size - size // 4) / max(1, num_frames - 1))
            img[size // 3 : size // 3 + size // 4, x : x + size // 4] = (220, 60, 30)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


class _TokenClock:
    """A generate() streamer that timestamps every new token (the first put is the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []  # wall clock
        self.cpu: list[float] = []  # this process's CPU time (all threads)
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        self.times.append(time.perf_counter())
        self.cpu.append(time.process_time())

    def end(self) -> None:
        pass


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@torch.no_grad()
def time_answer(
    model, video_path: str | Path, new_tokens: int = 32, question: str = QUESTION, fast: bool = True
) -> dict:
    """One timed pass of the answer path; times in milliseconds. ``fast=False``: ``llm.generate``
    instead of the fast decoder."""
    from vlm.generate import generate_ids

    c0, t0 = time.process_time(), time.perf_counter()
    frames = model.load_frames(video_path)  # (T, C, H, W) uint8
    t1 = time.perf_counter()
    video_embeds = model.project(model.encode_tokens(frames))  # (1, K, W)
    t2 = time.perf_counter()
    batch = model.processor.collate([model.processor.encode(question)], padding_side="left")
    embeds = model.embed_inputs(
        batch["input_ids"], batch["video_mask"], video_embeds, batch["asked_slots"]
    )  # (1, L, W)
    inputs = {"inputs_embeds": embeds, "attention_mask": batch["attention_mask"].to(model.device)}
    c3, t3 = time.process_time(), time.perf_counter()
    generate_ids(model, inputs, fast=fast, max_new_tokens=1)  # the prefill alone, plus one LM head
    c4, t4 = time.process_time(), time.perf_counter()
    clock = _TokenClock()
    c5, t5 = time.process_time(), time.perf_counter()
    generate_ids(
        model, inputs, streamer=clock, fast=fast, max_new_tokens=new_tokens, min_new_tokens=new_tokens
    )
    times, cpu = clock.times, clock.cpu
    decode_span = times[-1] - times[0] if len(times) > 1 else float("nan")
    cpu_span = cpu[-1] - cpu[0] if len(cpu) > 1 else float("nan")
    return {
        "decode_ms": (t1 - t0) * 1e3,
        "encode_ms": (t2 - t1) * 1e3,
        "prefill_ms": (t4 - t3) * 1e3,
        # request start -> first token, without the separate prefill measurement above
        "ttft_ms": ((t3 - t0) + (times[0] - t5)) * 1e3,
        "tokens_per_s": (len(times) - 1) / decode_span,
        # the same spans in CPU seconds: what an otherwise idle machine would show (1 thread)
        "ttft_cpu_ms": ((c3 - c0) + (cpu[0] - c5)) * 1e3,
        "tokens_per_cpu_s": (len(cpu) - 1) / cpu_span,
        "prefill_cpu_ms": (c4 - c3) * 1e3,
        "new_tokens": len(times),
        "prompt_tokens": int(embeds.shape[1]),
    }


def bench_answer(
    model, video_path: str | Path, runs: int = 3, new_tokens: int = 32, fast: bool = True
) -> dict:
    """Median figures over ``runs`` timed passes after one warm-up, plus peak RSS."""
    from jepa_vqa.precision import hardware_info
    from vlm.inference import fast_decoder

    model.eval()
    time_answer(model, video_path, 4, fast=fast)  # warm-up (allocations, kernels, the fast decoder)
    samples = [time_answer(model, video_path, new_tokens, fast=fast) for _ in range(runs)]
    result = {key: round(statistics.median(s[key] for s in samples), 2) for key in samples[0]}
    result.update(
        runs=runs,
        frames=model.config.num_frames,
        video_tokens=model.num_video_tokens,
        threads=torch.get_num_threads(),
        decoder="fast" if fast and fast_decoder(model) is not None else "generate",
        peak_rss_mb=round(peak_rss_mb(), 1),
        model=model.name,
        precision=str(model.llm.dtype).removeprefix("torch."),
        hardware=hardware_info(),
    )
    return result
