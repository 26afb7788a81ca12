"""Object appearance: colours (well separated in hue, bright and saturated so they survive 64 px
h264 with 4:2:0 chroma) and shape geometry (drawn extent, bounding box, area = mass).

Every shape has a collision radius `r` (physics treats all objects as discs of radius `r`); the
drawn shape fits that disc closely: a circle of radius r, a square of half-side 0.85 r, an
upward-pointing equilateral triangle of circumradius 1.3 r.
"""

from __future__ import annotations

import math

# RGB in [0, 255]. Hues roughly 0, 50, 130, 185, 225, 280 degrees.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (235, 35, 35),
    "yellow": (250, 225, 30),
    "green": (40, 200, 50),
    "cyan": (30, 215, 235),
    "blue": (45, 85, 255),
    "purple": (170, 55, 235),
    "orange": (255, 140, 20),
    "white": (245, 245, 245),
}

SHAPES = ("circle", "square", "triangle")
SIZES = ("small", "large")

SQUARE_HALF = 0.85  # half-side / r
TRIANGLE_R = 1.3  # circumradius / r

BACKGROUND = (68, 74, 62)  # dark muted green-grey; the leaves vary around it
LEAF_TINT = (0.9, 1.0, 0.75)  # leaves are earthy and desaturated
OCCLUDER = (125, 105, 85)  # brown-grey bar, unlike any object colour
OCCLUDER_EDGE = (85, 70, 55)
WALL = (190, 190, 180)


def shape_area(shape: str, r: float) -> float:
    """Area of the drawn shape; the physics uses it as the mass."""
    if shape == "circle":
        return math.pi * r * r
    if shape == "square":
        return (2 * SQUARE_HALF * r) ** 2
    if shape == "triangle":
        R = TRIANGLE_R * r
        return 3 * math.sqrt(3) / 4 * R * R
    raise ValueError(f"unknown shape {shape!r}")


def shape_bbox(shape: str, r: float) -> tuple[float, float, float, float]:
    """Bounding box of the drawn shape as offsets from its centre: (left, top, right, bottom)."""
    if shape == "circle":
        return (-r, -r, r, r)
    if shape == "square":
        h = SQUARE_HALF * r
        return (-h, -h, h, h)
    if shape == "triangle":
        R = TRIANGLE_R * r
        hw = R * math.sqrt(3) / 2
        return (-hw, -R, hw, R / 2)  # apex up (y grows downward)
    raise ValueError(f"unknown shape {shape!r}")
