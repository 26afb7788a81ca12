"""Pretraining data: finding clips in every supported layout, caching, and the step-pure order.

Also home of ``make_squares_world``: a tiny worlds-format dataset (real mp4 files, ``world.json``
with labels) of bright squares sliding left or right, used by the pretrain and probe tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from encoder.data import (
    DecodedClips,
    StepBatchSampler,
    VideoClips,
    build_loader,
    decode_all,
    find_videos,
)
from jepa_vqa.errors import UserError
from jepa_vqa.hf_dataset import could_be_hub_id


def write_clip(path: Path, frames: np.ndarray, fps: int = 8) -> None:
    """Write uint8 ``(T, H, W, 3)`` frames as an h264 mp4 through PyAV."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def squares_clip(direction: str, count: int, frames: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` white squares moving left or right (2 px/frame) on a noisy dark background."""
    video = rng.integers(0, 40, size=(frames, size, size, 3), dtype=np.uint8)
    side = size // 4
    starts = [
        (int(rng.integers(0, size - side)), int(rng.integers(size // 4, 3 * size // 4))) for _ in range(count)
    ]
    for t in range(frames):
        for y, x0 in starts:
            shift = 2 * t if direction == "right" else -2 * t
            x = int(np.clip(x0 + shift - side // 2, 0, size - side))
            video[t, y : y + side, x : x + side] = 255
    return video


def make_squares_world(
    root: Path, num_clips: int = 16, frames: int = 8, size: int = 32, seed: int = 0
) -> Path:
    """A worlds-format dataset: ``root/videos/*.mp4`` + ``root/world.json`` (4 of 5 clips train)."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(num_clips):
        direction = ("left", "right")[i % 2]
        count = 1 + (i // 2) % 2
        rel = f"videos/clip{i:03d}.mp4"
        write_clip(root / rel, squares_clip(direction, count, frames, size, rng))
        split = "test" if i % 5 == 4 else "train"  # every direction x count pair lands in test
        clips.append(
            {
                "id": f"clip{i:03d}",
                "video": rel,
                "split": split,
                "num_frames": frames,
                "fps": 8,
                "size": size,
                "labels": {"direction": direction, "count": count, "collision": False},
            }
        )
    (root / "world.json").write_text(json.dumps({"config": {}, "clips": clips}))
    return root


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return make_squares_world(tmp_path_factory.mktemp("world"), num_clips=8)


def test_find_videos_layouts(world, tmp_path):
    train = find_videos(world, "train")
    assert len(train) == 7 and all(Path(p).is_file() for p in train)
    assert len(find_videos(world, "test")) == 1 and len(find_videos(world, "all")) == 8
    with pytest.raises(UserError, match="no clips with split 'val'"):
        find_videos(world, "val")
    # A plain folder of videos (recursively).
    assert sorted(find_videos(world / "videos")) == sorted(find_videos(world, "all"))
    # A HF dataset saved with save_to_disk, relative paths resolved against it.
    import datasets

    ds = datasets.Dataset.from_dict({"video": [str(Path(p).resolve()) for p in train], "x": list(range(7))})
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "hf"))
    assert find_videos(tmp_path / "hf", "train") == [str(Path(p).resolve()) for p in train]
    with pytest.raises(UserError, match="no split 'test'"):
        find_videos(tmp_path / "hf", "test")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no videos"):
        find_videos(tmp_path / "empty")


def test_missing_local_path_fails_without_the_hub(tmp_path, monkeypatch):
    """A path that cannot be a Hub id is a one-line error at once; 'owner/name' may still be one."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    for missing in (str(tmp_path / "nope"), "./nope", "runs/nope", "a/b/c"):
        assert not could_be_hub_id(missing)
        with pytest.raises(UserError, match="does not exist"):
            find_videos(missing)
    assert could_be_hub_id("owner/name") and could_be_hub_id("name")


def test_clips_decode_cache_and_normalise(world):
    paths = find_videos(world, "train")
    cache = decode_all(DecodedClips(paths, 8, 32), num_workers=0, progress=False)
    assert cache.shape == (7, 8, 3, 32, 32) and cache.dtype == torch.uint8
    streamed = VideoClips(paths, 8, 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    cached = VideoClips(paths, 8, 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25), cache=cache)
    assert torch.equal(streamed[2], cached[2])
    x = cached[0]  # (T, C, H, W)
    assert x.dtype == torch.float32 and x.max() > 1.5 and x.min() < -1.5  # white squares, dark background
    loader = build_loader(cached, batch_size=4, seed=0, total_steps=2, num_workers=1)
    batches = list(loader)
    assert len(batches) == 2 and batches[0].shape == (4, 8, 3, 32, 32)


def test_step_sampler_is_pure_sharded_and_resumable():
    full = StepBatchSampler(10, batch_size=3, seed=1, total_steps=8)
    order = list(full)
    assert list(StepBatchSampler(10, 3, seed=1, start_step=5, total_steps=8)) == order[5:]
    flat = [i for batch in order for i in batch]  # 24 items: 2.4 epochs
    assert sorted(flat[:10]) == list(range(10)) and sorted(flat[10:20]) == list(range(10))
    assert flat[:10] != flat[10:20]  # a fresh permutation each epoch
    r0 = StepBatchSampler(12, 2, seed=1, rank=0, world_size=2)
    r1 = StepBatchSampler(12, 2, seed=1, rank=1, world_size=2)
    for step in range(3):  # ranks partition the global stream: one epoch over 3 steps
        assert not set(r0.indices(step)) & set(r1.indices(step))
    seen = [i for s in range(3) for i in r0.indices(s) + r1.indices(s)]
    assert sorted(seen) == list(range(12))
    assert StepBatchSampler(10, 3, seed=2).indices(0) != StepBatchSampler(10, 3, seed=1).indices(0)
