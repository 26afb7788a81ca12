"""Frame decoding for `encoder.video`: which frames to sample, and the decord and PyAV readers.

Sampled frames are reached by seeking to key frames, so long videos are not decoded in full, and
each frame is resized as it is decoded, so 4K input never holds more than one full-resolution
frame. Frames come out upright (the display rotation is applied) and RGB.

    indices = sample_indices(total=120, num_frames=16)          # uniform, first to last
    frames = read_pyav(probe_header("clip.mp4"), 16, 224, None)  # uint8 (16, 3, 224, 224)
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING

import numpy as np

from encoder.video_probe import Header, VideoDecodeError, count_packets, one_line

if TYPE_CHECKING:  # torch is imported where used, so `jepa-vqa inspect` starts fast
    import torch

SEEK_GAP_S = 1.0  # without a key frame index: seek only to targets at least this far ahead


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


# ---------------------------------------------------------------------------------------------
# decord
# ---------------------------------------------------------------------------------------------
def read_decord(header: Header, num_frames: int, size: int | None, fps: float | None) -> torch.Tensor:
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
def read_pyav(header: Header, num_frames: int, size: int | None, fps: float | None) -> torch.Tensor:
    import av

    info, total = header.info, header.info.frames
    for _attempt in range(2):
        indices = sample_indices(total, num_frames, info.fps, fps)
        try:
            decoded = _decode_pyav(header, sorted(set(indices)), size)
        except av.error.FFmpegError as exc:
            raise VideoDecodeError(header.path, f"corrupt video data ({one_line(exc)})") from None
        if decoded is not None:
            return _stack([decoded[i] for i in indices])
        total = count_packets(header.path)  # the header over-reported: sample the real frames
        if total < 1:
            break
    raise VideoDecodeError(header.path, "no decodable video frames (truncated or corrupt file?)")


def _decode_pyav(header: Header, wanted: list[int], size: int | None) -> dict[int, np.ndarray] | None:
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


def _stack(images: list[np.ndarray]) -> torch.Tensor:
    """List of (H, W, 3) uint8 arrays -> uint8 tensor (T, 3, H, W)."""
    import torch

    array = np.stack([np.ascontiguousarray(im) for im in images])  # (T, H, W, 3)
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()
