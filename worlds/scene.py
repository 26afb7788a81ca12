"""Scene sampling: which objects, where they start, how they move, walls, occluder, gravity.

A `Scene` is the initial condition of one clip; `worlds.physics.simulate` rolls it forward.
Sampling is steered so that interesting events are common: a pair of objects may be aimed to
meet (collisions), an object may be aimed to end behind the occluder (permanence), and objects may
start outside the frame and enter through an open side.

    rng = np.random.default_rng(0)
    scene = sample_scene(WorldConfig(), rng, split="train")
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from worlds.config import SIDES, WorldConfig
from worlds.palette import shape_area, shape_bbox


@dataclass(frozen=True)
class WorldObject:
    """Static attributes of one object. `radius` is the collision radius; `mass` the drawn area."""

    id: int
    shape: str
    colour: str
    size: str  # "small" | "large"
    radius: float
    mass: float
    bbox: tuple[float, float, float, float]  # drawn extent as offsets from the centre (l, t, r, b)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "shape": self.shape,
            "colour": self.colour,
            "size": self.size,
            "radius": round(self.radius, 5),
            "mass": round(self.mass, 7),
            "bbox": [round(v, 5) for v in self.bbox],
        }


@dataclass
class Scene:
    """Initial condition of a clip."""

    objects: list[WorldObject]
    pos: np.ndarray  # (n, 2) centres at frame 0
    vel: np.ndarray  # (n, 2) velocities, world units per frame
    walls: tuple[str, ...]  # closed sides; the others are open (objects may leave or enter)
    occluder: tuple[float, float] | None  # x-range of the vertical bar
    gravity: float  # downward acceleration (0: none)
    wall_thickness: float


def make_object(i: int, shape: str, colour: str, size: str, cfg: WorldConfig) -> WorldObject:
    r = cfg.objects.small_radius if size == "small" else cfg.objects.large_radius
    return WorldObject(i, shape, colour, size, r, shape_area(shape, r), shape_bbox(shape, r))


def allowed_pairs(cfg: WorldConfig, split: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(pairs usable in `split`, held-out pairs). Held-out pairs never appear outside `test-compositional`."""
    held = [
        (c, s)
        for c, s in (tuple(p) for p in cfg.splits.held_out)
        if c in cfg.objects.colours and s in cfg.objects.shapes
    ]
    every = [(c, s) for c in cfg.objects.colours for s in cfg.objects.shapes]
    if split == "test-compositional":
        return every, held
    return [p for p in every if p not in held], held


def _sample_objects(cfg: WorldConfig, rng: np.random.Generator, split: str, n: int) -> list[WorldObject]:
    pairs, held = allowed_pairs(cfg, split)
    chosen = [pairs[rng.integers(len(pairs))] for _ in range(n)]
    if split == "test-compositional":  # at least one object shows a held-out pair
        chosen[rng.integers(n)] = held[rng.integers(len(held))]
    sizes = ["small" if rng.random() < 0.5 else "large" for _ in range(n)]
    return [make_object(i, s, c, z, cfg) for i, ((c, s), z) in enumerate(zip(chosen, sizes))]


class _Placer:
    """Non-overlapping placement inside the walls."""

    def __init__(self, cfg: WorldConfig, rng: np.random.Generator):
        self.rng = rng
        self.lo = cfg.physics.wall_thickness
        self.hi = 1.0 - cfg.physics.wall_thickness
        self.placed: list[tuple[np.ndarray, float]] = []

    def inside(self, p: np.ndarray, r: float) -> bool:
        return bool(np.all(p - r >= self.lo + 0.005) and np.all(p + r <= self.hi - 0.005))

    def free(self, p: np.ndarray, r: float) -> bool:
        return all(np.hypot(*(p - q)) > r + s + 0.02 for q, s in self.placed)

    def add(self, p: np.ndarray, r: float) -> None:
        self.placed.append((p, r))

    def random_point(self, r: float) -> np.ndarray | None:
        for _ in range(60):
            p = self.rng.uniform(self.lo + r + 0.01, self.hi - r - 0.01, size=2)
            if self.free(p, r):
                return p
        return None


