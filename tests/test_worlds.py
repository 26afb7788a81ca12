"""Tests for `worlds/`: config, physics invariants, rendering, VOE pairs, the dataset on disk
(layout, video decoding, determinism), CLI and bench. Questions and ground truth: test_world_questions.py.

    .venv/bin/python -m pytest tests/test_worlds.py -x -q
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from test_world_helpers import PRESETS, _recompute, cfg_with  # noqa: E402

from cli.main import main as cli_main  # noqa: E402
from jepa_vqa.config import ConfigError, load_config  # noqa: E402
from worlds.clip import plan_clip, render_plan  # noqa: E402
from worlds.config import WorldConfig  # noqa: E402
from worlds.generate import generate_dataset  # noqa: E402
from worlds.palette import COLOURS, shape_area  # noqa: E402
from worlds.physics import simulate  # noqa: E402
from worlds.render import render_clip  # noqa: E402
from worlds.scene import Scene, make_object, sample_scene  # noqa: E402
from worlds.voe import make_voe_pair  # noqa: E402

SMALL_RUN = ["num_clips=10", "voe.pairs=4", "splits.compositional=0.2"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A tiny dataset written through the real CLI (with the contact sheet)."""
    out = tmp_path_factory.mktemp("world")
    code = cli_main(
        [
            "world",
            "--config",
            str(PRESETS / "tiny.yaml"),
            "--out",
            str(out),
            "--preview",
            "--quiet",
            *SMALL_RUN,
        ]
    )
    assert code == 0
    return out


# ----------------------------------------------------------------------------------------- config
@pytest.mark.parametrize("name,size", [("tiny", 64), ("small", 128), ("base", 224)])
def test_presets_load(name, size):
    cfg = load_config(WorldConfig, PRESETS / f"{name}.yaml")
    assert cfg.render.size == size and cfg.render.frames == 16


def test_config_rejects_bad_values():
    with pytest.raises(ConfigError, match="colour"):
        cfg_with("objects.colours=[red, mauve]")
    with pytest.raises(ConfigError, match="render.sizee"):
        cfg_with("render.sizee=64")
    with pytest.raises(ConfigError, match="sum to 1"):
        cfg_with("splits.train=0.5")
    with pytest.raises(ConfigError, match="occluder.width"):
        cfg_with("occluder.width=0.1")


def test_cli_unknown_key_exits_2_naming_it(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "world",
            "--config",
            str(PRESETS / "tiny.yaml"),
            "--out",
            str(tmp_path),
            "physics.gravty=0.1",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2
    assert "physics.gravty" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "qa.jsonl").exists()


# ---------------------------------------------------------------------------------------- physics
def _two_discs(v0, v1, shapes=("circle", "circle"), sizes=("small", "small"), gravity=0.0):
    cfg = WorldConfig()
    objs = [make_object(i, s, "red", z, cfg) for i, (s, z) in enumerate(zip(shapes, sizes))]
    return Scene(objs, np.array([[0.3, 0.5], [0.7, 0.5]]), np.array([v0, v1], float), (), None, gravity, 0.03)


def test_head_on_equal_masses_swap_velocities():
    traj = simulate(_two_discs([0.03, 0.0], [-0.03, 0.0]), num_frames=12, substeps=4)
    assert len(traj.collisions) == 1
    np.testing.assert_allclose(traj.vel[-1], [[-0.03, 0.0], [0.03, 0.0]], atol=1e-12)


def test_mass_is_area_and_heavy_object_barely_slows():
    cfg = WorldConfig()
    big, small = (
        make_object(0, "square", "red", "large", cfg),
        make_object(1, "triangle", "red", "small", cfg),
    )
    assert (
        big.mass == pytest.approx(shape_area("square", cfg.objects.large_radius))
        and big.mass > 3 * small.mass
    )
    traj = simulate(_two_discs([0.02, 0.0], [-0.02, 0.0], ("square", "triangle"), ("large", "small")), 20)
    (hit,) = traj.collisions
    m1, m2 = big.mass, small.mass  # head-on 1D elastic collision, textbook formula
    want = [((m1 - m2) * 0.02 - 2 * m2 * 0.02) / (m1 + m2), (2 * m1 * 0.02 + (m1 - m2) * 0.02) / (m1 + m2)]
    np.testing.assert_allclose(hit["v_after"][:, 0], want, rtol=1e-9)
    assert 0 < want[0] < 0.02 and want[1] > 0.02  # the big one keeps going, the small one flies back


def test_collisions_conserve_momentum_and_energy():
    cfg = cfg_with("physics.aim_prob=1.0", "objects.min_count=3")
    checked = 0
    for seed in range(40):
        scene = sample_scene(cfg, np.random.default_rng(seed), "train")
        traj = simulate(scene, 32, cfg.physics.substeps)
        mass = np.array([o.mass for o in scene.objects])
        for c in traj.collisions:
            m = mass[c["objects"]][:, None]  # (2, 1)
            vb, va = c["v_before"], c["v_after"]  # (2, 2)
            np.testing.assert_allclose((m * vb).sum(0), (m * va).sum(0), atol=1e-12)
            assert (m[:, 0] * (vb**2).sum(1)).sum() == pytest.approx(
                (m[:, 0] * (va**2).sum(1)).sum(), rel=1e-9
            )
            checked += 1
    assert checked >= 20


