"""The one reader of each file a worlds dataset dir holds: ``qa.jsonl``, ``world.json``, ``voe.jsonl``.

    rows = read_qa("data/world-tiny", split="test")      # checked qa.jsonl rows, absolute video paths
    clips = read_clips("data/world-tiny", split="train")  # world.json clips, absolute video paths
    pairs = read_voe("data/world-tiny")                   # voe.jsonl pairs, absolute video paths

Every reader takes the dataset dir (or the file itself) and raises :class:`FormatError` (a
``UserError``) naming the file, the line and the field. ``worlds.generate`` writes these files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from jepa_vqa.config import read_json
from jepa_vqa.errors import UserError

QA_FILE = "qa.jsonl"
WORLD_FILE = "world.json"
VOE_FILE = "voe.jsonl"
QA_FIELDS = {
    "id": str,
    "video": str,
    "question": str,
    "options": list,
    "answer": str,
    "type": str,
    "split": str,
}
CLIP_FIELDS = ("id", "video", "split")
VOE_FIELDS = ("kind", "possible", "impossible", "event_frame")
MAKE_ONE = "make a dataset with `jepa-vqa world`"


class FormatError(UserError):
    """A missing or ill-formed dataset file; the message names the file, the line and the field."""


def read_jsonl(path: str | Path) -> list[dict]:
    """The JSON objects of a JSONL file, one a line (blank lines skipped)."""
    path = Path(path)
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise FormatError(f"{path}:{lineno}: expected a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def dataset_file(data: str | Path, name: str) -> Path:
    """``DIR/name`` for a dataset dir, ``data`` itself for a file; a FormatError when it is missing."""
    path = Path(data)
    if path.is_dir():
        path = path / name
    if not path.is_file():
        raise FormatError(f"no {name} found at {data} ({MAKE_ONE})")
    return path


def resolve(video: str, root: Path) -> str:
    """``video`` as an absolute path (a relative one is relative to ``root``, the file's dir)."""
    return video if os.path.isabs(video) else str((root / video).resolve())


def check_qa_row(row: dict, where: str) -> None:
    """A FormatError naming ``where`` and the field when ``row`` is not a ``qa.jsonl`` record."""
    if not isinstance(row, dict):
        raise FormatError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for field, kind in QA_FIELDS.items():
        if field not in row:
            raise FormatError(f"{where}: missing field '{field}'")
        if not isinstance(row[field], kind):
            raise FormatError(f"{where}: field '{field}' must be {kind.__name__}, got {row[field]!r}")
    if row["options"] and row["answer"] not in row["options"]:
        raise FormatError(f"{where}: field 'answer' {row['answer']!r} is not one of 'options'")


def read_qa(data: str | Path, split: str | None = None) -> list[dict]:
    """The checked rows of ``qa.jsonl`` (all splits when ``split`` is None), videos as absolute paths."""
    path = dataset_file(data, QA_FILE)
    rows = read_jsonl(path)
    for lineno, row in enumerate(rows, start=1):
        check_qa_row(row, f"{path}:{lineno}")
    if not rows:
        raise FormatError(f"{path}: no examples")
    root = path.parent.resolve()
    chosen = [dict(row, video=resolve(row["video"], root)) for row in rows if split in (None, row["split"])]
    if not chosen:
        splits = sorted({row["split"] for row in rows})
        raise FormatError(f"{path} has no examples in split '{split}' (splits present: {', '.join(splits)})")
    return chosen


def read_clips(data: str | Path, split: str | None = None) -> list[dict]:
    """The ``world.json`` clips (all when ``split`` is None or "all"), videos as absolute paths."""
    path = dataset_file(data, WORLD_FILE)
    world = read_json(path, FormatError)
    clips = world.get("clips") if isinstance(world, dict) else None
    if not isinstance(clips, list):
        raise FormatError(f"{path}: missing field 'clips' (a list)")
    for i, clip in enumerate(clips):
        for field in CLIP_FIELDS:
            if not isinstance(clip, dict) or not isinstance(clip.get(field), str):
                raise FormatError(f"{path}: clips[{i}] missing field '{field}'")
    root = path.parent.resolve()
    chosen = [dict(c, video=resolve(c["video"], root)) for c in clips if split in (None, "all", c["split"])]
    if not chosen:
        splits = sorted({c["split"] for c in clips})
        raise FormatError(f"no clips with split '{split}' in {path} (splits: {', '.join(splits)})")
    return chosen


def dataset_dir(data: str | Path) -> Path:
    """The dataset dir of ``data``: itself for a dir, its parent for a file (e.g. a ``qa.jsonl``)."""
    path = Path(data)
    return path if path.is_dir() else path.parent


def has_world(data: str | Path) -> bool:
    """Whether ``data`` is (or sits next to) a worlds dataset's ``world.json``."""
    return (dataset_dir(data) / WORLD_FILE).is_file()


def read_voe(data: str | Path, split: str | None = None) -> list[dict]:
    """The ``voe.jsonl`` pairs (all splits when ``split`` is None), both videos as absolute paths
    that exist; ``id`` a string."""
    path = dataset_file(data, VOE_FILE)
    root = path.parent.resolve()
    pairs = []
    for i, row in enumerate(read_jsonl(path)):
        missing = [k for k in VOE_FIELDS if k not in row]
        if missing:
            raise FormatError(f"{path}:{i + 1}: missing field(s) {', '.join(missing)}")
        if split is not None and row.get("split") != split:
            continue
        pair = dict(row, id=str(row.get("id", i)))
        for key in ("possible", "impossible"):
            pair[key] = resolve(row[key], root)
            if not Path(pair[key]).is_file():
                raise FormatError(f"{path}:{i + 1}: video not found: {pair[key]}")
        pairs.append(pair)
    if not pairs:
        raise FormatError(f"{path} has no VoE pairs" + (f" in split '{split}'" if split else ""))
    return pairs
