"""Question generators: every candidate question a clip supports, with its answer from ground truth.

Each generator (one per question family, registered in `GENERATORS`) reads only the clip's
`world.json` entry and returns candidates
`{"type", "subtype", "question", "answer", "options", "objects", "params"}`; `worlds.balance`
then picks a balanced subset. Objects are named by a random attribute combination that is unique
in the clip ("the red circle", "the large square"). The wording lives in `worlds.templates`
(several phrasings per template; `phrase` is re-exported here), the answer options in
`worlds.options`.

    cands = candidates(clip, rng, colours=[...], shapes=[...], num_options=4)
"""

from __future__ import annotations

import itertools

import numpy as np

from worlds.annotate import EVENT_VISIBLE, SEEN, direction_of
from worlds.options import answer_options, number_options
from worlds.templates import (
    T_ATTR,
    T_COLLIDE,
    T_COLLISIONS,
    T_COUNT,
    T_HIDDEN_COUNT,
    T_IS_HIDDEN,
    T_MOTION,
    T_ORDER,
    T_WHERE,
    T_WILL_HIT,
    phrase,
)

ATTRS = ("size", "colour", "shape")
DIRECTIONS = ("left", "right", "up", "down")
PLACES = ("top left", "top right", "bottom left", "bottom right", "out of view")
MAX_COLLISION_COUNT = 3
MAX_HIDDEN_COUNT = 3


class Clip:
    """Read-only helpers over one world.json clip entry."""

    def __init__(self, clip: dict):
        self.clip = clip
        self.objects = clip["objects"]
        self.T = clip["num_frames"]
        self.events = clip["events"]
        self.future = clip["future"]
        self._refs: dict[tuple[int, str | None], list[dict]] = {}

    def refs(self, i: int, exclude: str | None = None) -> list[dict]:
        """Attribute subsets that single out object i (without `exclude`)."""
        if (i, exclude) not in self._refs:
            self._refs[(i, exclude)] = self._unique_subsets(i, exclude)
        return self._refs[(i, exclude)]

    def _unique_subsets(self, i: int, exclude: str | None) -> list[dict]:
        obj = self.objects[i]
        keys = [a for a in ATTRS if a != exclude]
        out = []
        for k in range(1, len(keys) + 1):
            for subset in itertools.combinations(keys, k):
                if [o["id"] for o in self.objects if all(o[a] == obj[a] for a in subset)] == [i]:
                    out.append({a: obj[a] for a in subset})
        return out

    def ref(self, i: int, rng: np.random.Generator, exclude: str | None = None) -> dict | None:
        options = self.refs(i, exclude)
        return options[int(rng.integers(len(options)))] if options else None

    def visible(self, i: int, frame: int) -> float:
        tr = self.clip["tracks"][i]
        return tr["visible"][frame]

    def collisions(self, events: list[dict] | None = None) -> list[dict]:
        return [e for e in (self.events if events is None else events) if e["type"] == "collision"]


def _choice(rng: np.random.Generator, items: list):
    return items[int(rng.integers(len(items)))]


def _cand(
    kind: str, sub: str, question: str, answer: str, options: list[str], objects: list[int], **params
) -> dict:
    return {
        "type": kind,
        "subtype": sub,
        "question": question,
        "answer": answer,
        "options": options,
        "objects": objects,
        "params": params,
    }


def attribute(c: Clip, rng, colours, shapes, k) -> list[dict]:
    out = []
    pools = {"colour": colours, "shape": shapes, "size": ["small", "large"]}
    for obj in c.objects:
        for attr in ATTRS:
            ref = c.ref(obj["id"], rng, exclude=attr)
            if ref is None:
                continue
            q = _choice(rng, T_ATTR[attr]).format(a=phrase(ref))
            out.append(
                _cand(
                    "attribute",
                    attr,
                    q,
                    obj[attr],
                    answer_options(obj[attr], pools[attr], k, rng),
                    [obj["id"]],
                    ref=ref,
                    attribute=attr,
                )
            )
    return out


def count(c: Clip, rng, colours, shapes, k) -> list[dict]:
    hi = max(6, len(c.objects))
    n = len(c.objects)  # every object is seen (worlds.clip.acceptable)
    out = [
        _cand(
            "count",
            "all",
            _choice(rng, T_COUNT["all"]),
            str(n),
            number_options(n, hi, k, rng),
            [],
            filter={},
        )
    ]
    for attr, values in (("colour", colours), ("shape", shapes)):
        for v in values:
            m = sum(o[attr] == v for o in c.objects)
            q = _choice(rng, T_COUNT[attr]).format(x=v)
            out.append(_cand("count", attr, q, str(m), number_options(m, hi, k, rng), [], filter={attr: v}))
    return out