def test_total_energy_and_momentum_constant_without_walls_or_gravity():
    cfg = cfg_with(
        "physics.open_side_prob=1.0",
        "physics.gravity_prob=0",
        "physics.aim_prob=1.0",
        "objects.min_count=2",
        "objects.enter_prob=0",
    )
    with_hits = 0
    for seed in range(20):
        scene = sample_scene(cfg, np.random.default_rng(seed), "train")
        traj = simulate(scene, 24, cfg.physics.substeps)
        mass = np.array([o.mass for o in scene.objects])  # (n,)
        all_in = np.flatnonzero(traj.active.all(axis=1))  # frames before anyone leaves
        energy = (mass * (traj.vel[all_in] ** 2).sum(-1)).sum(-1)  # (F,)
        momentum = (mass[:, None] * traj.vel[all_in]).sum(1)  # (F, 2)
        np.testing.assert_allclose(energy, energy[0], rtol=1e-9)
        np.testing.assert_allclose(momentum - momentum[0], 0.0, atol=1e-12)
        with_hits += bool(traj.collisions)
    assert with_hits >= 5


def test_objects_stay_inside_closed_walls():
    cfg = cfg_with("physics.open_side_prob=0", "objects.min_count=4", "physics.gravity_prob=0.5")
    bounced = 0
    for seed in range(30):
        scene = sample_scene(cfg, np.random.default_rng(seed), "train")
        traj = simulate(scene, 40, cfg.physics.substeps)
        r = np.array([o.radius for o in scene.objects])[None, :, None]
        slack = cfg.objects.max_speed * 2 / cfg.physics.substeps + 1e-9  # at most a sub-step of penetration
        assert np.all(traj.pos - r >= 0.03 - slack) and np.all(traj.pos + r <= 0.97 + slack)
        assert traj.active.all()
        bounced += len(traj.bounces)
    assert bounced > 30


def test_gravity_accelerates_a_lone_object():
    scene = _two_discs([0.0, 0.0], [0.0, 0.0], gravity=0.002)
    scene = dataclasses.replace(scene, objects=scene.objects[:1], pos=scene.pos[:1], vel=scene.vel[:1])
    traj = simulate(scene, 10, 4)
    np.testing.assert_allclose(np.diff(traj.vel[:, 0, 1]), 0.002, rtol=1e-9)


def test_objects_leave_through_open_sides_and_enter():
    cfg = cfg_with("physics.open_side_prob=1.0", "objects.enter_prob=1.0", "objects.min_count=3")
    kinds = Counter()
    for i in range(15):
        clip = plan_clip(cfg, "train", i).clip
        kinds.update(e["type"] for e in clip["events"] + clip["future"]["events"])
    assert kinds["enter"] >= 5 and kinds["leave"] >= 5


# -------------------------------------------------------------------------------------- rendering
def test_antialiased_coverage_matches_area():
    cfg = WorldConfig()
    scene = Scene(
        [make_object(0, "circle", "red", "large", cfg)],
        np.array([[0.5, 0.5]]),
        np.zeros((1, 2)),
        (),
        None,
        0.0,
        0.03,
    )
    frames = render_clip(scene, scene.pos[None], size=64, leaves=0.0, jitter=0.0, seed=0)
    red = np.array(COLOURS["red"], float)
    bg = frames[0, 0, 0].astype(float)
    alpha = ((frames[0].astype(float) - bg) @ (red - bg)) / ((red - bg) @ (red - bg))  # (H, W) coverage
    partial = ((alpha > 0.05) & (alpha < 0.95)).sum()
    assert partial >= 12  # soft edges, not a binary mask
    assert alpha.sum() == pytest.approx(math.pi * (0.085 * 64) ** 2, rel=0.03)


def test_leaves_change_every_frame_and_ignore_the_scene():
    cfg = WorldConfig()
    a, b = (plan_clip(cfg, "train", i) for i in (0, 1))
    fa = render_clip(a.scene, a.traj.pos[:8], 64, 0.1, 0.0, seed=5).astype(int)
    fb = render_clip(b.scene, b.traj.pos[:8], 64, 0.1, 0.0, seed=5).astype(int)
    assert np.abs(np.diff(fa, axis=0)).mean() > 3  # the texture flickers
    same = (fa == fb).all(-1).mean()  # same nuisance seed: identical wherever neither scene draws
    assert same > 0.4


def test_camera_jitter_moves_static_scene():
    cfg = WorldConfig()
    scene = Scene(
        [make_object(0, "square", "yellow", "large", cfg)],
        np.array([[0.5, 0.5]]),
        np.zeros((1, 2)),
        (),
        None,
        0.0,
        0.03,
    )
    frames = render_clip(scene, np.repeat(scene.pos[None], 6, 0), 64, 0.0, 0.02, seed=1).astype(float)
    weight = frames[..., 0] - frames[0, 0, 0, 0]  # (T, H, W)
    cx = (weight * np.arange(64)).sum((1, 2)) / weight.sum((1, 2))
    assert 0.05 < np.ptp(cx) <= 2 * 0.02 * 64 + 0.1


