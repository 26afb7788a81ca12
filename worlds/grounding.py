"""Where each object is, per cell of a video's token grid: the words a grounded projector is
trained to place there (alignment ``stage1.data=grounding``).

A clip's frames are cut into the projector's pooled grid ``(t, h, w)``: time step ``s`` covers
frames ``[s*F/t, (s+1)*F/t)``, cell ``(i, j)`` the image rows ``[i/h, (i+1)/h)`` and columns
``[j/w, (j+1)/w)``. A cell holds the object whose centre is there, visible, in the most of its
frames; it is labelled with that object's colour, shape, size and, when it moves far enough
within the time step, its direction. An empty cell's shape is :data:`NOTHING`::

    words = cell_words(clip, grid=(4, 4, 4))   # 64 dicts: {"shape": "circle", "colour": "red", ...}

A slot projector (one group of tokens per object, not per cell) is trained on :func:`object_words`
instead: every object's size, colour, shape and the direction it travels at the start and at the
end of the clip, as the motion questions ask it; a slot without an object says :data:`NOTHING`::

    words = object_words(clip)  # one dict per object: {"size": "large", ..., "start": "left", "end": "up"}
"""

from __future__ import annotations

import numpy as np

from worlds.annotate import direction_of
from worlds.palette import SIZES
from worlds.questions import DIRECTIONS, Clip, clear_direction, motion_spans

NOTHING = "nothing"  # the shape word of a cell without an object
MIN_VISIBLE = 0.5  # fraction of an object's area in view for it to count as seen in a frame
MIN_MOVE = 0.02  # displacement (of the frame's width) within a time step that names a direction


def vocabulary(colours: list[str], shapes: list[str]) -> dict[str, list[str]]:
    """The word groups of a world: one word of each group is the target of an occupied cell."""
    return {
        "shape": [*shapes, NOTHING],
        "colour": list(colours),
        "size": list(SIZES),
        "direction": list(DIRECTIONS),
    }


def world_vocabulary(clips: list[dict]) -> dict[str, list[str]]:
    """:func:`vocabulary` of the colours and shapes that the objects of ``clips`` have (sorted)."""
    colours = sorted({o["colour"] for c in clips for o in c["objects"]})
    shapes = sorted({o["shape"] for c in clips for o in c["objects"]})
    return vocabulary(colours, shapes)


def _frame_windows(num_frames: int, steps: int) -> list[range]:
    edges = np.linspace(0, num_frames, steps + 1).round().astype(int)
    return [range(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def _occupants(clip: dict, frames: range, h: int, w: int) -> dict[tuple[int, int], int]:
    """{cell (i, j): id of the object seen there, visible, in the most of ``frames``} (ties: the
    first track)."""
    best: dict[tuple[int, int], tuple[int, int]] = {}  # cell -> (frames seen there, object id)
    for track in clip["tracks"]:
        counts: dict[tuple[int, int], int] = {}
        for f in frames:
            if track["visible"][f] >= MIN_VISIBLE:
                cell = (int(np.clip(track["y"][f], 0, 0.999) * h), int(np.clip(track["x"][f], 0, 0.999) * w))
                counts[cell] = counts.get(cell, 0) + 1
        for cell, n in counts.items():
            if n > best.get(cell, (0, -1))[0]:
                best[cell] = (n, track["object"])
    return {cell: obj for cell, (_, obj) in best.items()}


def _direction(track: dict, frames: range) -> str | None:
    """Direction of ``track`` across the visible ``frames`` of a time step, if it moved far enough."""
    seen = [f for f in frames if track["visible"][f] >= MIN_VISIBLE]
    if len(seen) < 2:
        return None
    dx = track["x"][seen[-1]] - track["x"][seen[0]]
    dy = track["y"][seen[-1]] - track["y"][seen[0]]
    return direction_of(dx, dy) if max(abs(dx), abs(dy)) >= MIN_MOVE else None


def cell_objects(clip: dict, grid: tuple[int, int, int]) -> list[int | None]:
    """One entry per cell of ``grid`` (t, h, w), in (t, h, w) order: the id of the object seen
    there (None for an empty cell)."""
    t, h, w = grid
    cells = []
    for frames in _frame_windows(clip["num_frames"], t):
        occupants = _occupants(clip, frames, h, w)
        cells.extend(occupants.get((i, j)) for i in range(h) for j in range(w))
    return cells


def cell_words(clip: dict, grid: tuple[int, int, int]) -> list[dict[str, str]]:
    """One dict per cell of ``grid`` (t, h, w), in (t, h, w) order: the group -> word targets of
    that cell (``{"shape": "nothing"}`` for an empty one)."""
    objects = {o["id"]: o for o in clip["objects"]}
    tracks = {tr["object"]: tr for tr in clip["tracks"]}
    windows = _frame_windows(clip["num_frames"], grid[0])
    cells = []
    for k, occupant in enumerate(cell_objects(clip, grid)):
        if occupant is None:
            cells.append({"shape": NOTHING})
            continue
        obj = objects[occupant]
        words = {"shape": obj["shape"], "colour": obj["colour"], "size": obj["size"]}
        direction = _direction(tracks[occupant], windows[k // (grid[1] * grid[2])])
        if direction is not None:
            words["direction"] = direction
        cells.append(words)
    return cells


SLOT_GROUPS = ("size", "colour", "shape", "start", "end")  # a slot's tokens, in this order


def slot_vocabulary(colours: list[str], shapes: list[str]) -> dict[str, list[str]]:
    """The word groups of a slot's tokens; every group has :data:`NOTHING` (an empty slot, or no
    clear direction)."""
    words = {
        "size": list(SIZES),
        "colour": list(colours),
        "shape": list(shapes),
        "start": list(DIRECTIONS),
        "end": list(DIRECTIONS),
    }
    return {group: [*words[group], NOTHING] for group in SLOT_GROUPS}


def object_words(clip: dict) -> list[dict[str, str]]:
    """One dict per object of ``clip``: its size, colour and shape, and its clear direction of
    travel at the start and at the end (the same over a clip without contacts; :data:`NOTHING`
    when the motion questions would not ask it)."""
    c = Clip(clip)
    out = []
    for obj in clip["objects"]:
        spans = motion_spans(c, obj["id"])
        track = clip["tracks"][obj["id"]]
        ways = {when: clear_direction(track, frames) for when, frames in spans.items()}
        start, end = ways.get("start", ways.get("whole")), ways.get("end", ways.get("whole"))
        out.append(
            {
                "size": obj["size"],
                "colour": obj["colour"],
                "shape": obj["shape"],
                "start": start[0] if start else NOTHING,
                "end": end[0] if end else NOTHING,
            }
        )
    return out
