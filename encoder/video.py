"""Video decoding: probe a file, sample T frames, resize + centre-crop, as uint8 tensors.

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

    jepa-vqa inspect clip.mp4
    jepa-vqa bench decode clip.mp4 --frames 16 --size 224 --repeat 5
"""

from __future__ import annotations

import bisect
import dataclasses
import importlib.util
import math
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jepa_vqa.errors import UserError

if TYPE_CHECKING:  # torch is imported where used, so `jepa-vqa inspect` starts fast
    import torch

__all__ = [
    "BACKENDS",
    "VIDEO_EXTENSIONS",
    "VideoDecodeError",
    "VideoInfo",
    "bench_decode",
    "probe_video",
    "read_frames",
    "resize_crop",
    "sample_indices",
    "to_float",
]

BACKENDS = ("auto", "decord", "pyav")
# The file types read as videos wherever a dir is searched for them (pretraining data, eval datasets).
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mkv", ".avi", ".mov", ".m4v", ".gif")
# Codecs decord (0.6) decodes and seeks reliably; everything else goes to PyAV under "auto".
DECORD_CODECS = frozenset({"h264", "hevc", "mpeg4", "mpeg2video", "mpeg1video", "mjpeg", "h263", "msmpeg4v3"})
SEEK_GAP_S = 1.0  # without a key frame index: seek only to targets at least this far ahead


class VideoDecodeError(UserError):
    """A video file that cannot be read: the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str):
        super().__init__(f"cannot read video {path}: {problem}")
        self.path, self.problem = str(path), problem


@dataclass(frozen=True)
class VideoInfo:
    """What `jepa-vqa inspect` prints. ``backend`` is the decoder `read_frames` would use."""

    frames: int
    fps: float
    duration_s: float
    width: int
    height: int
    codec: str
    backend: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------
def probe_video(path: str | Path, backend: str = "auto") -> VideoInfo:
    """Read the header of ``path`` and decode its first frame; width/height are as displayed."""
    header = _probe_header(path)
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
    header = _probe_header(path)
    chosen = _choose_backend(header, backend)
    if chosen == "decord":
        try:
            return _read_decord(header, num_frames, size, fps)
        except VideoDecodeError:
            if backend == "decord":
                raise
        except Exception as exc:  # noqa: BLE001 - decord raises its own and RuntimeErrors
            if backend == "decord":
                raise VideoDecodeError(path, f"decord failed: {_one_line(exc)}") from None
    return _read_pyav(header, num_frames, size, fps)


def sample_indices(
    total: int, num_frames: int, native_fps: float | None = None, fps: float | None = None
) -> list[int]:
    """``num_frames`` frame indices in ``[0, total)``: uniform (first to last), or ``fps`` apart.

    Uniform sampling with ``num_frames=1`` takes the middle frame. With ``fps``, the window
    ``num_frames / fps`` seconds long is centred on the clip; indices past either end are clamped,
    so short clips repeat their first/last frames.
    """
    if total < 1:
        raise ValueError("a video needs at least one frame")
    if fps is None:
        if num_frames == 1:
            return [(total - 1) // 2]  # one frame: the middle one
        return [round(i * (total - 1) / (num_frames - 1)) for i in range(num_frames)]
    step = (native_fps or fps) / fps  # source frames per sampled frame
    start = max(0.0, (total - 1 - step * (num_frames - 1)) / 2)
    return [min(total - 1, round(start + i * step)) for i in range(num_frames)]


def resize_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(T, C, H, W)`` -> uint8 ``(T, C, size, size)``: shorter side to ``size``, centre crop."""
    import torch
    import torch.nn.functional as F

    _, _, h, w = frames.shape
    if (h, w) == (size, size):
        return frames
    x = _center_square(frames, h, w).float()  # (T, C, s, s), s = min(H, W)
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8)


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


