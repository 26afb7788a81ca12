"""Tiny benchmark fixtures in the public formats, written in seconds (for tests and smoke runs).

    from eval.testing import make_world_dataset, make_mvbench, make_nextqa, make_msrvtt_qa
    data = make_world_dataset(tmp_path / "world")       # qa.jsonl (+ voe.jsonl, world.json) + videos
    jepa-vqa eval --task world-qa --data <data> --model <model> --out runs/smoke

Videos are real mp4 files (PyAV): a bright square moving on a dark background whose overall
brightness also rises frame by frame, so frame order and motion are visible in the pixels.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DIRECTIONS = {"right": (1, 0), "left": (-1, 0), "down": (0, 1), "up": (0, -1)}


def write_video(
    path: str | Path,
    num_frames: int = 8,
    size: int = 32,
    direction: str = "right",
    colour: tuple[int, int, int] = (255, 40, 40),
    fps: int = 8,
) -> Path:
    """An mp4 of a square moving in ``direction`` over a background that brightens each frame."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dx, dy = DIRECTIONS[direction]
    side = max(4, size // 4)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "10", "preset": "ultrafast"}
        for t in range(num_frames):
            img = np.full(
                (size, size, 3), 10 + (200 * t) // max(num_frames - 1, 1) // 2, np.uint8
            )  # (H, W, 3)
            step = (size - side) * t // max(num_frames - 1, 1)
            x = step if dx > 0 else (size - side - step if dx < 0 else (size - side) // 2)
            y = step if dy > 0 else (size - side - step if dy < 0 else (size - side) // 2)
            img[y : y + side, x : x + side] = colour
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_world_dataset(out: str | Path, clips: int = 6, voe_pairs: int = 4) -> Path:
    """A worlds-format dataset: ``qa.jsonl`` (train/test/test-compositional), ``voe.jsonl``, ``world.json``."""
    out = Path(out)
    names = list(DIRECTIONS)
    splits = ["train", "train", "test", "test", "test", "test-compositional"]
    rows, world = [], []
    for i in range(clips):
        direction = names[i % 4]
        video = f"videos/clip{i}.mp4"
        write_video(out / video, direction=direction)
        split = splits[i % len(splits)]
        rows += [
            {
                "id": f"clip{i}-dir",
                "video": video,
                "question": "Which way does the square move?",
                "options": names,
                "answer": direction,
                "open_answer": direction,
                "type": "motion",
                "subtype": "whole",
                "split": split,
                "clip_id": f"clip{i}",
            },
            {
                "id": f"clip{i}-count",
                "video": video,
                "question": "How many objects are there?",
                "options": [],
                "answer": "1",
                "open_answer": "one",
                "type": "count",
                "subtype": "all",
                "split": split,
                "clip_id": f"clip{i}",
            },
            {
                "id": f"clip{i}-hit",
                "video": video,
                "question": "Does the square hit anything?",
                "options": [],
                "answer": "no",
                "open_answer": "no",
                "type": "collision",
                "split": split,
                "clip_id": f"clip{i}",
            },
        ]
        world.append(
            {
                "id": f"clip{i}",
                "video": video,
                "split": split,
                "num_frames": 8,
                "fps": 8,
                "labels": {"direction": direction, "count": 1, "collision": False},
            }
        )
    _jsonl(out / "qa.jsonl", rows)
    (out / "world.json").write_text(json.dumps({"config": {}, "clips": world}))
    pairs = []
    kinds = ["vanish", "teleport", "passthrough", "colour"]
    for i in range(voe_pairs):
        write_video(out / f"voe/pair{i}-possible.mp4", direction="right")
        write_video(out / f"voe/pair{i}-impossible.mp4", direction="left")
        pairs.append(
            {
                "id": f"pair{i}",
                "kind": kinds[i % 4],
                "possible": f"voe/pair{i}-possible.mp4",
                "impossible": f"voe/pair{i}-impossible.mp4",
                "event_frame": 4,
                "split": "test",
            }
        )
    _jsonl(out / "voe.jsonl", pairs)
    return out


def make_mvbench(out: str | Path, per_task: int = 3) -> Path:
    """MVBench layout: ``json/<task>.json`` lists + ``video/<task>/*.mp4``."""
    out = Path(out)
    for task in ("action_sequence", "object_shuffle"):
        rows = []
        for i in range(per_task):
            direction = list(DIRECTIONS)[i % 4]
            write_video(out / "video" / task / f"{task}_{i}.mp4", direction=direction)
            rows.append(
                {
                    "video": f"{task}_{i}.mp4",
                    "question": "Where does the square go?",
                    "candidates": ["up", "down", "left", "right"],
                    "answer": direction,
                }
            )
        (out / "json").mkdir(parents=True, exist_ok=True)
        (out / "json" / f"{task}.json").write_text(json.dumps(rows))
    return out


def make_nextqa(out: str | Path, n: int = 4) -> Path:
    """NExT-QA layout: ``test.csv`` (video, question, answer index, qid, type, a0..a4) + ``videos/<id>.mp4``."""
    import csv

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "test.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(
            [
                "video",
                "frame_count",
                "width",
                "height",
                "question",
                "answer",
                "qid",
                "type",
                "a0",
                "a1",
                "a2",
                "a3",
                "a4",
            ]
        )
        for i in range(n):
            direction = list(DIRECTIONS)[i % 4]
            write_video(out / "videos" / f"{1000 + i}.mp4", direction=direction)
            options = ["up", "down", "left", "right", "still"]
            writer.writerow(
                [
                    1000 + i,
                    8,
                    32,
                    32,
                    "where does the square move",
                    options.index(direction),
                    i,
                    "TN" if i % 2 else "CW",
                    *options,
                ]
            )
    return out


def make_perceptiontest(out: str | Path, n: int = 4) -> Path:
    """PerceptionTest MC layout: ``test.jsonl`` (video_name, question, options, answer_id, area) + videos."""
    out = Path(out)
    rows = []
    for i in range(n):
        direction = list(DIRECTIONS)[i % 4]
        write_video(out / "videos" / f"video_{i}.mp4", direction=direction)
        rows.append(
            {
                "video_name": f"video_{i}",
                "question": "Where does the square move?",
                "options": ["up", "down", "left", "right"],
                "answer_id": ["up", "down", "left", "right"].index(direction),
                "area": "physics" if i % 2 else "memory",
            }
        )
    return _jsonl(out / "test.jsonl", rows).parent


def make_msrvtt_qa(out: str | Path, n: int = 4) -> Path:
    """MSRVTT-QA layout: ``test.jsonl`` rows ``{"id", "video_id", "question", "answer"}`` + ``videos/video<id>.mp4``."""
    out = Path(out)
    rows = []
    for i in range(n):
        direction = list(DIRECTIONS)[i % 4]
        write_video(out / "videos" / f"video{7000 + i}.mp4", direction=direction)
        question = "what direction does the square move" if i % 2 else "how many squares are there"
        rows.append(
            {"id": i, "video_id": 7000 + i, "question": question, "answer": direction if i % 2 else "one"}
        )
    return _jsonl(out / "test.jsonl", rows).parent