def _random_velocity(cfg: WorldConfig, rng: np.random.Generator) -> np.ndarray:
    speed = rng.uniform(cfg.objects.min_speed, cfg.objects.max_speed)
    angle = rng.uniform(0, 2 * math.pi)
    return speed * np.array([math.cos(angle), math.sin(angle)])


def _aim_pair(cfg, rng, placer, a: WorldObject, b: WorldObject, t_meet: float):
    """Start positions and velocities that bring `a` and `b` together at time `t_meet`."""
    for _ in range(30):
        m = rng.uniform(0.25, 0.75, size=2)
        ua = rng.uniform(0, 2 * math.pi)
        ub = ua + math.pi + rng.uniform(-1.9, 1.9)  # roughly head-on, never from behind
        out = []
        for obj, ang in ((a, ua), (b, ub)):
            u = np.array([math.cos(ang), math.sin(ang)])
            s_max = cfg.objects.max_speed
            for k in range(2):  # the straight line back from m must start inside the walls
                if u[k] > 1e-6:
                    s_max = min(s_max, (m[k] - placer.lo - obj.radius - 0.01) / (u[k] * t_meet))
                elif u[k] < -1e-6:
                    s_max = min(s_max, (placer.hi - obj.radius - 0.01 - m[k]) / (-u[k] * t_meet))
            if s_max < cfg.objects.min_speed:
                break
            v = rng.uniform(cfg.objects.min_speed, s_max) * u
            out.append((m - v * t_meet, v))
        if len(out) == 2:
            (pa, va), (pb, vb) = out
            sep = np.hypot(*(pa - pb)) > a.radius + b.radius + 0.02
            if sep and placer.free(pa, a.radius) and placer.free(pb, b.radius):
                return out
    return None


def _aim_behind(cfg, rng, placer, obj: WorldObject, occ: tuple[float, float], t_end: float):
    """Start position and velocity that put `obj` behind the occluder at `t_end`, visible at start."""
    cx, half = (occ[0] + occ[1]) / 2, (occ[1] - occ[0]) / 2
    hw = obj.bbox[2]
    for _ in range(30):
        x_end = cx + rng.uniform(-0.6, 0.6) * (half - hw)
        vx = rng.choice([-1.0, 1.0]) * rng.uniform(cfg.objects.min_speed, cfg.objects.max_speed)
        vy = rng.uniform(-0.4, 0.4) * abs(vx)
        p = np.array([x_end - vx * t_end, rng.uniform(0.2, 0.8) - vy * t_end / 2])
        end_y = p[1] + vy * t_end
        visible_at_start = abs(p[0] - cx) > half + hw + 0.02
        if (
            visible_at_start
            and placer.inside(p, obj.radius)
            and placer.free(p, obj.radius)
            and placer.lo + obj.radius < end_y < placer.hi - obj.radius
        ):
            return p, np.array([vx, vy])
    return None


def _enter_from(cfg, rng, obj: WorldObject, side: str, frames: int):
    """Start outside `side`, moving inward so that the object is half in view at a time in the clip."""
    speed = rng.uniform(cfg.objects.min_speed * 1.5, cfg.objects.max_speed)
    inward = {"left": 0.0, "right": math.pi, "top": math.pi / 2, "bottom": -math.pi / 2}[side]
    ang = inward + rng.uniform(-0.6, 0.6)
    v = speed * np.array([math.cos(ang), math.sin(ang)])
    along = rng.uniform(0.2, 0.8)
    edge = {"left": (0.0, along), "right": (1.0, along), "top": (along, 0.0), "bottom": (along, 1.0)}[side]
    normal_speed = abs(v[0]) if side in ("left", "right") else abs(v[1])
    t_in = max(rng.uniform(1.0, frames * 0.5), 1.4 * obj.radius / normal_speed + 1.0)
    return np.array(edge) - v * t_in, v


