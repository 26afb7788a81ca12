"""2D rigid-disc physics: constant motion, optional gravity, elastic collisions between objects
(momentum and kinetic energy conserved, mass = drawn area) and with the closed walls.

Objects that leave the frame through an open side stop being simulated. Time is in frames; each
frame is integrated in `substeps` semi-implicit Euler steps. Interventions used by the
violation-of-expectation pairs: `ghost_pairs` (a pair passes through each other) and `teleport`.

    traj = simulate(scene, num_frames=24, substeps=4)
    traj.pos  # (F, n, 2) centres at each frame
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from worlds.scene import Scene


@dataclass
class Teleport:
    """Move object `obj` to `xy` at the start of frame `frame`."""

    obj: int
    frame: int
    xy: tuple[float, float]


@dataclass
class Trajectory:
    """The result of a simulation: states at frame times and the raw contact events."""

    pos: np.ndarray  # (F, n, 2)
    vel: np.ndarray  # (F, n, 2)
    active: np.ndarray  # (F, n) bool: still simulated (has not left the frame)
    collisions: list[dict] = field(default_factory=list)  # {"t", "objects", "v_before", "v_after"}
    bounces: list[dict] = field(default_factory=list)  # {"t", "object", "wall"}


def _collide(i: int, j: int, pos: list[list[float]], vel: list[list[float]], mass: list[float]) -> bool:
    """Elastic impulse along the line of centres if i and j approach; returns whether it happened."""
    nx, ny = pos[j][0] - pos[i][0], pos[j][1] - pos[i][1]
    dist = math.hypot(nx, ny)
    if dist < 1e-12:
        return False
    nx, ny = nx / dist, ny / dist
    u = (vel[i][0] - vel[j][0]) * nx + (vel[i][1] - vel[j][1]) * ny  # closing speed along n
    if u <= 0:
        return False
    ki, kj = 2 * mass[j] / (mass[i] + mass[j]) * u, 2 * mass[i] / (mass[i] + mass[j]) * u
    vel[i][0] -= ki * nx
    vel[i][1] -= ki * ny
    vel[j][0] += kj * nx
    vel[j][1] += kj * ny
    return True


def _in_view(p: list[float], reach: float) -> bool:
    """Whether a disc of radius `reach` at `p` overlaps the frame [0, 1]^2."""
    return -reach < p[0] < 1 + reach and -reach < p[1] < 1 + reach


_WALLS = (("left", 0, -1), ("right", 0, 1), ("top", 1, -1), ("bottom", 1, 1))


def simulate(
    scene: Scene,
    num_frames: int,
    substeps: int = 4,
    ghost_pairs: frozenset = frozenset(),
    teleport: Teleport | None = None,
) -> Trajectory:
    """Roll `scene` forward for `num_frames` frames (frame 0 = the initial state).

    Plain Python floats: with at most a handful of objects this beats numpy's per-call overhead.
    """
    n = len(scene.objects)
    pos = [[float(x), float(y)] for x, y in scene.pos]
    vel = [[float(x), float(y)] for x, y in scene.vel]
    radius = [o.radius for o in scene.objects]
    mass = [o.mass for o in scene.objects]
    reach = [r * 1.35 for r in radius]  # covers every drawn shape
    limit = {
        "left": scene.wall_thickness,
        "right": 1.0 - scene.wall_thickness,
        "top": scene.wall_thickness,
        "bottom": 1.0 - scene.wall_thickness,
    }
    walls = [(w, k, sign, limit[w]) for w, k, sign in _WALLS if w in scene.walls]
    pairs = [
        (i, j, (radius[i] + radius[j]) ** 2)
        for i in range(n)
        for j in range(i + 1, n)
        if (i, j) not in ghost_pairs
    ]
    active = [True] * n
    entered = [_in_view(pos[i], reach[i]) for i in range(n)]
    g, dt = scene.gravity, 1.0 / substeps
    out_pos = np.zeros((num_frames, n, 2))
    out_vel = np.zeros((num_frames, n, 2))
    out_active = np.zeros((num_frames, n), dtype=bool)
    traj = Trajectory(out_pos, out_vel, out_active)
    for f in range(num_frames):
        if teleport is not None and teleport.frame == f:
            pos[teleport.obj] = [float(teleport.xy[0]), float(teleport.xy[1])]
        out_pos[f], out_vel[f], out_active[f] = pos, vel, active
        if f == num_frames - 1:
            break
        for s in range(substeps):
            t = f + (s + 1) * dt
            live = [i for i in range(n) if active[i]]
            # 1. integrate (semi-implicit Euler)
            for i in live:
                vel[i][1] += g * dt
                pos[i][0] += vel[i][0] * dt
                pos[i][1] += vel[i][1] * dt
            # 2. closed walls reflect the velocity component that points into them
            for wall, k, sign, lim in walls:
                for i in live:
                    if sign * (pos[i][k] + sign * radius[i] - lim) > 0 and sign * vel[i][k] > 0:
                        vel[i][k] = -vel[i][k]
                        traj.bounces.append({"t": t, "object": i, "wall": wall})
            # 3. object-object contacts (overlapping and approaching)
            for i, j, contact in pairs:
                if not (active[i] and active[j]):
                    continue
                dx, dy = pos[j][0] - pos[i][0], pos[j][1] - pos[i][1]
                if dx * dx + dy * dy >= contact:
                    continue
                before = np.array([vel[i], vel[j]])
                if _collide(i, j, pos, vel, mass):
                    traj.collisions.append(
                        {"t": t, "objects": [i, j], "v_before": before, "v_after": np.array([vel[i], vel[j]])}
                    )
            # 4. objects that have been in view and are now fully outside have left for good
            for i in live:
                inside = _in_view(pos[i], reach[i])
                entered[i] = entered[i] or inside
                if entered[i] and not inside:
                    active[i] = False
                    vel[i] = [0.0, 0.0]
    return traj
