"""Question-answer records and scene descriptions from ground truth.

`make_questions` turns the clips of one split into balanced `qa.jsonl` records (no rendering
needed); `describe_clip` writes a plain-English description of a clip (alignment stage 1)::

    records = make_questions([plan_clip(cfg, "train", i).clip for i in range(100)], cfg, "train")
    print(describe_clip(clip))
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from worlds.balance import select_balanced
from worlds.clip import SPLIT_CODES
from worlds.config import QUESTION_TYPES, WorldConfig
from worlds.formats import has_world, read_clips
from worlds.questions import candidates, phrase
from worlds.scene import allowed_pairs


def _involves_held_out(cand: dict, clip: dict, held: set) -> bool:
    """Compositional test questions must be about an object with a held-out colour-shape pair."""
    if not cand["objects"]:
        return True
    return any((clip["objects"][i]["colour"], clip["objects"][i]["shape"]) in held for i in cand["objects"])


def make_questions(clips: list[dict], cfg: WorldConfig, split: str) -> list[dict]:
    """Balanced question records for the clips of one split, in clip order."""
    code = SPLIT_CODES[split]
    held = set(allowed_pairs(cfg, split)[1]) if split == "test-compositional" else set()
    by_type: dict[str, list[dict]] = {t: [] for t in cfg.qa.types}
    for index, clip in enumerate(clips):
        rng = np.random.default_rng([cfg.seed, code, index, 7])
        for cand in candidates(
            clip, rng, cfg.qa.types, cfg.objects.colours, cfg.objects.shapes, cfg.qa.num_options
        ):
            if held and not _involves_held_out(cand, clip, held):
                continue
            cand["clip"] = index
            by_type[cand["type"]].append(cand)
    chosen = []
    for t in cfg.qa.types:
        rng = np.random.default_rng([cfg.seed, code, QUESTION_TYPES.index(t), 11])
        chosen += select_balanced(by_type[t], cfg.qa.per_type, cfg.qa.max_ratio, rng)
    order = {t: k for k, t in enumerate(QUESTION_TYPES)}
    chosen.sort(key=lambda q: (q["clip"], order[q["type"]], q["question"], q["answer"]))
    records, counter = [], {}
    for q in chosen:
        clip = clips[q["clip"]]
        k = counter[clip["id"]] = counter.get(clip["id"], -1) + 1
        records.append(
            {
                "id": f"{clip['id']}-q{k:02d}",
                "video": clip["video"],
                "question": q["question"],
                "options": q["options"],
                "answer": q["answer"],
                "open_answer": q["answer"],
                "type": q["type"],
                "subtype": q["subtype"],
                "split": split,
                "clip_id": clip["id"],
                "objects": q["objects"],
                "params": json.dumps(q["params"], sort_keys=True),  # a string keeps the arrow schema fixed
            }
        )
    return records


def _seconds(frame: int, fps: int) -> str:
    return f"{frame / fps:.1f} s"


def _event_sentence(e: dict, names: dict[int, str], fps: int) -> str:
    at = _seconds(e["frame"], fps)
    if e["type"] == "collision":
        a, b = e["objects"]
        return f"at {at} {names[a]} collides with {names[b]}"
    a = names[e["object"]]
    return {
        "bounce": f"at {at} {a} bounces off the {e.get('wall')} wall",
        "enter": f"at {at} {a} enters from the {e.get('side')}",
        "leave": f"at {at} {a} leaves on the {e.get('side')}",
        "hide": f"at {at} {a} goes behind the bar",
        "reappear": f"at {at} {a} comes out from behind the bar",
    }[e["type"]]


def _list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def describe_clip(clip: dict) -> str:
    """A ground-truth description of a clip: objects, walls, occluder, motion, events, final state."""
    objs = clip["objects"]
    names = {o["id"]: phrase({a: o[a] for a in ("size", "colour", "shape")}) for o in objs}
    fps, T = clip["fps"], clip["num_frames"]
    full = [f"a {o['size']} {o['colour']} {o['shape']}" for o in objs]
    noun = "object" if len(objs) == 1 else "objects"
    parts = [f"A {_seconds(T, fps)} video of {len(objs)} {noun}: {_list(full)}."]
    walls = clip["walls"]
    if len(walls) == 4:
        parts.append("Walls close all four sides.")
    elif not walls:
        parts.append("There are no walls; every side is open.")
    else:
        open_sides = [s for s in ("left", "right", "top", "bottom") if s not in walls]
        parts.append(
            f"There are walls on the {_list(walls)}; the {_list(open_sides)} "
            f"{'is' if len(open_sides) == 1 else 'are'} open."
        )
    if clip["occluder"] is not None:
        x = (clip["occluder"][0] + clip["occluder"][1]) / 2
        where = "left of centre" if x < 0.45 else "right of centre" if x > 0.55 else "in the middle"
        parts.append(f"A vertical bar stands in front, {where}.")
    if clip["gravity"] > 0:
        parts.append("Gravity pulls the objects down.")
    moves = []
    for o, tr in zip(objs, clip["tracks"]):
        d = np.array([tr["x"][min(3, T - 1)] - tr["x"][0], tr["y"][min(3, T - 1)] - tr["y"][0]])
        horiz = "right" if d[0] > 0 else "left"
        vert = "down" if d[1] > 0 else "up"
        if abs(d[0]) > 2 * abs(d[1]):
            way = horiz
        elif abs(d[1]) > 2 * abs(d[0]):
            way = vert
        else:
            way = f"{vert} and to the {horiz}"
        moves.append(f"{names[o['id']]} starts moving {way}")
    parts.append(_cap(_list(moves)) + ".")
    events = [e for e in clip["events"] if e.get("visible", True)]
    if events:
        sentences = [_event_sentence(e, names, fps) for e in events]
        parts.append(_cap(_list(sentences)) + ".")
    else:
        parts.append("Nothing else happens.")
    if clip["occluder"] is not None:
        hidden = [names[tr["object"]] for tr in clip["tracks"] if tr["hidden"][-1]]
        if hidden:
            verb = "is" if len(hidden) == 1 else "are"
            parts.append(f"At the end, {_list(hidden)} {verb} hidden behind the bar.")
        else:
            parts.append("At the end, nothing is hidden behind the bar.")
    return " ".join(parts)


def scene_descriptions(world_dir: str | Path) -> dict[str, str]:
    """``{absolute video path: describe_clip(clip)}`` for every clip of ``world_dir/world.json``;
    empty when the dir has no world.json (not a synthetic world)."""
    if not Path(world_dir).is_dir() or not has_world(world_dir):
        return {}
    return {clip["video"]: describe_clip(clip) for clip in read_clips(world_dir)}
