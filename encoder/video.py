"""Video decoding: probe a file, sample T frames, resize + centre-crop, as uint8 tensors.

The public API; the layers under it are `encoder.video_probe` (the header) and
`encoder.video_decode` (frame sampling, the decord and PyAV readers).

decord decodes first; PyAV takes over when decord is missing (macOS arm64), fails, or for input
decord mishandles (VP8/VP9/AV1, animated GIF, rotated phone videos). Sampled frames are reached
by seeking to key frames, so long videos are not decoded in full, and each frame is resized as
it is decoded, so 4K input never holds more than one full-resolution frame. Frames come out
upright (the display rotation phones store is applied) and RGB (grayscale is expanded). Bad
input raises :class:`VideoDecodeError`, whose one-line message names the file and the problem.

    from encoder.video import probe_video, read_frames
    info = probe_video("clip.mp4")                      # VideoInfo(frames=..., fps=..., ...)
    frames = read_frames("clip.mp4", num_frames=16, size=224)   # uint8 (16, 3, 224, 224)
    frames = read_frames("clip.mp4", num_frames=8, fps=2.0)     # 8 frames, 0.5 s apart
    video = VideoFile("clip.mp4")                       # probe once: video.info, then
    frames = video.read_frames(16, size=224)            # decode without probing again

    jepa-vqa inspect clip.mp4
    jepa-vqa bench decode clip.mp4 --frames 16 --size 224 --repeat 5
"""

from __future__ import annotations

import dataclasses
import importlib.util
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

from encoder.video_decode import read_decord, read_pyav, sample_indices
from encoder.video_probe import Header, VideoDecodeError, VideoInfo, one_line, probe_header
from jepa_vqa.errors import UserError

if TYPE_CHECKING:  # torch is imported where used, so `jepa-vqa inspect` starts fast
    import torch

__all__ = [
    "BACKENDS",
    "VIDEO_EXTENSIONS",
    "VideoDecodeError",
    "VideoFile",
    "VideoInfo",
    "bench_decode",
    "probe_video",
    "read_frames",
    "sample_indices",
]

BACKENDS = ("auto", "decord", "pyav")
# The file types read as videos wherever a dir is searched for them (pretraining data, eval datasets).
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v", ".gif")
# Codecs decord (0.6) decodes and seeks reliably; everything else goes to PyAV under "auto".
DECORD_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg", "h263", "msmpeg4v3"})


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def probe_video(path: str | Path, backend: str = "auto") -> VideoInfo:
    """Read the header of ``path`` and decode its first frame; width/height are as displayed."""
    header = probe_header(path)
    return dataclasses.replace(header.info, backend=_choose_backend(header, backend))


def read_frames(
    path: str | Path,
    num_frames: int = 16,
    size: int | None = None,
    fps: float | None = None,
    backend: str = "auto",
) -> torch.Tensor:
    """Decode ``num_frames`` frames of ``path`` -> uint8 ``(T, 3, H, W)``.

    Frames are spread uniformly over the clip, or ``1/fps`` seconds apart around its centre when
    ``fps`` is given; a clip with fewer frames repeats them. ``size`` resizes the shorter side and
    centre-crops to ``size x size``. ``backend`` is ``"auto"`` (decord, then PyAV), ``"decord"``
    or ``"pyav"``.
    """
    _check_args(num_frames, size, fps, backend)
    return _read(probe_header(path), num_frames, size, fps, backend)


class VideoFile:
    """A video file probed once: its ``info``, then frames read without probing it again.

    ``VideoFile(path)`` checks the file as :func:`probe_video` does (raising the same errors), so a
    caller can look at ``info`` (duration, size) before paying for the decode::

        video = VideoFile("clip.mp4")
        if video.info.duration_s < 60:
            frames = video.read_frames(16, size=224)   # as read_frames("clip.mp4", 16, size=224)
    """

    def __init__(self, path: str | Path, backend: str = "auto") -> None:
        self._header = probe_header(path)
        self.path = self._header.path
        self.info = dataclasses.replace(self._header.info, backend=_choose_backend(self._header, backend))

    def read_frames(
        self, num_frames: int = 16, size: int | None = None, fps: float | None = None, backend: str = "auto"
    ) -> torch.Tensor:
        """uint8 ``(T, 3, H, W)`` frames, sampled as :func:`read_frames` samples them."""
        _check_args(num_frames, size, fps, backend)
        return _read(self._header, num_frames, size, fps, backend)


def _read(header: Header, num_frames: int, size: int | None, fps: float | None, backend: str) -> torch.Tensor:
    """Decode with the chosen backend; under ``"auto"`` a decord failure falls back to PyAV."""
    if _choose_backend(header, backend) == "decord":
        try:
            return read_decord(header, num_frames, size, fps)
        except VideoDecodeError:
            if backend == "decord":
                raise
        except Exception as exc:  # noqa: BLE001 - decord raises its own and RuntimeErrors
            if backend == "decord":
                raise VideoDecodeError(header.path, f"decord failed: {one_line(exc)}") from None
    return read_pyav(header, num_frames, size, fps)


def bench_decode(
    path: str | Path, num_frames: int = 16, size: int | None = None, repeat: int = 5
) -> list[dict]:
    """Time ``read_frames`` per installed backend: one warm-up, then the median of ``repeat`` reads.

    Returns one row per backend: ``{"backend", "frames", "size", "median_s", "frames_per_s"}``, or
    ``{"backend", "error"}`` when that backend cannot read the file.
    """
    if not isinstance(repeat, int) or repeat < 1:
        raise UserError(f"repeat must be a positive integer, got {repeat!r}")
    info = probe_video(path)  # bad files fail here, once, with the usual one-line error
    rows = []
    for backend in [b for b in BACKENDS[1:] if b != "decord" or _decord_available()]:
        try:
            read_frames(path, num_frames, size, backend=backend)
        except VideoDecodeError as exc:
            rows.append({"backend": backend, "video": str(path), "error": exc.problem})
            continue
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            read_frames(path, num_frames, size, backend=backend)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        rows.append(
            {
                "backend": backend,
                "video": str(path),
                "video_frames": info.frames,
                "resolution": f"{info.width}x{info.height}",
                "frames": num_frames,
                "size": size,
                "repeat": repeat,
                "median_s": round(median, 6),
                "frames_per_s": round(num_frames / median, 1),
            }
        )
    return rows


def _choose_backend(header: Header, backend: str) -> str:
    _check_backend(backend)
    if backend == "decord" and not _decord_available():
        raise UserError("video backend 'decord' is not installed (use backend 'pyav')")
    if backend != "auto":
        return backend
    decord_ok = header.info.codec in DECORD_CODECS and header.container != "gif" and not header.rotation
    return "decord" if decord_ok and _decord_available() else "pyav"


def _decord_available() -> bool:
    return importlib.util.find_spec("decord") is not None


def _check_args(num_frames: int, size: int | None, fps: float | None, backend: str) -> None:
    if not isinstance(num_frames, int) or num_frames < 1:
        raise UserError(f"num_frames must be a positive integer, got {num_frames!r}")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise UserError(f"size must be a positive integer, got {size!r}")
    if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
        raise UserError(f"fps must be a positive number, got {fps!r}")
    _check_backend(backend)


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise UserError(f"unknown video backend {backend!r} (choose from {', '.join(BACKENDS)})")
