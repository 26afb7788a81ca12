"""Anti-aliased rendering of a clip to RGB frames, vectorised over time with numpy.

Each shape is drawn from its signed distance (in pixels) with a one-pixel coverage ramp (analytic
anti-aliasing). Objects are drawn on crops around them for all frames at once; the occluder bar is
drawn over the objects, walls last. Nuisances: "leaves" (smooth random texture, new every frame)
and camera jitter (the whole scene shifts a little each frame); both come from their own random
stream, so they carry no information about the scene.

    frames = render_clip(scene, traj.pos[:16], size=64, leaves=0.1, jitter=0.015, seed=7)  # (T, H, W, 3) uint8
"""

from __future__ import annotations

import math

import numpy as np

from worlds.palette import (
    BACKGROUND,
    COLOURS,
    LEAF_TINT,
    OCCLUDER,
    OCCLUDER_EDGE,
    SQUARE_HALF,
    TRIANGLE_R,
    WALL,
)
from worlds.scene import Scene

SQRT3_2 = math.sqrt(3) / 2


def _upsample(noise: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upsampling of (T, c, c) noise spanning the frame to (T, size, size).

    Two gathers per axis instead of a matrix product: no BLAS call, so no thread start-up or
    oversubscription on a busy machine.
    """
    c = noise.shape[-1]
    x = (np.arange(size) + 0.5) / size * (c - 1)
    i0 = np.clip(np.floor(x).astype(int), 0, c - 2)
    w = (x - i0).astype(np.float32)  # (size,)
    rows = noise[:, i0, :] * (1 - w)[:, None] + noise[:, i0 + 1, :] * w[:, None]  # (T, size, c)
    return rows[:, :, i0] * (1 - w) + rows[:, :, i0 + 1] * w  # (T, size, size)


def background(T: int, size: int, leaves: float, rng: np.random.Generator) -> np.ndarray:
    """(T, H, W, 3) float32 in [0, 255]: the muted background with a fresh leaf texture every frame."""
    base = np.array(BACKGROUND, np.float32)
    if leaves <= 0:
        return np.broadcast_to(base, (T, size, size, 3)).copy()
    tex = np.zeros((T, size, size), np.float32)
    for coarse, weight in ((9, 0.7), (17, 0.3)):  # two octaves of smooth noise
        noise = rng.uniform(-1, 1, size=(T, coarse, coarse)).astype(np.float32)
        tex += weight * _upsample(noise, size)  # (T, H, W)
    tex = np.tanh(2.5 * tex)  # blotchy, leaf-like patches
    return tex[..., None] * ((255 * leaves) * np.array(LEAF_TINT, np.float32)) + base


def _signed_distance(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (world units, negative inside) from offsets to the shape centred at 0."""
    if shape == "circle":
        return np.sqrt(dx * dx + dy * dy) - r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - SQUARE_HALF * r
    R = TRIANGLE_R * r  # upward equilateral triangle: three half-planes, inradius R / 2
    base = dy - R / 2
    left = -SQRT3_2 * dx - 0.5 * dy - R / 2
    right = SQRT3_2 * dx - 0.5 * dy - R / 2
    return np.maximum(base, np.maximum(left, right))


def _blend(img: np.ndarray, cover: np.ndarray, colour: np.ndarray) -> None:
    """In place: img <- img + cover * (colour - img); cover (..., h, w), colour broadcastable."""
    img += cover[..., None] * (colour - img)


def _draw_objects(
    canvas: np.ndarray, pad: int, scene: Scene, centres: np.ndarray, draw: np.ndarray, colours: np.ndarray
) -> None:
    """Draw every object on a padded canvas (T, H + 2 pad, W + 2 pad, 3), all frames at once."""
    T, size = canvas.shape[0], canvas.shape[1] - 2 * pad
    t_idx = np.arange(T)[:, None, None]
    for i, obj in enumerate(scene.objects):
        k = int(math.ceil(2 * TRIANGLE_R * obj.radius * size)) + 4  # crop side in pixels
        px = centres[:, i] * size  # (T, 2) centre in pixels
        start = np.floor(px - k / 2).astype(int)  # (T, 2) top-left pixel of the crop
        on = draw[i] & np.all((start > -pad) & (start + k < size + pad), axis=1)  # (T,)
        start = np.where(on[:, None], start, 0)
        cols = start[:, 0:1] + np.arange(k)  # (T, k) pixel columns
        rows = start[:, 1:2] + np.arange(k)  # (T, k) pixel rows
        dx = (cols[:, None, :] + 0.5 - px[:, 0, None, None]) / size  # (T, 1, k) world units
        dy = (rows[:, :, None] + 0.5 - px[:, 1, None, None]) / size  # (T, k, 1)
        sd = _signed_distance(obj.shape, dx, dy, obj.radius) * size  # (T, k, k) pixels
        cover = np.clip(0.5 - sd, 0.0, 1.0).astype(np.float32) * on[:, None, None]
        r_idx, c_idx = rows[:, :, None] + pad, cols[:, None, :] + pad
        crop = canvas[t_idx, r_idx, c_idx]  # (T, k, k, 3)
        _blend(crop, cover, colours[i][:, None, None, :])
        canvas[t_idx, r_idx, c_idx] = crop


def _band(coord: np.ndarray, lo: float, hi: float, size: int) -> np.ndarray:
    """Anti-aliased coverage of the world interval [lo, hi] along pixel-centre coordinates."""
    return np.clip(np.minimum(coord - lo, hi - coord) * size + 0.5, 0.0, 1.0).astype(np.float32)


def _paint_columns(img: np.ndarray, cover: np.ndarray, colour: tuple[int, int, int]) -> None:
    """Blend a full-height band, coverage `cover` (T, W) per column, into img (T, H, W, 3) in place,
    touching only the columns it covers."""
    cols = np.flatnonzero(cover.max(axis=0) > 0)
    if len(cols) == 0:
        return
    c0, c1 = cols[0], cols[-1] + 1
    _blend(
        img[:, :, c0:c1],
        np.broadcast_to(cover[:, None, c0:c1], img.shape[:2] + (c1 - c0,)),
        np.array(colour, np.float32),
    )


def render_clip(
    scene: Scene,
    pos: np.ndarray,
    size: int,
    leaves: float,
    jitter: float,
    seed: int,
    draw: np.ndarray | None = None,
    colours: list[list[str]] | None = None,
) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of the object centres `pos` (T, n, 2). `draw` (n, T) hides objects
    and `colours` (per object, per frame colour names) recolours them (violation-of-expectation)."""
    T, n = pos.shape[0], pos.shape[1]
    rng = np.random.default_rng(seed)  # the nuisance stream only
    img = background(T, size, leaves, rng)  # (T, H, W, 3)
    shake = rng.uniform(-jitter, jitter, size=(T, 2)) if jitter > 0 else np.zeros((T, 2))
    centres = pos - shake[:, None, :]  # camera shift: the world moves opposite to the camera
    if draw is None:
        draw = np.ones((n, T), dtype=bool)
    rgb = np.zeros((n, T, 3), np.float32)  # (n, T, 3)
    for i, obj in enumerate(scene.objects):
        names = colours[i] if colours is not None else [obj.colour] * T
        rgb[i] = np.array([COLOURS[c] for c in names], np.float32)
    pad = int(math.ceil(2 * TRIANGLE_R * max([o.radius for o in scene.objects] + [0.0]) * size)) + 6
    canvas = np.zeros((T, size + 2 * pad, size + 2 * pad, 3), np.float32)
    canvas[:, pad : pad + size, pad : pad + size] = img
    _draw_objects(canvas, pad, scene, centres, draw, rgb)
    img = canvas[:, pad : pad + size, pad : pad + size]
    coord = (np.arange(size) + 0.5) / size  # pixel centres, world units
    xs = coord[None, :] + shake[:, 0:1]  # (T, W) world x of each pixel column
    ys = coord[None, :] + shake[:, 1:2]  # (T, H)
    if scene.occluder is not None:
        o0, o1 = scene.occluder
        edge = 1.5 / size
        _paint_columns(img, _band(xs, o0, o1, size), OCCLUDER_EDGE)
        _paint_columns(img, _band(xs, o0 + edge, o1 - edge, size), OCCLUDER)
    w = scene.wall_thickness
    for side in scene.walls:
        lo, hi = (-1.0, w) if side in ("left", "top") else (1 - w, 2.0)
        if side in ("left", "right"):
            _paint_columns(img, _band(xs, lo, hi, size), WALL)
        else:
            _paint_columns(img.transpose(0, 2, 1, 3), _band(ys, lo, hi, size), WALL)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
