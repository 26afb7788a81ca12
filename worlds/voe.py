"""Violation-of-expectation pairs: one scene rendered as it happens (possible) and with one physical
law broken (impossible), sharing every other pixel-level choice (leaves, jitter) up to the event.

Kinds: `vanish` (an object hidden behind the bar never comes out), `teleport` (an object jumps),
`passthrough` (two objects that should collide pass through each other), `colour` (an object
changes colour). `event_frame` is the first frame where the two videos disagree in a way that
breaks physics.

    pair = make_voe_pair(cfg, index=0)   # {"kind", "event_frame", "possible": frames, "impossible": frames, ...}
"""

from __future__ import annotations

import numpy as np

from worlds.annotate import SEEN, annotate
from worlds.clip import ClipPlan, acceptable, render_plan, seeds, simulate_scene
from worlds.physics import Teleport
from worlds.scene import sample_scene


def _plan(cfg, rng, nuisance_seed, scene_seed, split, **steer) -> ClipPlan | None:
    scene = sample_scene(cfg, rng, split, **steer)
    traj = simulate_scene(scene, cfg)
    clip = annotate("voe", split, scene, traj, cfg, scene_seed)
    return ClipPlan(scene, traj, clip, nuisance_seed) if acceptable(clip, cfg) else None


def _vanish(cfg, plan: ClipPlan, rng):
    """An object goes behind the bar and is never drawn again; it should have come out."""
    T = cfg.render.frames
    ev = plan.clip["events"]
    for hide in [e for e in ev if e["type"] == "hide" and e["frame"] >= 2]:
        i = hide["object"]
        back = [e for e in ev if e["type"] == "reappear" and e["object"] == i and e["frame"] > hide["frame"]]
        hits = [
            e
            for e in ev
            if e["type"] == "collision" and i in e["objects"] and e["frame"] >= hide["frame"] - 1
        ]
        if back and back[0]["frame"] <= T - 3 and not hits:
            draw = np.ones((len(plan.scene.objects), T), dtype=bool)
            draw[i, hide["frame"] :] = False
            return {"event_frame": back[0]["frame"], "object": i}, {"draw": draw}
    return None


def _teleport(cfg, plan: ClipPlan, rng):
    """An object in plain view jumps to a far, free spot and carries on from there."""
    T = cfg.render.frames
    tracks = plan.clip["tracks"]
    for _ in range(20):
        k = int(rng.integers(T // 3, 2 * T // 3 + 1))
        i = int(rng.integers(len(tracks)))
        if min(tracks[i]["visible"][k - 1 : k + 2]) < 0.9:
            continue
        p = plan.traj.pos[k, i]
        r = plan.scene.objects[i].radius
        lo, hi = plan.scene.wall_thickness + r + 0.02, 1 - plan.scene.wall_thickness - r - 0.02
        xy = rng.uniform(lo, hi, size=2)
        others = np.delete(plan.traj.pos[k], i, axis=0)
        occ = plan.scene.occluder
        if np.hypot(*(xy - p)) < 0.3 or (len(others) and np.min(np.hypot(*(others - xy).T)) < 3 * r):
            continue
        if occ is not None and occ[0] - 2 * r < xy[0] < occ[1] + 2 * r:
            continue
        traj = simulate_scene(plan.scene, cfg, teleport=Teleport(i, k, (float(xy[0]), float(xy[1]))))
        return {"event_frame": k, "object": i}, {"traj": traj}
    return None


def _passthrough(cfg, plan: ClipPlan, rng):
    """Two objects that collide in plain view pass through each other instead."""
    T = cfg.render.frames
    for e in plan.clip["events"]:
        if e["type"] == "collision" and e["visible"] and 2 <= e["frame"] <= T - 4:
            i, j = sorted(e["objects"])
            traj = simulate_scene(plan.scene, cfg, ghost_pairs=frozenset({(i, j)}))
            return {"event_frame": e["frame"], "objects": [i, j]}, {"traj": traj}
    return None


def _colour(cfg, plan: ClipPlan, rng):
    """An object in plain view changes colour."""
    T = cfg.render.frames
    tracks = plan.clip["tracks"]
    for _ in range(20):
        k = int(rng.integers(T // 3, 2 * T // 3 + 1))
        i = int(rng.integers(len(tracks)))
        if min(tracks[i]["visible"][k - 1 : k + 2]) < SEEN:
            continue
        old = plan.scene.objects[i].colour
        new = [c for c in cfg.objects.colours if c != old][int(rng.integers(len(cfg.objects.colours) - 1))]
        colours = [[o.colour] * T for o in plan.scene.objects]
        colours[i][k:] = [new] * (T - k)
        return {"event_frame": k, "object": i, "from": old, "to": new}, {"colours": colours}
    return None


VIOLATIONS = {"vanish": _vanish, "teleport": _teleport, "passthrough": _passthrough, "colour": _colour}


def make_voe_pair(cfg, index: int) -> dict:
    """Frames of the possible and impossible versions of pair `index` (kinds cycle through voe.kinds)."""
    kind = cfg.voe.kinds[index % len(cfg.voe.kinds)]
    rng, nuisance_seed, scene_seed = seeds(cfg, "voe", index)
    T = cfg.render.frames
    steer = {"vanish": {"occluder": True, "hide_at": None}, "passthrough": {"aim_at": None}}.get(kind, {})
    for _ in range(500):
        if kind == "vanish":
            steer["hide_at"] = float(rng.uniform(0.35 * T, 0.5 * T))
        if kind == "passthrough":
            steer["aim_at"] = float(rng.uniform(0.3 * T, 0.6 * T))
        plan = _plan(cfg, rng, nuisance_seed, scene_seed, cfg.voe.split, **steer)
        got = VIOLATIONS[kind](cfg, plan, rng) if plan is not None else None
        if got is not None:
            break
    else:
        raise RuntimeError(f"could not build a '{kind}' violation-of-expectation scene")
    info, edit = got
    return {
        "kind": kind,
        **info,
        "possible": render_plan(plan, cfg),
        "impossible": render_plan(plan, cfg, **edit),
        "clip": plan.clip,
    }