def clear_direction(tr: dict, frames: list[int]) -> tuple[str, float, float] | None:
    """Clear dominant direction between the first and last of `frames`, or None."""
    if len(frames) < 4:
        return None
    dx, dy = tr["x"][frames[-1]] - tr["x"][frames[0]], tr["y"][frames[-1]] - tr["y"][frames[0]]
    big, small = max(abs(dx), abs(dy)), min(abs(dx), abs(dy))
    if big < 0.08 or small > 0.5 * big:
        return None
    return direction_of(dx, dy), dx, dy


def motion_spans(c: Clip, i: int) -> dict[str, list[int]]:
    """The frames whose travel the motion questions ask about: the whole clip (seen frames) for an
    object that never bounces or hits anything, else the start (before its first contact) and the
    end (after its last one)."""
    tr = c.clip["tracks"][i]
    seen = [f for f in range(c.T) if tr["visible"][f] >= SEEN]
    contacts = [
        e["frame"]
        for e in c.events
        if e["type"] in ("collision", "bounce") and i in e.get("objects", [e.get("object")])
    ]
    if not contacts:
        return {"whole": seen}
    return {"start": [f for f in seen if f < min(contacts)], "end": [f for f in seen if f > max(contacts)]}


def motion(c: Clip, rng, colours, shapes, k) -> list[dict]:
    """Direction of travel over each span of :func:`motion_spans`."""
    out = []
    for obj in c.objects:
        i = obj["id"]
        tr = c.clip["tracks"][i]
        for when, frames in motion_spans(c, i).items():
            got = clear_direction(tr, frames)
            ref = c.ref(i, rng)
            if got is None or ref is None:
                continue
            answer = got[0]
            q = _choice(rng, T_MOTION[when]).format(a=phrase(ref))
            out.append(
                _cand(
                    "motion",
                    when,
                    q,
                    answer,
                    answer_options(answer, list(DIRECTIONS), 4, rng),
                    [i],
                    ref=ref,
                    frames=[frames[0], frames[-1]],
                )
            )
    return out


def collision(c: Clip, rng, colours, shapes, k) -> list[dict]:
    out = []
    hits = c.collisions()
    if all(e["visible"] for e in hits) and len(hits) <= MAX_COLLISION_COUNT:
        n = len(hits)
        out.append(
            _cand(
                "collision",
                "count",
                _choice(rng, T_COLLISIONS),
                str(n),
                number_options(n, MAX_COLLISION_COUNT + 1, k, rng),
                [],
            )
        )
    for i, j in itertools.combinations(range(len(c.objects)), 2):
        pair = [e for e in hits if set(e["objects"]) == {i, j}]
        if any(not e["visible"] for e in pair):
            continue
        a, b = (i, j) if rng.random() < 0.5 else (j, i)
        ra, rb = c.ref(a, rng), c.ref(b, rng)
        if ra is None or rb is None:
            continue
        answer = "yes" if pair else "no"
        q = _choice(rng, T_COLLIDE).format(a=phrase(ra), b=phrase(rb))
        out.append(_cand("collision", "pair", q, answer, ["yes", "no"], [a, b], refs=[ra, rb]))
    return out


def _event_key(e: dict) -> tuple:
    return (e["type"], tuple(sorted(e.get("objects", [e.get("object")]))), e.get("wall"))


def _gerund(e: dict, refs: dict[int, dict], rng) -> str:
    if e["type"] == "collision":
        a, b = e["objects"] if rng.random() < 0.5 else e["objects"][::-1]
        return f"{phrase(refs[a])} {_choice(rng, ['hitting', 'colliding with'])} {phrase(refs[b])}"
    a = phrase(refs[e["object"]])
    return {
        "bounce": f"{a} bouncing off the {e.get('wall')} wall",
        "enter": f"{a} entering the view",
        "leave": f"{a} leaving the view",
        "hide": f"{a} going behind the bar",
    }[e["type"]]


