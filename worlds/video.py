"""Write frames as an h264 mp4 (yuv420p) through PyAV, atomically and deterministically.

write_mp4("clip.mp4", frames, fps=8)  # frames: (T, H, W, 3) uint8 RGB
"""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

# BT.601, limited ("MPEG") range: what decoders assume for untagged SD video.
_RGB_TO_YUV = (
    np.array([[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]], np.float32)
    / 255.0
)


def rgb_to_yuv420p(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB -> (T, 3H/2, W) uint8 planar yuv420p (chroma averaged over 2x2 blocks).

    Converting here, vectorised over the clip, is several times faster than one swscale call per frame.
    """
    T, H, W, _ = frames.shape
    r, g, b = np.ascontiguousarray(np.moveaxis(frames, -1, 0), dtype=np.float32)  # (T, H, W) each
    (yr, yg, yb), (ur, ug, ub), (vr, vg, vb) = _RGB_TO_YUV.tolist()
    out = np.empty((T, H * 3 // 2, W), np.uint8)
    out[:, :H] = np.clip(yr * r + yg * g + yb * b + 16.5, 0, 255)
    r, g, b = (
        0.25 * (c[:, 0::2, 0::2] + c[:, 1::2, 0::2] + c[:, 0::2, 1::2] + c[:, 1::2, 1::2]) for c in (r, g, b)
    )  # (T, H/2, W/2) 2x2 averages
    u = np.clip(ur * r + ug * g + ub * b + 128.5, 0, 255).astype(np.uint8)  # (T, H/2, W/2)
    v = np.clip(vr * r + vg * g + vb * b + 128.5, 0, 255).astype(np.uint8)
    out[:, H : H + H // 4] = u.reshape(T, H // 4, W)
    out[:, H + H // 4 :] = v.reshape(T, H // 4, W)
    return out


def write_mp4(
    path: str | Path, frames: np.ndarray, fps: int, crf: int = 18, preset: str = "veryfast"
) -> Path:
    """Encode (T, H, W, 3) uint8 RGB frames (H, W even); single-threaded x264 so the bytes depend only on the frames."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    T, H, W, _ = frames.shape
    with av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"crf": str(crf), "preset": preset}
        stream.codec_context.thread_count = 1
        for frame in rgb_to_yuv420p(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    tmp.replace(path)
    return path
