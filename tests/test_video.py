"""encoder.video (+ video_probe, video_decode) on good input: probing, frame sampling, resizing,
formats, both backends, seeking, VideoFile. Bad input and the CLI: test_video_errors.py."""

from __future__ import annotations

import struct
import tracemalloc

import av
import numpy as np
import pytest
import torch
from conftest import frame_index

import encoder.video as video_module
import encoder.video_decode as decode_module
from encoder.video import (
    VideoDecodeError,
    _decord_available,
    probe_video,
    read_frames,
    sample_indices,
)
from jepa_vqa.errors import UserError

BACKENDS = ["decord", "pyav"] if _decord_available() else ["pyav"]
needs_decord = pytest.mark.skipif(not _decord_available(), reason="decord not installed")


# ---------------------------------------------------------------------------------------------
# fixtures local to these tests
# ---------------------------------------------------------------------------------------------
def bands(top, middle, bottom):
    """A draw function: three horizontal (or, for landscape, vertical) colour regions 1/4, 1/2, 1/4."""

    def draw(_i, height, width):
        image = np.zeros((height, width, 3), np.uint8)
        portrait = height > width
        n = height if portrait else width
        for colour, lo, hi in ((top, 0, n // 4), (middle, n // 4, n - n // 4), (bottom, n - n // 4, n)):
            if portrait:
                image[lo:hi] = colour
            else:
                image[:, lo:hi] = colour
        return image

    return draw


RED, GREEN, BLUE = (230, 20, 20), (20, 230, 20), (20, 20, 230)


@pytest.fixture(scope="session")
def long_mp4(video_factory):
    """2 minutes at 10 fps, 64x48 (1200 frames): sampling must seek, not decode everything."""
    return video_factory(
        "long.mp4", frames=1200, options={"preset": "ultrafast", "g": "20"}
    )  # key frame / 2 s


@pytest.fixture(scope="session")
def over_reporting_mp4(video_factory, tmp_path_factory):
    """An mp4 whose index promises 120 frames, of which only the first 80 exist."""
    src = video_factory("faststart.mp4", frames=120, container_options={"movflags": "faststart"})
    data = bytearray(src.read_bytes())
    at = data.find(b"stsz")  # sample size table: 'stsz' version/flags size count entries...
    count = struct.unpack(">I", data[at + 12 : at + 16])[0]
    for k in range(80, count):  # zero-sized samples: listed in the header, no data behind them
        data[at + 16 + 4 * k : at + 20 + 4 * k] = struct.pack(">I", 0)
    path = tmp_path_factory.mktemp("broken") / "over_reporting.mp4"
    path.write_bytes(bytes(data))
    return path


# ---------------------------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------------------------
def test_sample_indices_uniform_covers_first_to_last():
    assert sample_indices(16, 16) == list(range(16))
    idx = sample_indices(100, 16)
    assert idx[0] == 0 and idx[-1] == 99 and idx == sorted(set(idx)) and len(idx) == 16
    assert sample_indices(1, 4) == [0, 0, 0, 0]
    assert sample_indices(9, 1) == [4]
    short = sample_indices(5, 16)
    assert sorted(set(short)) == [0, 1, 2, 3, 4] and short == sorted(short)


def test_sample_indices_at_fps_centred_and_clamped():
    assert sample_indices(100, 4, native_fps=10, fps=2) == [42, 47, 52, 57]  # 0.5 s apart, centred
    assert sample_indices(6, 4, native_fps=10, fps=2) == [0, 5, 5, 5]  # too short: last repeats
    with pytest.raises(ValueError):
        sample_indices(0, 4)


# ---------------------------------------------------------------------------------------------
# reading: content, formats, sizes
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_tiny_mp4_every_frame_in_order(tiny_mp4, backend):
    frames = read_frames(tiny_mp4, num_frames=16, backend=backend)
    assert frames.dtype == torch.uint8 and tuple(frames.shape) == (16, 3, 48, 64)
    assert frame_index(frames) == list(range(16))


@needs_decord
def test_backends_agree_on_content(tiny_mp4):
    for size in (None, 32):
        a = read_frames(tiny_mp4, num_frames=8, size=size, backend="decord").float()
        b = read_frames(tiny_mp4, num_frames=8, size=size, backend="pyav").float()
        assert a.shape == b.shape
        assert (a - b).abs().mean() < 2.0, f"size={size}"
        assert frame_index(a) == frame_index(b) == sample_indices(16, 8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_channels_are_rgb(video_factory, backend):
    path = video_factory("red.mp4", frames=4, draw=lambda i, h, w: np.full((h, w, 3), RED, np.uint8))
    frames = read_frames(path, num_frames=2, backend=backend).float()
    r, g, b = frames.mean(dim=(0, 2, 3)).tolist()
    assert r > 200 and g < 50 and b < 50


def test_fps_sampling_picks_frames_at_that_rate(video_factory):
    path = video_factory("hundred.mp4", frames=100)
    for backend in BACKENDS:
        frames = read_frames(path, num_frames=4, fps=2.0, backend=backend)
        assert frame_index(frames) == [42, 47, 52, 57], backend


FORMATS = [  # name, codec, decoder "auto" picks
    ("clip.webm", "libvpx-vp9", "pyav"),
    ("clip_vp8.webm", "libvpx", "pyav"),
    ("clip.mov", "libx264", "decord"),
    ("clip.mkv", "libx264", "decord"),
    ("clip.avi", "mpeg4", "decord"),
    ("clip_av1.mkv", "libsvtav1", "pyav"),
]


@pytest.mark.parametrize(("name", "codec", "auto_backend"), FORMATS)
def test_containers_and_codecs(video_factory, name, codec, auto_backend):
    if codec not in av.codecs_available:
        pytest.skip(f"{codec} encoder not in this PyAV build")
    size = 64 if codec == "libsvtav1" else None  # SVT-AV1 needs 64x64 at least
    path = video_factory(name, frames=12, codec=codec, width=size or 64, height=size or 48)
    info = probe_video(path)
    assert info.frames == 12 and info.fps == 10.0 and abs(info.duration_s - 1.2) < 0.11
    if auto_backend == "pyav" or _decord_available():
        assert info.backend == auto_backend
    for backend in ["auto", "pyav"]:
        frames = read_frames(path, num_frames=12, backend=backend)
        assert frame_index(frames) == list(range(12)), backend


def test_without_decord_pyav_does_everything(tiny_mp4, monkeypatch):
    monkeypatch.setattr(video_module, "_decord_available", lambda: False)  # e.g. macOS arm64
    assert probe_video(tiny_mp4).backend == "pyav"
    assert frame_index(read_frames(tiny_mp4, num_frames=16)) == list(range(16))
    with pytest.raises(UserError, match="decord"):
        read_frames(tiny_mp4, backend="decord")


def test_animated_gif(video_factory):
    path = video_factory("anim.gif", frames=12)
    info = probe_video(path)
    assert info.codec == "gif" and info.backend == "pyav" and info.frames == 12
    frames = read_frames(path, num_frames=16)
    assert tuple(frames.shape) == (16, 3, 48, 64)
    assert frame_index(frames) == sample_indices(12, 16)


def test_grayscale_video_gives_three_equal_channels(video_factory):
    path = video_factory("gray.mkv", frames=8, codec="ffv1", pix_fmt="gray")
    frames = read_frames(path, num_frames=8)
    assert frames.shape[1] == 3
    assert torch.equal(frames[:, 0], frames[:, 1]) and torch.equal(frames[:, 1], frames[:, 2])
    assert frame_index(frames) == list(range(8))


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
def test_single_frame_and_short_videos_repeat_frames(video_factory, backend):
    one = read_frames(video_factory("one.mp4", frames=1), num_frames=16, backend=backend)
    assert tuple(one.shape) == (16, 3, 48, 64) and frame_index(one) == [0] * 16
    short = read_frames(video_factory("five.mp4", frames=5), num_frames=16, backend=backend)
    assert frame_index(short) == sample_indices(5, 16)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("width", "height"), [(48, 96), (96, 48), (98, 42)])
def test_resize_shorter_side_and_centre_crop(video_factory, backend, width, height):
    path = video_factory(
        f"bands_{width}x{height}.mp4", frames=3, width=width, height=height, draw=bands(RED, GREEN, BLUE)
    )
    frames = read_frames(path, num_frames=3, size=32, backend=backend)
    assert tuple(frames.shape) == (3, 3, 32, 32)
    centre = frames[:, :, 8:24, 8:24].float().mean(dim=(0, 2, 3))  # the middle band survives the crop
    assert centre[1] > 180 and centre[0] < 70 and centre[2] < 70
    if (width, height) != (98, 42):  # exact 1:2 aspect: the crop is the middle half, all green
        assert frames.float().mean(dim=(0, 2, 3))[1] > 170


@pytest.mark.parametrize("backend", ["auto", "pyav"])
@pytest.mark.parametrize("rotation", [90, 270])
def test_display_rotation_is_applied(video_factory, backend, rotation):
    """A phone-style clip: stored 64x48 landscape, displayed portrait (turned by the display matrix)."""

    def left_strip(_i, height, width):
        image = np.full((height, width, 3), 20, np.uint8)
        image[:, :8] = 235  # bright strip on the stored frame's left edge
        return image

    path = video_factory(f"rotated{rotation}.mp4", frames=4, rotation=rotation, draw=left_strip)
    info = probe_video(path)
    assert (info.width, info.height) == (48, 64)
    frames = read_frames(path, num_frames=2, backend=backend)
    assert tuple(frames.shape) == (2, 3, 64, 48)
    rows = frames[:, 0].float().mean(dim=(0, 2))  # (H,): counter-clockwise puts the strip at the bottom
    strip, rest = (rows[-6:], rows[:-10]) if rotation == 90 else (rows[:6], rows[10:])
    assert strip.min() > 200 and rest.max() < 40
    small = read_frames(path, num_frames=2, size=32, backend=backend)
    assert tuple(small.shape) == (2, 3, 32, 32)
    assert info.backend == "pyav"  # decord mangles rotated frames: auto avoids it, explicit refuses
    if _decord_available():
        with pytest.raises(VideoDecodeError, match="rotation"):
            read_frames(path, num_frames=2, backend="decord")


def test_long_video_is_sampled_by_seeking_not_decoded_in_full(long_mp4, monkeypatch):
    """16 frames of a 2-minute clip (a key frame every 20 frames): PyAV decodes at most one GOP each."""
    import encoder.video_decode as video_decode

    info = probe_video(long_mp4)
    assert info.frames == 1200 and info.duration_s == 120.0
    decoded = []
    frame_time = video_decode._frame_time
    monkeypatch.setattr(video_decode, "_frame_time", lambda *a: decoded.append(1) or frame_time(*a))
    for backend in BACKENDS:
        frames = read_frames(long_mp4, num_frames=16, backend=backend)
        assert frame_index(frames) == sample_indices(1200, 16), backend
    assert 16 <= len(decoded) <= 16 * 20, f"PyAV decoded {len(decoded)} of 1200 frames for 16"


def test_long_video_pyav_decodes_only_from_key_frames_before_targets(long_mp4, monkeypatch):
    decoded = []
    frame_time = decode_module._frame_time  # called once per decoded frame
    monkeypatch.setattr(decode_module, "_frame_time", lambda *a: decoded.append(1) or frame_time(*a))
    frames = read_frames(long_mp4, num_frames=16, backend="pyav")
    assert frame_index(frames) == sample_indices(1200, 16)
    assert len(decoded) <= 16 * 20, f"decoded {len(decoded)} of 1200 frames"  # at most one GOP per target


@pytest.mark.parametrize("backend", BACKENDS)
def test_4k_is_resized_per_frame_not_held_in_full(video_factory, backend):
    flat = lambda i, h, w: np.full((h, w, 3), 16 + 14 * i, np.uint8)  # noqa: E731
    path = video_factory(
        "uhd.mp4", frames=3, width=3840, height=2160, options={"preset": "ultrafast"}, draw=flat
    )
    full_frame_bytes = 3840 * 2160 * 3
    tracemalloc.start()
    try:
        frames = read_frames(path, num_frames=8, size=64, backend=backend)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert tuple(frames.shape) == (8, 3, 64, 64)
    assert peak < full_frame_bytes / 4, f"peak {peak / 1e6:.1f} MB of Python-side arrays"
    levels = frames.float().mean(dim=(1, 2, 3))  # (T,) grey level = 16 + 14 * frame index
    assert torch.allclose(levels, 16 + 14 * torch.tensor(sample_indices(3, 8)).float(), atol=3)


def test_over_reported_frame_count_does_not_hang(over_reporting_mp4):
    assert probe_video(over_reporting_mp4).frames == 120  # what the header claims
    for backend in ["auto", "pyav"]:
        frames = read_frames(over_reporting_mp4, num_frames=16, backend=backend)
        got = frame_index(frames)
        assert got == sorted(got) and got[0] == 0 and 70 <= got[-1] <= 80, (backend, got)


# ---------------------------------------------------------------------------------------------
# VideoFile: probe once, read many times
# ---------------------------------------------------------------------------------------------
def test_video_file_probes_once_then_reads_like_read_frames(tiny_mp4, monkeypatch):
    probes = []
    probe = video_module.probe_header
    monkeypatch.setattr(video_module, "probe_header", lambda p: probes.append(p) or probe(p))
    video = video_module.VideoFile(tiny_mp4)
    assert video.info == probe_video(tiny_mp4)
    probes.clear()
    for kwargs in ({"num_frames": 8}, {"num_frames": 4, "size": 32, "fps": 2.0}):
        assert torch.equal(video.read_frames(**kwargs), read_frames(tiny_mp4, **kwargs))
    assert len(probes) == 2  # read_frames probed each time; the VideoFile did not
    with pytest.raises(UserError):
        video.read_frames(num_frames=0)
    with pytest.raises(VideoDecodeError, match="file not found"):
        video_module.VideoFile(tiny_mp4.parent / "missing.mp4")
