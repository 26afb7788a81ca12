"""Write a synthetic video-QA dataset: videos, ground truth, questions, VOE pairs.

    from jepa_vqa.config import load_config
    cfg = load_config(WorldConfig, "configs/world/tiny.yaml", ["num_clips=20"])
    generate_dataset(cfg, "data/world-tiny", workers=2)

or `jepa-vqa world --config configs/world/tiny.yaml --out data/world-tiny [--workers N] [--preview]`.

Layout: `DIR/videos/<clip_id>.mp4`, `DIR/world.json`, `DIR/qa.jsonl`, `DIR/voe.jsonl`,
`DIR/voe/<pair_id>-{possible,impossible}.mp4`, `DIR/config.yaml`. Clips are simulated and rendered
in worker processes (each from its own seed); questions are chosen afterwards in the main process,
so the output does not depend on the number of workers.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing as mp
from pathlib import Path

import yaml
from tqdm import tqdm

from jepa_vqa.atomic import atomic_write_text
from worlds.clip import plan_clip, render_plan
from worlds.config import WorldConfig
from worlds.qa import make_questions
from worlds.video import write_mp4
from worlds.voe import make_voe_pair

_CFG: WorldConfig | None = None
_OUT: Path | None = None


def _init(cfg: WorldConfig, out: Path) -> None:
    global _CFG, _OUT
    _CFG, _OUT = cfg, out


def _write(frames, rel: str) -> None:
    r = _CFG.render
    write_mp4(_OUT / rel, frames, r.fps, r.crf, r.preset)


def _job(job: tuple[str, str, int]) -> dict:
    """Build one clip or one VOE pair and write its video(s); return its annotation."""
    what, split, index = job
    if what == "clip":
        plan = plan_clip(_CFG, split, index)
        _write(render_plan(plan, _CFG), plan.clip["video"])
        return plan.clip
    pair = make_voe_pair(_CFG, index)
    pid = f"voe-{index:05d}"
    record = {
        "id": pid,
        "kind": pair["kind"],
        "possible": f"voe/{pid}-possible.mp4",
        "impossible": f"voe/{pid}-impossible.mp4",
        "event_frame": pair["event_frame"],
        "split": split,
    }
    record.update({k: pair[k] for k in ("object", "objects", "from", "to") if k in pair})
    _write(pair["possible"], record["possible"])
    _write(pair["impossible"], record["impossible"])
    return record


def jobs_for(cfg: WorldConfig) -> list[tuple[str, str, int]]:
    """Every clip and VOE pair of the dataset, in output order."""
    jobs = [("clip", split, i) for split, n in cfg.split_sizes().items() for i in range(n)]
    return jobs + [("voe", cfg.voe.split, i) for i in range(cfg.voe.pairs)]


def _run_jobs(cfg: WorldConfig, out: Path, workers: int, progress: bool) -> list[dict]:
    jobs = jobs_for(cfg)
    bar = tqdm(total=len(jobs), desc="world", unit="clip", disable=not progress)
    results = []
    if workers <= 1:
        _init(cfg, out)
        for job in jobs:
            results.append(_job(job))
            bar.update()
    else:
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(workers, initializer=_init, initargs=(cfg, out)) as pool:
            for result in pool.imap(_job, jobs, chunksize=4):
                results.append(result)
                bar.update()
    bar.close()
    return results


def generate_dataset(
    cfg: WorldConfig, out_dir: str | Path, workers: int | None = None, progress: bool = True
) -> Path:
    """Write the dataset described by `cfg` to `out_dir` (created if needed); returns the directory."""
    out = Path(out_dir)
    (out / "videos").mkdir(parents=True, exist_ok=True)
    (out / "voe").mkdir(exist_ok=True)
    workers = cfg.workers if workers is None else workers
    results = _run_jobs(cfg, out, workers, progress)
    n_clips = sum(cfg.split_sizes().values())
    clips, voe = results[:n_clips], results[n_clips:]
    records = []
    for split in cfg.split_sizes():
        records += make_questions([c for c in clips if c["split"] == split], cfg, split)
    config = dataclasses.asdict(cfg)
    atomic_write_text(out / "qa.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    atomic_write_text(out / "voe.jsonl", "".join(json.dumps(r) + "\n" for r in voe))
    atomic_write_text(out / "world.json", json.dumps({"config": config, "clips": clips}))
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    return out
