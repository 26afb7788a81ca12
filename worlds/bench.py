"""Throughput of the world generator on one core: simulate, annotate, render, encode and write
clips, then generate their questions, the way `generate_dataset` does with `workers=1`.

    jepa-vqa bench world --config configs/world/tiny.yaml --clips 200
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from worlds.clip import plan_clip, render_plan
from worlds.config import WorldConfig
from worlds.qa import make_questions
from worlds.video import write_mp4


def bench_world(cfg: WorldConfig, clips: int = 100) -> dict:
    """Seconds per stage and end-to-end clips per second, by wall clock and by this process's CPU
    time (the two agree on an idle core; the CPU figure is the fair one on a shared machine)."""
    spent = {"simulate_s": 0.0, "render_s": 0.0, "encode_s": 0.0, "questions_s": 0.0}
    annotations = []
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu_start = time.perf_counter(), time.process_time()
        for i in range(clips):
            t0 = time.perf_counter()
            plan = plan_clip(cfg, "train", i)
            t1 = time.perf_counter()
            frames = render_plan(plan, cfg)
            t2 = time.perf_counter()
            write_mp4(Path(tmp) / f"{i}.mp4", frames, cfg.render.fps, cfg.render.crf, cfg.render.preset)
            t3 = time.perf_counter()
            spent["simulate_s"] += t1 - t0
            spent["render_s"] += t2 - t1
            spent["encode_s"] += t3 - t2
            annotations.append(plan.clip)
        t4 = time.perf_counter()
        questions = make_questions(annotations, cfg, "train")
        spent["questions_s"] = time.perf_counter() - t4
        total, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return {
        "clips": clips,
        "size": cfg.render.size,
        "frames": cfg.render.frames,
        "seconds": round(total, 3),
        "clips_per_s": round(clips / total, 2),
        "cpu_seconds": round(cpu, 3),
        "cpu_clips_per_s": round(clips / cpu, 2),
        "questions": len(questions),
        **{k: round(v, 3) for k, v in spent.items()},
    }
