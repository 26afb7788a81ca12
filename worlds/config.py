"""`WorldConfig`: the typed, strict configuration of the synthetic video world.

Defaults equal the `tiny` preset (64 px, 16 frames). Load a preset with overrides through the
shared strict loader::

    from jepa_vqa.config import load_config
    cfg = load_config(WorldConfig, "configs/world/tiny.yaml", ["num_clips=20", "render.size=128"])

Units: positions are in world units where the frame is the unit square (x right, y down); speeds
in world units per frame; gravity in world units per frame squared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from worlds.palette import COLOURS, SHAPES

QUESTION_TYPES = ("attribute", "count", "motion", "collision", "order", "prediction", "permanence")
VOE_KINDS = ("vanish", "teleport", "passthrough", "colour")
SIDES = ("left", "right", "top", "bottom")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _check_fraction(value: float, name: str) -> None:
    _check(0.0 <= value <= 1.0, f"{name} must be in [0, 1], got {value}")


@dataclass
class RenderConfig:
    """Frame size, clip length and h264 encoding."""

    size: int = 64  # square frames, pixels
    frames: int = 16
    fps: int = 8
    crf: int = 18  # x264 quality (lower is better)
    preset: str = "veryfast"  # x264 speed preset

    def __post_init__(self) -> None:
        _check(
            16 <= self.size <= 1024 and self.size % 2 == 0,
            f"size must be even and in [16, 1024], got {self.size}",
        )
        _check(4 <= self.frames <= 512, f"frames must be in [4, 512], got {self.frames}")
        _check(1 <= self.fps <= 120, f"fps must be in [1, 120], got {self.fps}")
        _check(0 <= self.crf <= 51, f"crf must be in [0, 51], got {self.crf}")
        presets = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
        _check(self.preset in presets, f"preset must be one of {list(presets)}, got {self.preset!r}")


@dataclass
class ObjectsConfig:
    """Which objects appear and how they start moving."""

    min_count: int = 1
    max_count: int = 6
    shapes: list[str] = field(default_factory=lambda: list(SHAPES))
    colours: list[str] = field(default_factory=lambda: ["red", "green", "blue", "yellow", "purple", "cyan"])
    small_radius: float = 0.05  # collision radius of a small object (world units)
    large_radius: float = 0.085
    min_speed: float = 0.015  # world units per frame
    max_speed: float = 0.045
    enter_prob: float = 0.15  # chance that an object starts outside and enters through an open side

    def __post_init__(self) -> None:
        _check(1 <= self.min_count <= self.max_count <= 8, "need 1 <= min_count <= max_count <= 8")
        for s in self.shapes:
            _check(s in SHAPES, f"unknown shape {s!r} (known: {list(SHAPES)})")
        for c in self.colours:
            _check(c in COLOURS, f"unknown colour {c!r} (known: {list(COLOURS)})")
        _check(len(set(self.shapes)) == len(self.shapes) >= 1, "shapes must be distinct and non-empty")
        _check(len(set(self.colours)) == len(self.colours) >= 2, "need at least 2 distinct colours")
        _check(
            0.01 <= self.small_radius < self.large_radius <= 0.2,
            "need 0.01 <= small_radius < large_radius <= 0.2",
        )
        _check(0.0 < self.min_speed <= self.max_speed <= 0.2, "need 0 < min_speed <= max_speed <= 0.2")
        _check_fraction(self.enter_prob, "enter_prob")


@dataclass
class PhysicsConfig:
    """Integration, walls, gravity and how often pairs are aimed at each other."""

    substeps: int = 4  # integration steps per frame
    gravity: float = 0.002  # downward acceleration when a clip has gravity
    gravity_prob: float = 0.2  # share of clips with gravity
    open_side_prob: float = 0.25  # chance that each side of the frame has no wall
    wall_thickness: float = 0.03
    aim_prob: float = 0.6  # chance that a pair of objects is aimed to collide

    def __post_init__(self) -> None:
        _check(1 <= self.substeps <= 64, f"substeps must be in [1, 64], got {self.substeps}")
        _check(0.0 <= self.gravity <= 0.05, f"gravity must be in [0, 0.05], got {self.gravity}")
        _check(0.0 <= self.wall_thickness <= 0.1, "wall_thickness must be in [0, 0.1]")
        for name in ("gravity_prob", "open_side_prob", "aim_prob"):
            _check_fraction(getattr(self, name), name)


@dataclass
class OccluderConfig:
    """A vertical bar, drawn in front of the objects, that they pass behind."""

    prob: float = 0.7  # share of clips with an occluder
    width: float = 0.28  # world units; wider than the largest object so it can hide fully
    hide_prob: float = 0.5  # chance that an object is steered to end the clip behind it

    def __post_init__(self) -> None:
        _check_fraction(self.prob, "prob")
        _check_fraction(self.hide_prob, "hide_prob")
        _check(0.05 <= self.width <= 0.5, f"width must be in [0.05, 0.5], got {self.width}")


@dataclass
class NuisanceConfig:
    """Information-free distractors: flickering background leaves and camera jitter."""

    leaves: float = 0.1  # leaf texture contrast in [0, 1]; 0 turns the leaves off
    jitter: float = 0.015  # max camera shake per frame, world units; 0 turns it off

    def __post_init__(self) -> None:
        _check_fraction(self.leaves, "leaves")
        _check(0.0 <= self.jitter <= 0.1, f"jitter must be in [0, 0.1], got {self.jitter}")


@dataclass
class SplitsConfig:
    """Split sizes (fractions of `num_clips`) and the colour-shape pairs held out of training."""

    train: float = 0.8
    val: float = 0.1
    test: float = 0.1
    compositional: float = 0.05  # extra `test-compositional` clips, as a fraction of num_clips
    held_out: list[list[str]] = field(default_factory=lambda: [["red", "triangle"], ["blue", "circle"]])

    def __post_init__(self) -> None:
        for name in ("train", "val", "test", "compositional"):
            _check_fraction(getattr(self, name), name)
        _check(abs(self.train + self.val + self.test - 1.0) < 1e-6, "train + val + test must sum to 1")
        for pair in self.held_out:
            _check(len(pair) == 2, f"held_out entries must be [colour, shape], got {pair}")
            _check(pair[0] in COLOURS and pair[1] in SHAPES, f"held_out pair {pair} is not [colour, shape]")


@dataclass
class QAConfig:
    """Question generation."""

    types: list[str] = field(default_factory=lambda: list(QUESTION_TYPES))
    per_type: int = 2  # at most this many questions of each type per clip
    num_options: int = 4  # multiple-choice options for colour and number answers
    horizon: int = 8  # frames simulated past the clip end for `prediction` questions
    max_ratio: float = 1.3  # no answer more than this times the uniform share within a type

    def __post_init__(self) -> None:
        for t in self.types:
            _check(t in QUESTION_TYPES, f"unknown question type {t!r} (known: {list(QUESTION_TYPES)})")
        _check(1 <= self.per_type <= 20, f"per_type must be in [1, 20], got {self.per_type}")
        _check(2 <= self.num_options <= 8, f"num_options must be in [2, 8], got {self.num_options}")
        _check(1 <= self.horizon <= 256, f"horizon must be in [1, 256], got {self.horizon}")
        _check(1.0 <= self.max_ratio <= 1.5, f"max_ratio must be in [1, 1.5], got {self.max_ratio}")


@dataclass
class VoeConfig:
    """Violation-of-expectation pairs: the same scene rendered possible and impossible."""

    pairs: int = 40
    kinds: list[str] = field(default_factory=lambda: list(VOE_KINDS))
    split: str = "test"

    def __post_init__(self) -> None:
        _check(0 <= self.pairs <= 100_000, f"pairs must be in [0, 100000], got {self.pairs}")
        for k in self.kinds:
            _check(k in VOE_KINDS, f"unknown voe kind {k!r} (known: {list(VOE_KINDS)})")
        _check(len(self.kinds) >= 1, "kinds must not be empty")
        _check(self.split in ("train", "val", "test", "test-compositional"), f"unknown split {self.split!r}")


@dataclass
class WorldConfig:
    """The whole world: `num_clips` clips over train/val/test (+ compositional) and VOE pairs."""

    seed: int = 0
    num_clips: int = 2000
    workers: int = 1
    render: RenderConfig = field(default_factory=RenderConfig)
    objects: ObjectsConfig = field(default_factory=ObjectsConfig)
    physics: PhysicsConfig = field(default_factory=PhysicsConfig)
    occluder: OccluderConfig = field(default_factory=OccluderConfig)
    nuisances: NuisanceConfig = field(default_factory=NuisanceConfig)
    splits: SplitsConfig = field(default_factory=SplitsConfig)
    qa: QAConfig = field(default_factory=QAConfig)
    voe: VoeConfig = field(default_factory=VoeConfig)

    def __post_init__(self) -> None:
        _check(0 <= self.seed < 2**63, f"seed must be a non-negative integer, got {self.seed}")
        _check(0 <= self.num_clips <= 10_000_000, f"num_clips must be in [0, 1e7], got {self.num_clips}")
        _check(1 <= self.workers <= 256, f"workers must be in [1, 256], got {self.workers}")
        widest = 2 * 1.13 * self.objects.large_radius  # the triangle is the widest shape
        _check(self.occluder.width > widest, f"occluder.width must exceed the widest object ({widest:.3f})")
        _check(
            self.objects.large_radius * 2 < 1 - 2 * self.physics.wall_thickness,
            "objects too large for the frame",
        )
        usable = {(c, s) for c in self.objects.colours for s in self.objects.shapes}
        held = {tuple(p) for p in self.splits.held_out}
        _check(len(usable - held) >= 1, "held_out removes every colour-shape pair from training")
        if self.splits.compositional > 0:
            _check(
                len(usable & held) >= 1,
                "splits.compositional needs a held_out pair made of configured colours/shapes",
            )

    def split_sizes(self) -> dict[str, int]:
        """Number of clips per split, in generation order."""
        n_train = round(self.num_clips * self.splits.train)
        n_val = round(self.num_clips * self.splits.val)
        n_test = max(0, self.num_clips - n_train - n_val)
        n_comp = round(self.num_clips * self.splits.compositional)
        return {"train": n_train, "val": n_val, "test": n_test, "test-compositional": n_comp}