# ----------------------------------------------------------------------------------------- VOE
@pytest.mark.parametrize("index,kind", enumerate(["vanish", "teleport", "passthrough", "colour"]))
def test_voe_pairs_differ_only_from_the_event(index, kind):
    cfg = WorldConfig()
    pair = make_voe_pair(cfg, index)
    assert pair["kind"] == kind
    k = pair["event_frame"]
    pos, imp = pair["possible"].astype(int), pair["impossible"].astype(int)
    assert 1 <= k < cfg.render.frames
    assert np.abs(pos[:k] - imp[:k]).mean() < 0.05  # the same scene, leaves and jitter up to the event
    assert np.abs(pos[k:] - imp[k:]).max(axis=(1, 2, 3)).max() > 60


# ------------------------------------------------------------------------------ dataset on disk
def test_dataset_layout_and_contract(dataset):
    from datasets import load_dataset

    world = json.loads((dataset / "world.json").read_text())
    clips = world["clips"]
    assert world["config"]["render"]["size"] == 64 and len(clips) == 12
    assert {c["split"] for c in clips} == {"train", "val", "test", "test-compositional"}
    for c in clips:
        assert (dataset / c["video"]).is_file()
        assert set(c["labels"]) == {"direction", "count", "collision"}
        assert len(c["tracks"]) == len(c["objects"]) and len(c["tracks"][0]["x"]) == 16
    ds = load_dataset("json", data_files=str(dataset / "qa.jsonl"), split="train")
    assert len(ds) > 50
    for row in ds:
        assert (dataset / row["video"]).is_file() and row["answer"] in row["options"]
        assert row["split"] in ("train", "val", "test", "test-compositional")
    by_id = {c["id"]: c for c in clips}
    for q in ds:
        want = _recompute(dict(q), by_id[q["clip_id"]])
        assert want is None or want == q["answer"]
    voe = [json.loads(line) for line in (dataset / "voe.jsonl").read_text().splitlines()]
    assert [v["kind"] for v in voe] == ["vanish", "teleport", "passthrough", "colour"]
    for v in voe:
        assert (dataset / v["possible"]).is_file() and (dataset / v["impossible"]).is_file()
        assert isinstance(v["event_frame"], int) and v["split"] == "test"
    assert load_config(WorldConfig, dataset / "config.yaml").num_clips == 10
    assert (dataset / "preview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_videos_decode_with_pyav_and_decord(dataset):
    import av
    import decord

    cfg = cfg_with(*SMALL_RUN)
    videos = sorted((dataset / "videos").glob("*.mp4"))[:4] + sorted((dataset / "voe").glob("*.mp4"))[:2]
    for path in videos:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
            frames_av = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        reader = decord.VideoReader(str(path))
        frames_dec = reader.get_batch(list(range(len(reader)))).asnumpy()
        assert frames_av.shape == frames_dec.shape == (16, 64, 64, 3)
        assert np.abs(frames_av.astype(int) - frames_dec.astype(int)).mean() < 2
    clip_id = "train-000000"
    rendered = render_plan(plan_clip(cfg, "train", 0), cfg).astype(int)
    with av.open(str(dataset / "videos" / f"{clip_id}.mp4")) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)]).astype(int)
    assert np.abs(decoded - rendered).mean() < 6  # the encoded video is the rendered clip


def test_deterministic_and_independent_of_workers(dataset, tmp_path):
    again = generate_dataset(cfg_with(*SMALL_RUN), tmp_path / "again", workers=2, progress=False)
    assert (again / "qa.jsonl").read_bytes() == (dataset / "qa.jsonl").read_bytes()
    assert (again / "voe.jsonl").read_bytes() == (dataset / "voe.jsonl").read_bytes()
    a, b = (json.loads((d / "world.json").read_text())["clips"] for d in (dataset, again))
    assert a == b


@pytest.mark.xfail(
    reason="known defect: libx264 through PyAV gives different bytes for the same frames in about 1 "
    "run in 4 (measured: the same rendered clip encoded 20 times in one process, 4 differ), even with "
    "one codec thread; the rendered frames are identical",
    strict=False,
)
def test_video_bytes_do_not_depend_on_workers(dataset, tmp_path):
    again = generate_dataset(cfg_with(*SMALL_RUN), tmp_path / "again", workers=2, progress=False)
    for rel in [
        "videos/train-000003.mp4",
        "videos/test-compositional-000001.mp4",
        "voe/voe-00002-impossible.mp4",
    ]:
        assert (again / rel).read_bytes() == (dataset / rel).read_bytes()  # hence identical frames


def test_bench_world_cli(capsys):
    assert cli_main(["bench", "world", "--clips", "3"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["bench"] == "world" and report["clips"] == 3 and report["clips_per_s"] > 0


@pytest.mark.slow
def test_tiny_preset_is_fast_enough():
    from worlds.bench import bench_world

    report = bench_world(cfg_with(), clips=100)
    assert report["cpu_clips_per_s"] >= 20, report
