"""Shared helpers for the alignment tests: a tiny learnable video-QA dataset with real mp4 files.

Each clip is a red or blue square sliding left or right over black; the questions ask its colour
and its direction, so the answers are only knowable from the video.
"""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np

COLOURS = {"red": (230, 30, 30), "blue": (30, 60, 230)}
DIRECTIONS = ("left", "right")


def write_clip(path: Path, colour: str, direction: str, frames: int = 8, size: int = 32) -> None:
    """An mp4 of a ``colour`` square moving ``direction``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=8)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for t in range(frames):
            img = np.zeros((size, size, 3), dtype=np.uint8)
            x = 2 + t * 2 if direction == "right" else size - 12 - t * 2
            img[12:22, x : x + 10] = COLOURS[colour]
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def make_dataset(root: Path, clips_per_split: dict[str, int] | None = None) -> Path:
    """Write ``root/videos/*.mp4`` and ``root/qa.jsonl`` (2 questions per clip); returns ``root``."""
    clips_per_split = clips_per_split or {"train": 8, "test": 4}
    rows, k = [], 0
    for split, n in clips_per_split.items():
        for i in range(n):
            colour, direction = list(COLOURS)[k % 2], DIRECTIONS[(k // 2) % 2]
            clip = f"{split}-{i}"
            write_clip(root / "videos" / f"{clip}.mp4", colour, direction)
            common = {"video": f"videos/{clip}.mp4", "split": split, "clip_id": clip}
            rows.append(
                {
                    "id": f"{clip}-c",
                    "question": "What colour is the square?",
                    "options": list(COLOURS),
                    "answer": colour,
                    "type": "attribute",
                    **common,
                }
            )
            rows.append(
                {
                    "id": f"{clip}-d",
                    "question": "Which way does the square move?",
                    "options": list(DIRECTIONS),
                    "answer": direction,
                    "type": "motion",
                    **common,
                }
            )
            k += 1
    (root / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root