def to_float(
    frames: torch.Tensor, mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None
) -> torch.Tensor:
    """uint8 ``(T, C, H, W)`` -> float32 in [0, 1], then ``(x - mean) / std`` per channel if given."""
    import torch

    x = frames.float() / 255.0  # (T, C, H, W)
    if mean is not None:
        x = x - torch.tensor(mean, dtype=x.dtype).view(1, -1, 1, 1)
    if std is not None:
        x = x / torch.tensor(std, dtype=x.dtype).view(1, -1, 1, 1)
    return x


# ---------------------------------------------------------------------------------------------
# header probe (PyAV: container metadata + the first frame)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Header:
    path: Path
    info: VideoInfo  # display size (rotation applied); backend field unset here
    container: str
    start_s: float
    rotation: int  # degrees counter-clockwise to turn stored frames upright: 0, 90, 180, 270
    stored: tuple[int, int]  # (width, height) of frames as encoded


def _probe_header(path: str | Path) -> _Header:
    """Container metadata plus one decoded frame (proves the stream decodes; gives its rotation)."""
    path = _check_path(path)
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                kinds = sorted({s.type for s in container.streams}) or ["no"]
                raise VideoDecodeError(path, f"no video stream ({'/'.join(kinds)} streams only)")
            return _read_header(path, container, container.streams.video[0])
    except VideoDecodeError:
        raise
    except av.error.FFmpegError as exc:
        reason = _one_line(exc)
        raise VideoDecodeError(
            path, f"not a readable video: truncated, corrupt or not a video ({reason})"
        ) from None
    except (UnicodeDecodeError, ValueError, IndexError) as exc:
        raise VideoDecodeError(path, f"not a readable video ({_one_line(exc)})") from None


def _read_header(path: Path, container, stream) -> _Header:
    import av

    ctx = stream.codec_context
    if not ctx.width or not ctx.height:
        raise VideoDecodeError(path, "video stream has no frame size (corrupt header?)")
    fps = _stream_fps(stream)
    duration = _stream_duration(container, stream)
    frames = stream.frames or (round(duration * fps) if duration else 0)
    if frames <= 0:  # no count and no duration in the header: count packets
        frames = _count_packets(path)
        duration = frames / fps
    if frames <= 0:
        raise VideoDecodeError(path, "video stream has no frames")
    try:
        first = next(container.decode(stream), None)
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(path, f"corrupt video data ({_one_line(exc)})") from None
    if first is None:
        raise VideoDecodeError(path, "no decodable video frames (truncated or corrupt file?)")
    rotation = round(getattr(first, "rotation", 0) or 0) // 90 * 90 % 360  # display matrix, CCW
    width, height = (ctx.height, ctx.width) if rotation in (90, 270) else (ctx.width, ctx.height)
    info = VideoInfo(
        frames=int(frames),
        fps=round(fps, 6),
        duration_s=round(duration or frames / fps, 6),
        width=width,
        height=height,
        codec=_codec_name(ctx),
        backend="",
    )
    start = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    return _Header(path, info, container.format.name, start, rotation, (ctx.width, ctx.height))


