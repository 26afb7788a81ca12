"""One clip end to end: seed -> scene -> simulation -> ground truth -> frames -> mp4.

Every clip has its own seed derived from (config seed, split, index), so splits come from disjoint
seed streams and any clip can be rebuilt alone (and in any worker process)::

    plan = plan_clip(cfg, "train", 3)      # scene, trajectory, annotation; no pixels
    frames = render_plan(plan, cfg)        # (T, H, W, 3) uint8
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from worlds.annotate import SEEN, annotate
from worlds.config import WorldConfig
from worlds.physics import Trajectory, simulate
from worlds.render import render_clip
from worlds.scene import Scene, allowed_pairs, sample_scene

SPLIT_CODES = {"train": 1, "val": 2, "test": 3, "test-compositional": 4, "voe": 5}


@dataclass
class ClipPlan:
    """Everything about a clip except its pixels."""

    scene: Scene
    traj: Trajectory  # render.frames + qa.horizon frames
    clip: dict  # the world.json entry
    nuisance_seed: int


def clip_id(split: str, index: int) -> str:
    return f"{split}-{index:06d}"


def seeds(cfg: WorldConfig, stream: str, index: int) -> tuple[np.random.Generator, int, int]:
    """(scene rng, nuisance seed, scene seed) for item `index` of a seed stream (a split, or "voe")."""
    ss = np.random.SeedSequence([cfg.seed, SPLIT_CODES[stream], index])
    scene_ss, nuisance_ss = ss.spawn(2)
    scene_seed = int(scene_ss.generate_state(1, np.uint64)[0])
    return np.random.default_rng(scene_seed), int(nuisance_ss.generate_state(1, np.uint64)[0]), scene_seed


def acceptable(clip: dict, cfg: WorldConfig) -> bool:
    """Every object is clearly seen at some point, and compositional clips show a held-out pair."""
    if not clip["objects"]:
        return False
    if any(max(tr["visible"]) < SEEN for tr in clip["tracks"]):
        return False
    if clip["split"] == "test-compositional":
        _, held = allowed_pairs(cfg, clip["split"])
        return any((o["colour"], o["shape"]) in held for o in clip["objects"])
    return True


def simulate_scene(scene: Scene, cfg: WorldConfig, **interventions) -> Trajectory:
    return simulate(scene, cfg.render.frames + cfg.qa.horizon, cfg.physics.substeps, **interventions)


def plan_clip(cfg: WorldConfig, split: str, index: int) -> ClipPlan:
    """Sample scenes from the clip's seed until one is acceptable; simulate and annotate it."""
    rng, nuisance_seed, scene_seed = seeds(cfg, split, index)
    cid = clip_id(split, index)
    for _ in range(200):
        scene = sample_scene(cfg, rng, split)
        traj = simulate_scene(scene, cfg)
        clip = annotate(cid, split, scene, traj, cfg, scene_seed)
        if acceptable(clip, cfg):
            break
    return ClipPlan(scene, traj, clip, nuisance_seed)


def render_plan(
    plan: ClipPlan,
    cfg: WorldConfig,
    draw: np.ndarray | None = None,
    colours: list[list[str]] | None = None,
    traj: Trajectory | None = None,
) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of a planned clip (optionally with another trajectory or edits)."""
    T = cfg.render.frames
    pos = (traj or plan.traj).pos[:T]  # (T, n, 2)
    return render_clip(
        plan.scene,
        pos,
        cfg.render.size,
        cfg.nuisances.leaves,
        cfg.nuisances.jitter,
        plan.nuisance_seed,
        draw=draw,
        colours=colours,
    )