def order(c: Clip, rng, colours, shapes, k) -> list[dict]:
    """Before/after between two visible, unambiguous events at least 2 frames apart."""
    keys = [_event_key(e) for e in c.events]
    usable = [
        e
        for e, key in zip(c.events, keys)
        if keys.count(key) == 1 and e["type"] != "reappear" and e.get("visible", True)
    ]
    refs = {o["id"]: c.ref(o["id"], rng) for o in c.objects}
    usable = [e for e in usable if all(refs[i] is not None for i in e.get("objects", [e.get("object")]))]
    out = []
    for e, f in itertools.combinations(usable, 2):
        if abs(e["frame"] - f["frame"]) < 2:
            continue
        if rng.random() < 0.5:
            e, f = f, e
        answer = "before" if e["frame"] < f["frame"] else "after"
        q = _choice(rng, T_ORDER).format(e=_gerund(e, refs, rng), f=_gerund(f, refs, rng))
        objs = sorted({i for x in (e, f) for i in x.get("objects", [x.get("object")])})
        out.append(
            _cand(
                "order",
                "before_after",
                q,
                answer,
                ["before", "after"],
                objs,
                events=[
                    {k2: x[k2] for k2 in ("type", "frame", "objects", "object", "wall") if k2 in x}
                    for x in (e, f)
                ],
                refs={str(i): refs[i] for i in objs},
            )
        )
    return out


def place_of(x: float, y: float) -> str:
    return ("top" if y < 0.5 else "bottom") + " " + ("left" if x < 0.5 else "right")


def prediction(c: Clip, rng, colours, shapes, k) -> list[dict]:
    """What happens after the clip, by simulating on: will X hit Y; where will X be."""
    out = []
    fut = c.future
    if fut["frames"] < 1:
        return out
    last = c.T - 1
    fps = c.clip["fps"]
    when = "one second" if fut["frames"] == fps else f"{fut['frames']} frames"
    ready = [o["id"] for o in c.objects if c.visible(o["id"], last) >= SEEN]
    late = c.collisions(c.events + fut["events"])
    for i, j in itertools.combinations(ready, 2):
        pair = [e for e in late if set(e["objects"]) == {i, j}]
        if any(e["frame"] in (last, last + 1) for e in pair):
            continue  # hitting right at the cut: ambiguous
        a, b = (i, j) if rng.random() < 0.5 else (j, i)
        ra, rb = c.ref(a, rng), c.ref(b, rng)
        if ra is None or rb is None:
            continue
        answer = "yes" if any(e["frame"] > last for e in pair) else "no"
        q = _choice(rng, T_WILL_HIT).format(a=phrase(ra), b=phrase(rb))
        out.append(_cand("prediction", "will_hit", q, answer, ["yes", "no"], [a, b], refs=[ra, rb]))
    for i in ready:
        tr = fut["tracks"][i]
        x, y, vis, hid = tr["x"][-1], tr["y"][-1], tr["visible"][-1], tr["hidden"][-1]
        if hid or 0 < vis < SEEN:
            continue
        if vis == 0:
            answer = "out of view"
        elif min(abs(x - 0.5), abs(y - 0.5)) < 0.06 or not (0 < x < 1 and 0 < y < 1):
            continue
        else:
            answer = place_of(x, y)
        ref = c.ref(i, rng)
        if ref is None:
            continue
        q = _choice(rng, T_WHERE).format(a=phrase(ref), w=when)
        out.append(_cand("prediction", "where", q, answer, list(PLACES), [i], ref=ref))
    return out


def permanence(c: Clip, rng, colours, shapes, k) -> list[dict]:
    """Objects behind the occluder at the end of the clip."""
    if c.clip["occluder"] is None:
        return []
    last = c.T - 1
    tracks = c.clip["tracks"]
    hidden = [tr["object"] for tr in tracks if tr["hidden"][last]]
    out = []
    if len(hidden) <= MAX_HIDDEN_COUNT:
        n = len(hidden)
        out.append(
            _cand(
                "permanence",
                "count",
                _choice(rng, T_HIDDEN_COUNT),
                str(n),
                number_options(n, MAX_HIDDEN_COUNT + 1, k, rng),
                [],
            )
        )
    for tr in tracks:
        i = tr["object"]
        if not (tr["hidden"][last] or tr["visible"][last] >= EVENT_VISIBLE):
            continue  # out of view at the end: not a permanence question
        ref = c.ref(i, rng)
        if ref is None:
            continue
        answer = "yes" if tr["hidden"][last] else "no"
        q = _choice(rng, T_IS_HIDDEN).format(a=phrase(ref))
        out.append(_cand("permanence", "is_hidden", q, answer, ["yes", "no"], [i], ref=ref))
    return out


GENERATORS = {
    "attribute": attribute,
    "count": count,
    "motion": motion,
    "collision": collision,
    "order": order,
    "prediction": prediction,
    "permanence": permanence,
}


def candidates(clip: dict, rng: np.random.Generator, types, colours, shapes, num_options: int) -> list[dict]:
    """Every candidate question of the requested types for one clip."""
    c = Clip(clip)
    return [q for t in types for q in GENERATORS[t](c, rng, list(colours), list(shapes), num_options)]
