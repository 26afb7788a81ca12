"""Shared fixtures: small generated video files (nothing is downloaded).

    def test_something(tiny_mp4):                  # 16 frames, 64x48, h264, 10 fps
        frames = read_frames(tiny_mp4)

    def test_other(video_factory):
        path = video_factory("clip.webm", frames=8, codec="libvpx-vp9")
        gif = video_factory("anim.gif", frames=6)  # .gif is written with PIL

Every frame carries its index as three grey bands (base-16 digits, left to right), so a test can
check which frames came back with :func:`frame_index`. Files are cached per session by name.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach the Hub
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


def benchmark_script(name: str):
    """The script ``benchmarks/<name>.py`` as a module (the benchmarks are scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def direction_projector_config(words: dict[str, list[str]]):
    """The smallest word read-out projector with ``asked_direction``: 4 time steps of 2 x 2 cells."""
    from vlm.projector import ProjectorConfig

    return ProjectorConfig(
        kind="mlp-pool",
        tokens=16,
        time_steps=4,
        object_words=2,
        words=words,
        merge_cells=True,
        asked_direction=True,
    )


def pattern_frame(index: int, height: int, width: int) -> np.ndarray:
    """RGB uint8 (H, W, 3): three vertical grey bands encoding ``index`` in base 16 (up to 4095)."""
    image = np.zeros((height, width, 3), np.uint8)
    for band, digit in enumerate((index // 256 % 16, index // 16 % 16, index % 16)):
        image[:, band * width // 3 : (band + 1) * width // 3] = 16 + 14 * digit
    return image


def frame_index(frames) -> list[int]:
    """Recover the indices written by :func:`pattern_frame` from uint8 frames (T, 3, H, W)."""
    x = np.asarray(frames)[:, 0].astype(np.float32)  # (T, H, W), red channel
    h, w = x.shape[1:]
    digits = []
    for band in range(3):  # read the middle of each band, away from blurred edges
        lo, hi = band * w // 3, (band + 1) * w // 3
        core = x[:, h // 4 : h - h // 4, lo + (hi - lo) // 4 : hi - (hi - lo) // 4]
        digits.append(np.clip(np.round((core.mean(axis=(1, 2)) - 16) / 14), 0, 15).astype(int))
    return [int(a * 256 + b * 16 + c) for a, b, c in zip(*digits)]


def write_video(
    path: Path,
    frames: int = 16,
    width: int = 64,
    height: int = 48,
    fps: int = 10,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict | None = None,
    container_options: dict | None = None,
    draw=pattern_frame,
    rotation: int = 0,
) -> Path:
    """Write ``frames`` frames ``draw(i, height, width)`` with PyAV (or PIL for ``.gif``).

    ``rotation`` (degrees counter-clockwise) is stored as display metadata, as phones do.
    """
    import av

    if path.suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(draw(i, height, width)) for i in range(frames)]
        images[0].save(path, save_all=True, append_images=images[1:], duration=1000 // fps, loop=0)
        return path
    with av.open(str(path), "w", options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = options or {}
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(draw(i, height, width), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


@pytest.fixture(scope="session")
def video_factory(tmp_path_factory):
    """``make(name, **write_video_kwargs) -> Path``: a generated video, cached by file name."""
    root = tmp_path_factory.mktemp("videos")

    def make(name: str, **kwargs) -> Path:
        path = root / name
        if not path.exists():
            write_video(path, **kwargs)
        return path

    return make


@pytest.fixture(scope="session")
def tiny_mp4(video_factory) -> Path:
    """16 frames, 64x48, h264 in mp4, 10 fps; frame i shows index i (see :func:`frame_index`)."""
    return video_factory("tiny.mp4")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core box oversubscribed OpenMP
    threads spin (10-20x slower): every test runs torch on one thread."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def accelerate_two_cpus() -> list[str]:
    """``python -m accelerate.commands.launch`` arguments for 2 gloo processes on CPU, on a free port
    (other suites may run torchrun on the default port at the same time). ``--cpu`` would start one
    process without MPI, hence ``--multi_gpu``, which falls back to gloo without CUDA."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return ["-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
            "--main_process_port", str(port), "--mixed_precision", "no", "--dynamo_backend", "no"]  # fmt: skip
