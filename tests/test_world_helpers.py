"""Shared helpers for the `worlds/` tests: the tiny preset with overrides, and every answer
recomputed from world.json alone (used by tests/test_worlds.py and tests/test_world_questions.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from jepa_vqa.config import load_config
from worlds.config import WorldConfig

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ROOT / "configs" / "world"


def cfg_with(*overrides: str) -> WorldConfig:
    return load_config(WorldConfig, PRESETS / "tiny.yaml", list(overrides))


def _matches(obj: dict, ref: dict) -> bool:
    return all(obj[k] == v for k, v in ref.items())


def _unique(clip: dict, ref: dict, i: int) -> bool:
    return [o["id"] for o in clip["objects"] if _matches(o, ref)] == [i]


def _hidden(clip: dict, i: int, x: float, y: float) -> bool:
    """Fully behind the bar (which spans the frame's height), from the object's bbox and the occluder alone."""
    occ = clip["occluder"]
    box = clip["objects"][i]["bbox"]
    return (
        occ is not None
        and x + box[0] >= occ[0]
        and x + box[2] <= occ[1]
        and y + box[1] < 1
        and y + box[3] > 0
    )


def _near_bar_edge(clip: dict, i: int, x: float) -> bool:
    occ, box = clip["occluder"], clip["objects"][i]["bbox"]
    return occ is not None and min(abs(x + box[0] - occ[0]), abs(x + box[2] - occ[1])) < 1e-3


def _recompute(q: dict, clip: dict) -> str | None:
    """The answer from world.json alone (None: skip, a boundary case of the rounded tracks)."""
    p = json.loads(q["params"])
    objs, tracks, events = clip["objects"], clip["tracks"], clip["events"]
    T = clip["num_frames"]
    hits = [e for e in events if e["type"] == "collision"]
    if q["type"] == "attribute":
        i = q["objects"][0]
        assert _unique(clip, p["ref"], i) and p["attribute"] not in p["ref"]
        return objs[i][p["attribute"]]
    if q["type"] == "count":
        assert all(max(tr["visible"]) >= 0.5 for tr in tracks)  # every object is seen
        return str(sum(_matches(o, p["filter"]) for o in objs))
    if q["type"] == "motion":
        i = q["objects"][0]
        assert _unique(clip, p["ref"], i)
        f0, f1 = p["frames"]
        tr = tracks[i]
        contacts = [
            e["frame"]
            for e in events
            if i in e.get("objects", [e.get("object")]) and e["type"] in ("collision", "bounce")
        ]
        if q["subtype"] == "whole":
            assert not contacts
        elif q["subtype"] == "start":
            assert f1 < min(contacts)
        else:
            assert f0 > max(contacts)
        dx, dy = tr["x"][f1] - tr["x"][f0], tr["y"][f1] - tr["y"][f0]
        if abs(dx) > abs(dy):
            return "right" if dx > 0 else "left"
        return "down" if dy > 0 else "up"
    if q["type"] == "collision":
        if q["subtype"] == "count":
            assert all(e["visible"] for e in hits)
            return str(len(hits))
        a, b = q["objects"]
        assert all(_unique(clip, r, i) for r, i in zip(p["refs"], (a, b)))
        return "yes" if any(set(e["objects"]) == {a, b} for e in hits) else "no"
    if q["type"] == "order":
        e, f = p["events"]
        for x in (e, f):
            assert sum(1 for y in events if all(y.get(k) == v for k, v in x.items())) == 1
        assert abs(e["frame"] - f["frame"]) >= 2
        return "before" if e["frame"] < f["frame"] else "after"
    if q["type"] == "prediction":
        fut = clip["future"]
        if q["subtype"] == "will_hit":
            a, b = q["objects"]
            return (
                "yes"
                if any(set(x["objects"]) == {a, b} for x in fut["events"] if x["type"] == "collision")
                else "no"
            )
        i = q["objects"][0]
        x, y, vis = fut["tracks"][i]["x"][-1], fut["tracks"][i]["y"][-1], fut["tracks"][i]["visible"][-1]
        if vis == 0:
            return "out of view"
        return ("top" if y < 0.5 else "bottom") + " " + ("left" if x < 0.5 else "right")
    if q["type"] == "permanence":
        last = T - 1
        if any(_near_bar_edge(clip, tr["object"], tr["x"][last]) for tr in tracks):
            return None
        hidden = [tr["object"] for tr in tracks if _hidden(clip, tr["object"], tr["x"][last], tr["y"][last])]
        if q["subtype"] == "count":
            return str(len(hidden))
        return "yes" if q["objects"][0] in hidden else "no"
    raise AssertionError(q["type"])
