"""Violation of expectation: is the encoder more surprised by the impossible clip of each pair?

    jepa-vqa eval --task world-voe --model runs/pretrain-jepa --data data/world-tiny --out runs/voe
    jepa-vqa eval --task world-voe --model random:tiny --data data/world-tiny --out runs/voe-random

For each ``voe.jsonl`` pair (possible / impossible clip, ``event_frame``), the surprise curve
(``encoder.surprise.surprise_curve``: the predictor's error per predicted token time step) is
reduced over the steps after the event (max or mean); a pair is right when the impossible clip
scores higher (a tie counts one half). Nothing is trained: no labels are used.
"""

from __future__ import annotations

from pathlib import Path

from tqdm.auto import tqdm

from eval.distributed import Dist, gather
from eval.scoring import per_type_mean
from worlds.formats import read_voe


def load_pairs(data: str | Path, split: str | None = None) -> list[dict]:
    """The VoE pairs of ``DIR/voe.jsonl`` with absolute video paths (all splits when ``split`` is None)."""
    return read_voe(data, split)


def frame_ends(curve_len: int, num_frames: int, time_steps: int) -> list[float]:
    """The last input frame (exclusive) covered by each curve value.

    The curve has one value per *predicted* token time step, i.e. the last ``curve_len`` of the
    encoder's ``time_steps``; each step spans ``num_frames / time_steps`` frames.
    """
    if 0 < curve_len <= time_steps:
        per = num_frames / time_steps
        return [(time_steps - curve_len + i + 1) * per for i in range(curve_len)]
    return [(i + 1) * num_frames / max(curve_len, 1) for i in range(curve_len)]


def post_event(curve: list[float], ends: list[float], event_frame: int) -> list[float]:
    """Curve values whose time step ends after the event frame (the whole curve if none does)."""
    after = [c for c, e in zip(curve, ends) if e > event_frame]
    return after or list(curve)


def reduce(values: list[float], how: str) -> float:
    return max(values) if how == "max" else sum(values) / len(values)


def pair_score(possible: float, impossible: float) -> float:
    """1 when the impossible clip is more surprising, 0.5 on a tie, 0 otherwise."""
    return 1.0 if impossible > possible else 0.5 if impossible == possible else 0.0


class SurpriseScorer:
    """Surprise curves of video files for one encoder spec (frames decoded at the encoder's size)."""

    def __init__(self, spec: str):
        from encoder import load_encoder

        self.spec = spec
        enc = load_encoder(spec)
        self.num_frames = int(enc.num_frames)
        self.image_size = int(enc.image_size)
        self.time_steps = int(enc.grid(self.num_frames, self.image_size, self.image_size)[0])

    def curve(self, video: str) -> list[float]:
        from encoder.surprise import surprise_curve
        from encoder.video import read_frames

        frames = read_frames(video, num_frames=self.num_frames, size=self.image_size)  # (T, C, H, W) uint8
        return [float(x) for x in surprise_curve(self.spec, frames).flatten()]


def score_pairs(pairs: list[dict], curve_fn, num_frames: int, time_steps: int) -> list[dict]:
    """Per pair: both curves, and max/mean post-event surprise for each clip."""
    rows = []
    for pair in pairs:
        row = {k: pair[k] for k in ("id", "kind", "event_frame")}
        for key in ("possible", "impossible"):
            curve = curve_fn(pair[key])
            ends = frame_ends(len(curve), num_frames, time_steps)
            after = post_event(curve, ends, int(pair["event_frame"]))
            row["event_step"] = next((i for i, e in enumerate(ends) if e > int(pair["event_frame"])), 0)
            row[f"{key}_curve"] = curve
            row[f"{key}_max"] = reduce(after, "max")
            row[f"{key}_mean"] = reduce(after, "mean")
        for how in ("max", "mean"):
            row[f"correct_{how}"] = pair_score(row[f"possible_{how}"], row[f"impossible_{how}"])
        rows.append(row)
    return rows


def run_voe(
    spec: str,
    pairs: list[dict],
    reduce_how: str = "max",
    n_boot: int = 1000,
    seed: int = 0,
    dist: Dist = Dist(),
    progress: bool = True,
) -> tuple[dict | None, list[dict] | None, dict]:
    """Pairwise accuracy per violation kind (with CIs) for both reductions; rank 0 gets the results."""
    import time

    scorer = SurpriseScorer(spec)
    start = time.perf_counter()
    mine = list(range(dist.rank, len(pairs), dist.world_size))
    rows = []
    for i in tqdm(mine, desc="voe", unit="pair", disable=not (progress and dist.is_main)):
        rows += [
            dict(r, index=i)
            for r in score_pairs([pairs[i]], scorer.curve, scorer.num_frames, scorer.time_steps)
        ]
    rows = sorted(gather(rows, dist), key=lambda r: r["index"])
    timings = {"surprise_s": time.perf_counter() - start, "num_processes": dist.world_size}
    if not dist.is_main:
        return None, None, timings
    kinds = [r["kind"] for r in rows]
    metrics = {
        "reduce": reduce_how,
        "pairwise": per_type_mean(
            [r[f"correct_{reduce_how}"] for r in rows], kinds, n_boot=n_boot, seed=seed
        ),
        "by_reduce": {
            how: per_type_mean([r[f"correct_{how}"] for r in rows], kinds, n_boot=n_boot, seed=seed)
            for how in ("max", "mean")
        },
        "ties": sum(1 for r in rows if r[f"correct_{reduce_how}"] == 0.5),
        "baselines": {"chance": {"accuracy": 0.5}},
        "num_frames": scorer.num_frames,
        "time_steps": scorer.time_steps,
    }
    return metrics, rows, timings