def _check_path(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise VideoDecodeError(path, "file not found")
    if path.is_dir():
        raise VideoDecodeError(path, "is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoDecodeError(path, "file is empty")
    return path


def _stream_fps(stream) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate and 0 < float(rate) < 1000:
            return float(rate)
    return 25.0


def _stream_duration(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # av.time_base
    return None


def _codec_name(ctx) -> str:
    codec = ctx.codec
    return getattr(codec, "canonical_name", None) or codec.name  # "av1", not the decoder "libdav1d"


def _count_packets(path: Path) -> int:
    """Frames that actually exist: video packets with data (demux only, nothing is decoded)."""
    import av

    with av.open(str(path)) as container:
        try:
            return sum(1 for packet in container.demux(video=0) if packet.size)
        except av.error.FFmpegError:
            return 0


def _choose_backend(header: _Header, backend: str) -> str:
    _check_backend(backend)
    if backend == "decord" and not _decord_available():
        raise UserError("video backend 'decord' is not installed (use backend 'pyav')")
    if backend != "auto":
        return backend
    decord_ok = header.info.codec in DECORD_CODECS and header.container != "gif" and not header.rotation
    return "decord" if decord_ok and _decord_available() else "pyav"


def _decord_available() -> bool:
    return importlib.util.find_spec("decord") is not None


# ---------------------------------------------------------------------------------------------
# decord
# ---------------------------------------------------------------------------------------------
def _read_decord(header: _Header, num_frames: int, size: int | None, fps: float | None) -> torch.Tensor:
    import decord

    if header.rotation:  # decord squeezes or scrambles rotated frames
        raise VideoDecodeError(header.path, "decord cannot apply the display rotation (use backend 'pyav')")
    decord.logging.set_level(decord.logging.QUIET)
    info, dims = header.info, {}
    if size is not None:  # decord scales while decoding: full-size frames never pile up
        dims["width"], dims["height"] = _scaled_dims(info.width, info.height, size)
    reader = decord.VideoReader(str(header.path), ctx=decord.cpu(0), **dims)
    total = len(reader)
    # Guard: decord loops forever seeking past the real end of files that over-report their
    # length; only trust a count that matches the header, else PyAV (which stops at EOF) decodes.
    if total < 1 or total > info.frames + 1:
        raise VideoDecodeError(header.path, f"decord counts {total} frames, header says {info.frames}")
    indices = sample_indices(total, num_frames, reader.get_avg_fps() or info.fps, fps)
    expected = (dims.get("height", info.height), dims.get("width", info.width), 3)
    decoded = {}
    for i in sorted(set(indices)):  # one frame at a time (get_batch is where decord hangs)
        image = reader[i].asnumpy()  # (h, w, 3)
        if image.shape != expected:
            raise VideoDecodeError(header.path, f"decord returned frames of shape {image.shape}")
        decoded[i] = _crop(image, size)
    return _stack([decoded[i] for i in indices])


# ---------------------------------------------------------------------------------------------
# PyAV
# ---------------------------------------------------------------------------------------------
def _read_pyav(header: _Header, num_frames: int, size: int | None, fps: float | None) -> torch.Tensor:
    import av

    info, total = header.info, header.info.frames
    for _attempt in range(2):
        indices = sample_indices(total, num_frames, info.fps, fps)
        try:
            decoded = _decode_pyav(header, sorted(set(indices)), size)
        except av.error.FFmpegError as exc:
            raise VideoDecodeError(header.path, f"corrupt video data ({_one_line(exc)})") from None
        if decoded is not None:
            return _stack([decoded[i] for i in indices])
        total = _count_packets(header.path)  # the header over-reported: sample the real frames
        if total < 1:
            break
    raise VideoDecodeError(header.path, "no decodable video frames (truncated or corrupt file?)")


def _decode_pyav(header: _Header, wanted: list[int], size: int | None) -> dict[int, np.ndarray] | None:
    """Decode the frames ``wanted`` (sorted indices) as RGB arrays; None if EOF comes far too early.

    Index ``i`` is the first frame shown at or after ``start + i / fps`` (half a frame of slack).
    A target is reached by seeking only when a key frame lies between the current position and
    it (so seeking skips work, never repeats it); otherwise decoding just runs forward.
    """
    import av
    from av.video.reformatter import VideoReformatter

    info = header.info
    half = 0.5 / info.fps
    reformatter = VideoReformatter()
    out: dict[int, np.ndarray] = {}
    with av.open(str(header.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        keys = _keyframe_times(stream)
        frames, last, last_t = None, None, -math.inf
        for i in wanted:
            target = header.start_s + i / info.fps
            if _should_seek(keys, last_t, target):
                frames = _seek(container, stream, target, frames)
            frames = frames if frames is not None else container.decode(stream)
            while last is None or last_t < target - half:
                frame = next(frames, None)
                if frame is None:  # EOF before the target
                    if last is None or target - last_t > 2.0 / info.fps + 0.05 * info.duration_s:
                        return None
                    break
                last, last_t = frame, _frame_time(frame, last_t, info.fps)
            out[i] = _to_rgb(last, size, header.rotation, reformatter)
    return out


def _keyframe_times(stream) -> list[float] | None:
    """Sorted key frame times (s) from the container index (mp4/mov: all; mkv: cues), or None."""
    entries = getattr(stream, "index_entries", None)  # PyAV >= 14
    if not entries or stream.time_base is None:
        return None
    times = sorted(float(e.timestamp * stream.time_base) for e in entries if e.is_keyframe)
    return times or None


def _should_seek(keys: list[float] | None, position: float, target: float) -> bool:
    """Seek iff a key frame lies in ``(position, target]``; without an index, if far ahead."""
    if keys is None:
        return target - position > SEEK_GAP_S
    before = bisect.bisect_right(keys, target + 1e-6) - 1  # last key frame at or before target
    return before >= 0 and keys[before] > position + 1e-6


def _seek(container, stream, target_s: float, frames):
    """A frame iterator positioned at the key frame at or before ``target_s`` (or left as it is)."""
    import av

    try:
        container.seek(int(target_s / stream.time_base), stream=stream, backward=True, any_frame=False)
    except av.error.FFmpegError:  # not seekable (e.g. some GIFs): keep decoding forwards
        return frames
    return container.decode(stream)


def _frame_time(frame, previous: float, fps: float) -> float:
    return float(frame.time) if frame.time is not None else previous + 1.0 / fps


def _to_rgb(frame, size: int | None, rotation: int, reformatter) -> np.ndarray:
    """One decoded frame -> upright RGB uint8 (h, w, 3), scaled (shorter side = size), cropped.

    One swscale pass converts and shrinks; reusing ``reformatter`` keeps its scaler context
    (a fresh one per frame costs more than decoding a small frame).
    """
    width, height = frame.width, frame.height
    if size is not None:
        width, height = _scaled_dims(width, height, size)
    rgb = reformatter.reformat(frame, width=width, height=height, format="rgb24", interpolation="AREA")
    return _crop(_upright(rgb.to_ndarray(), rotation), size)


# ---------------------------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------------------------
def _scaled_dims(width: int, height: int, size: int) -> tuple[int, int]:
    """(width, height) with the shorter side = ``size``, aspect kept."""
    scale = size / min(width, height)
    return max(size, round(width * scale)), max(size, round(height * scale))


def _upright(image: np.ndarray, rotation: int) -> np.ndarray:
    """Turn an (h, w, 3) frame ``rotation`` degrees counter-clockwise, as the display matrix says."""
    return np.rot90(image, rotation // 90) if rotation else image


def _crop(image: np.ndarray, size: int | None) -> np.ndarray:
    """Centre ``size x size`` crop of an (h, w, 3) array (no-op without size)."""
    if size is None:
        return image
    h, w = image.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return image[top : top + size, left : left + size]


def _center_square(frames: torch.Tensor, h: int, w: int) -> torch.Tensor:
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return frames[..., top : top + side, left : left + side]


def _stack(images: list[np.ndarray]) -> torch.Tensor:
    """List of (H, W, 3) uint8 arrays -> uint8 tensor (T, 3, H, W)."""
    import torch

    array = np.stack([np.ascontiguousarray(im) for im in images])  # (T, H, W, 3)
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()


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


def _one_line(exc: BaseException) -> str:
    """A short, single-line reason: FFmpeg's strerror, or the text without decord's source locations."""
    text = getattr(exc, "strerror", None) or str(exc)
    text = re.sub(r"\[[\d:]+\] \S+\.(cc|h):\d+: ", "", text)  # "[09:10:09] /src/x.cc:218: "
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:200] if lines else type(exc).__name__
