"""What a video file is: its header (container metadata) and first decoded frame, through PyAV.

The lowest layer of `encoder.video`: `probe_header` opens the file once, checks that its video
stream decodes and finds the display rotation; `encoder.video_decode` samples frames from the
`Header` it returns. Bad input raises :class:`VideoDecodeError` (one line: the file and the problem).

    from encoder.video_probe import probe_header
    header = probe_header("clip.mp4")       # header.info: VideoInfo(frames=..., fps=..., ...)
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from jepa_vqa.errors import UserError


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


@dataclass(frozen=True)
class Header:
    path: Path
    info: VideoInfo  # display size (rotation applied); backend field unset here
    container: str
    start_s: float
    rotation: int  # degrees counter-clockwise to turn stored frames upright: 0, 90, 180, 270
    stored: tuple[int, int]  # (width, height) of frames as encoded


def probe_header(path: str | Path) -> Header:
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
        reason = one_line(exc)
        raise VideoDecodeError(
            path, f"not a readable video: truncated, corrupt or not a video ({reason})"
        ) from None
    except (UnicodeDecodeError, ValueError, IndexError) as exc:
        raise VideoDecodeError(path, f"not a readable video ({one_line(exc)})") from None


def _read_header(path: Path, container, stream) -> Header:
    import av

    ctx = stream.codec_context
    if not ctx.width or not ctx.height:
        raise VideoDecodeError(path, "video stream has no frame size (corrupt header?)")
    fps = _stream_fps(stream)
    duration = _stream_duration(container, stream)
    frames = stream.frames or (round(duration * fps) if duration else 0)
    if frames <= 0:  # no count and no duration in the header: count packets
        frames = count_packets(path)
        duration = frames / fps
    if frames <= 0:
        raise VideoDecodeError(path, "video stream has no frames")
    try:
        first = next(container.decode(stream), None)
    except av.error.FFmpegError as exc:
        raise VideoDecodeError(path, f"corrupt video data ({one_line(exc)})") from None
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
    return Header(path, info, container.format.name, start, rotation, (ctx.width, ctx.height))


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


def count_packets(path: Path) -> int:
    """Frames that actually exist: video packets with data (demux only, nothing is decoded)."""
    import av

    with av.open(str(path)) as container:
        try:
            return sum(1 for packet in container.demux(video=0) if packet.size)
        except av.error.FFmpegError:
            return 0


def one_line(exc: BaseException) -> str:
    """A short, single-line reason: FFmpeg's strerror, or the text without decord's source locations."""
    text = getattr(exc, "strerror", None) or str(exc)
    text = re.sub(r"\[[\d:]+\] \S+\.(cc|h):\d+: ", "", text)  # "[09:10:09] /src/x.cc:218: "
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:200] if lines else type(exc).__name__