def sample_scene(
    cfg: WorldConfig,
    rng: np.random.Generator,
    split: str,
    *,
    occluder: bool | None = None,
    hide_at: float | None = None,
    aim_at: float | None = None,
) -> Scene:
    """Sample one scene. `occluder`, `hide_at` (time an object is behind the bar) and `aim_at` (time
    a pair meets) force the steering used by violation-of-expectation pairs; None = random."""
    T, H = cfg.render.frames, cfg.qa.horizon
    n = int(rng.integers(cfg.objects.min_count, cfg.objects.max_count + 1))
    objects = _sample_objects(cfg, rng, split, n)
    walls = tuple(s for s in SIDES if rng.random() >= cfg.physics.open_side_prob)
    open_sides = [s for s in SIDES if s not in walls]
    has_occ = rng.random() < cfg.occluder.prob if occluder is None else occluder
    occ = None
    if has_occ:
        cx = rng.uniform(0.3, 0.7)
        occ = (cx - cfg.occluder.width / 2, cx + cfg.occluder.width / 2)
    gravity = cfg.physics.gravity if rng.random() < cfg.physics.gravity_prob else 0.0

    pos = np.zeros((n, 2))
    vel = np.zeros((n, 2))
    todo = list(range(n))
    placer = _Placer(cfg, rng)
    # 1. a pair aimed to collide (during the clip or just after it, for prediction questions)
    if n >= 2 and (aim_at is not None or rng.random() < cfg.physics.aim_prob):
        a, b = (int(v) for v in rng.choice(n, size=2, replace=False))
        t_meet = aim_at if aim_at is not None else rng.uniform(3.0, T + H - 2.0)
        got = _aim_pair(cfg, rng, placer, objects[a], objects[b], t_meet)
        if got is not None:
            for k, (p, v) in zip((a, b), got):
                pos[k], vel[k] = p, v
                placer.add(p, objects[k].radius)
                todo.remove(k)
    # 2. objects steered to be behind the occluder at the end of the clip (or at `hide_at`)
    if occ is not None and todo:
        n_hide = 0
        if hide_at is not None or rng.random() < cfg.occluder.hide_prob:
            n_hide = 2 if (hide_at is None and rng.random() < 0.5) else 1
        for _ in range(min(n_hide, len(todo))):
            k = todo[int(rng.integers(len(todo)))]
            t_end = hide_at if hide_at is not None else rng.uniform(T - 3.0, T - 1.0)
            got = _aim_behind(cfg, rng, placer, objects[k], occ, t_end)
            if got is not None:
                pos[k], vel[k] = got
                placer.add(pos[k], objects[k].radius)
                todo.remove(k)
    # 3. the rest: some enter through an open side (never object 0, the probe's subject), the others anywhere
    for k in list(todo):
        if k > 0 and open_sides and rng.random() < cfg.objects.enter_prob:
            side = open_sides[int(rng.integers(len(open_sides)))]
            pos[k], vel[k] = _enter_from(cfg, rng, objects[k], side, T)
            todo.remove(k)
            continue
        p = placer.random_point(objects[k].radius)
        if p is None:  # crowded: shrink the scene rather than overlap
            continue
        pos[k], vel[k] = p, _random_velocity(cfg, rng)
        placer.add(p, objects[k].radius)
        todo.remove(k)
    if todo:  # drop objects that found no room, renumbering the rest
        keep = [k for k in range(n) if k not in todo]
        objects = [
            make_object(i, objects[k].shape, objects[k].colour, objects[k].size, cfg)
            for i, k in enumerate(keep)
        ]
        pos, vel = pos[keep], vel[keep]
    return Scene(objects, pos, vel, walls, occ, gravity, cfg.physics.wall_thickness)
