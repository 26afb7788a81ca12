"""Ground truth of one clip: the `world.json` entry built from a scene and its trajectory.

Per frame and object: centre, visible fraction (share of the drawn bounding box that is inside the
frame and not behind the occluder) and `hidden` (fully behind the occluder). Events: object
collisions (pair, frame), wall bounces, entering and leaving the frame, hiding behind the
occluder and reappearing. Frames past the clip (`future`) serve the prediction questions.
"""

from __future__ import annotations

import numpy as np

from worlds.config import WorldConfig
from worlds.physics import Trajectory
from worlds.scene import Scene

SEEN = 0.5  # an object counts as seen in a frame when at least this share of it is visible
EVENT_VISIBLE = 0.3  # an event is visible when its objects show at least this share


def _overlap(a0: np.ndarray, a1: np.ndarray, b0: float, b1: float) -> np.ndarray:
    return np.clip(np.minimum(a1, b1) - np.maximum(a0, b0), 0.0, None)


def visibility(scene: Scene, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(in_frame, visible, hidden), each (F, n): in-frame share of the bbox, visible share, fully behind the bar."""
    box = np.array([o.bbox for o in scene.objects])  # (n, 4)
    x0, x1 = pos[..., 0] + box[:, 0], pos[..., 0] + box[:, 2]  # (F, n)
    y0, y1 = pos[..., 1] + box[:, 1], pos[..., 1] + box[:, 3]
    width, height = x1 - x0, y1 - y0
    x_in = _overlap(x0, x1, 0.0, 1.0)  # (F, n)
    y_frac = _overlap(y0, y1, 0.0, 1.0) / height
    in_frame = x_in / width * y_frac
    if scene.occluder is None:
        return in_frame, in_frame.copy(), np.zeros_like(in_frame, dtype=bool)
    o0, o1 = scene.occluder
    x_vis = x_in - _overlap(x0, x1, max(o0, 0.0), min(o1, 1.0))
    hidden = (x0 >= o0) & (x1 <= o1) & (y_frac > 0)
    return in_frame, x_vis / width * y_frac, hidden


def _exit_side(x: float, y: float) -> str:
    """The side of the frame a point outside it lies beyond (the farthest one)."""
    beyond = {"left": -x, "right": x - 1.0, "top": -y, "bottom": y - 1.0}
    return max(beyond, key=beyond.get)


def _state_events(pos: np.ndarray, in_frame: np.ndarray, hidden: np.ndarray) -> list[dict]:
    """enter / leave / hide / reappear events from per-frame states."""
    events = []
    F, n = in_frame.shape
    for f in range(1, F):
        for i in range(n):
            was_in, now_in = in_frame[f - 1, i] > 0, in_frame[f, i] > 0
            if now_in and not was_in:
                side = _exit_side(*pos[f - 1, i])
                events.append({"type": "enter", "frame": f, "object": i, "side": side})
            elif was_in and not now_in:
                events.append({"type": "leave", "frame": f, "object": i, "side": _exit_side(*pos[f, i])})
            if hidden[f, i] and not hidden[f - 1, i]:
                events.append({"type": "hide", "frame": f, "object": i})
            elif hidden[f - 1, i] and not hidden[f, i] and now_in:
                events.append({"type": "reappear", "frame": f, "object": i})
    return events


def _contact_events(traj: Trajectory, visible: np.ndarray) -> list[dict]:
    F = visible.shape[0]
    events = []
    for c in traj.collisions:
        f = min(F - 1, int(round(c["t"])))
        i, j = c["objects"]
        seen = bool(min(visible[f, i], visible[f, j]) >= EVENT_VISIBLE)
        events.append(
            {"type": "collision", "frame": f, "t": round(c["t"], 4), "objects": [i, j], "visible": seen}
        )
    for b in traj.bounces:
        f = min(F - 1, int(round(b["t"])))
        seen = bool(visible[f, b["object"]] >= EVENT_VISIBLE)
        events.append(
            {
                "type": "bounce",
                "frame": f,
                "t": round(b["t"], 4),
                "object": b["object"],
                "wall": b["wall"],
                "visible": seen,
            }
        )
    return events


def _tracks(pos: np.ndarray, visible: np.ndarray, hidden: np.ndarray) -> list[dict]:
    return [
        {
            "object": i,
            "x": np.round(pos[:, i, 0], 4).tolist(),
            "y": np.round(pos[:, i, 1], 4).tolist(),
            "visible": np.round(visible[:, i], 3).tolist(),
            "hidden": hidden[:, i].tolist(),
        }
        for i in range(pos.shape[1])
    ]


def direction_of(dx: float, dy: float) -> str:
    """Dominant direction of a displacement (y grows downward)."""
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "down" if dy > 0 else "up"


def _labels(pos: np.ndarray, in_frame: np.ndarray, visible: np.ndarray, events: list[dict]) -> dict:
    """Probe targets: direction of object 0, objects seen in frame 0, any collision in the clip."""
    frames = np.flatnonzero(in_frame[:, 0] > 0)
    last = int(frames[-1]) if len(frames) else 0
    d = pos[last, 0] - pos[0, 0]
    return {
        "direction": direction_of(float(d[0]), float(d[1])),
        "count": int((visible[0] >= SEEN).sum()),
        "collision": any(e["type"] == "collision" for e in events),
    }


def annotate(clip_id: str, split: str, scene: Scene, traj: Trajectory, cfg: WorldConfig, seed: int) -> dict:
    """The world.json entry of one clip (frames < render.frames in `tracks`/`events`, the rest in `future`)."""
    T = cfg.render.frames
    in_frame, visible, hidden = visibility(scene, traj.pos)
    events = _contact_events(traj, visible) + _state_events(traj.pos, in_frame, hidden)
    events.sort(key=lambda e: (e["frame"], e.get("t", e["frame"]), e["type"]))
    now = [e for e in events if e["frame"] < T]
    later = [e for e in events if e["frame"] >= T]
    return {
        "id": clip_id,
        "video": f"videos/{clip_id}.mp4",
        "split": split,
        "seed": seed,
        "num_frames": T,
        "fps": cfg.render.fps,
        "size": cfg.render.size,
        "objects": [o.to_dict() for o in scene.objects],
        "walls": list(scene.walls),
        "occluder": None if scene.occluder is None else [round(v, 5) for v in scene.occluder],
        "gravity": scene.gravity,
        "tracks": _tracks(traj.pos[:T], visible[:T], hidden[:T]),
        "events": now,
        "future": {
            "frames": traj.pos.shape[0] - T,
            "tracks": _tracks(traj.pos[T:], visible[T:], hidden[T:]),
            "events": later,
        },
        "labels": _labels(traj.pos[:T], in_frame[:T], visible[:T], now),
    }
