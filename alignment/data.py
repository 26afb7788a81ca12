"""Video-QA datasets for alignment, as Hugging Face ``datasets``.

A dataset is any of
  - a directory holding ``qa.jsonl`` (a ``jepa-vqa world`` output dir),
  - a ``.jsonl`` file,
  - a dataset dir written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``, or a Hub id,
with the columns ``id, video, question, options, answer, type, split``. Video paths are resolved
relative to the file (or dir) they come from::

    from alignment.data import load_qa, load_descriptions
    train = load_qa("data/tiny-world", "train")             # QA pairs, absolute video paths
    stage1 = load_descriptions("data/tiny-world", "train")  # "Describe the video." -> ground truth
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets

from jepa_vqa.config import read_json
from jepa_vqa.errors import UserError

REQUIRED = {
    "id": str,
    "video": str,
    "question": str,
    "options": list,
    "answer": str,
    "type": str,
    "split": str,
}
DESCRIBE_PROMPTS = (
    "Describe the video.",
    "What happens in this video?",
    "Describe what you see in the clip.",
    "Give a short description of the scene.",
)


class DatasetError(UserError):
    """A missing or ill-formed dataset; the message names the file and the field."""


def _check_row(row: dict, where: str) -> None:
    """Raise ``DatasetError`` naming ``where`` and the field when ``row`` lacks a required column."""
    if not isinstance(row, dict):
        raise DatasetError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for field, tp in REQUIRED.items():
        if field not in row:
            raise DatasetError(f"{where}: missing field '{field}'")
        if not isinstance(row[field], tp):
            raise DatasetError(f"{where}: field '{field}' must be {tp.__name__}, got {row[field]!r}")
    if row["options"] and row["answer"] not in row["options"]:
        raise DatasetError(f"{where}: field 'answer' {row['answer']!r} is not one of 'options'")


def _validate_jsonl(path: Path) -> None:
    """Check every line of ``path`` up front so errors name the line and field."""
    with path.open() as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            _check_row(row, f"{path}:{lineno}")


def _resolve(video: str, root: Path) -> str:
    return video if os.path.isabs(video) else str((root / video).resolve())


def _load_jsonl(path: Path) -> datasets.Dataset:
    _validate_jsonl(path)
    try:
        ds = datasets.load_dataset("json", data_files=str(path), split="train")
    except Exception as exc:  # noqa: BLE001 - datasets raises many types for a bad file
        raise DatasetError(
            f"{path}: could not be loaded as JSON lines ({type(exc).__name__}: {exc})"
        ) from None
    if len(ds) == 0:
        raise DatasetError(f"{path}: no examples")
    root = path.parent.resolve()
    return ds.map(lambda row: {"video": _resolve(row["video"], root)}, desc="resolve video paths")


def _load_hf(path: str) -> datasets.Dataset:
    """A ``save_to_disk`` dir or a Hub id; a DatasetDict is flattened (its keys become ``split``)."""
    local = Path(path)
    try:
        if local.is_dir():
            ds = datasets.load_from_disk(str(local))
        else:
            ds = datasets.load_dataset(path)
    except Exception as exc:  # noqa: BLE001
        raise DatasetError(f"dataset '{path}' could not be loaded ({type(exc).__name__}: {exc})") from None
    if isinstance(ds, datasets.DatasetDict):
        parts = []
        for name, part in ds.items():
            if "split" not in part.column_names:
                part = part.add_column("split", [name] * len(part))
            parts.append(part)
        ds = datasets.concatenate_datasets(parts)
    missing = [c for c in REQUIRED if c not in ds.column_names]
    if missing:
        raise DatasetError(f"dataset '{path}': missing field '{missing[0]}' (columns: {ds.column_names})")
    if len(ds) == 0:
        raise DatasetError(f"dataset '{path}': no examples")
    _check_row(ds[0], f"dataset '{path}' row 0")
    root = local.resolve() if local.is_dir() else Path.cwd()
    return ds.map(lambda row: {"video": _resolve(row["video"], root)}, desc="resolve video paths")


def load_all(path: str | Path) -> datasets.Dataset:
    """Every split of the QA dataset at ``path`` (dir with qa.jsonl, a .jsonl file, or HF dataset)."""
    p = Path(path)
    if p.is_dir() and (p / "qa.jsonl").is_file():
        return _load_jsonl(p / "qa.jsonl")
    if p.suffix == ".jsonl":
        if not p.is_file():
            raise DatasetError(f"dataset file not found: {p}")
        return _load_jsonl(p)
    if p.is_dir() and not any(
        (p / n).exists() for n in ("dataset_info.json", "dataset_dict.json", "state.json")
    ):
        raise DatasetError(f"dataset dir {p} has no qa.jsonl (and is not a saved HF dataset)")
    if not p.exists() and (str(path).startswith((".", "/")) or str(path).count("/") != 1):
        raise DatasetError(
            f"dataset not found: {path} (expected a dir with qa.jsonl, a .jsonl file, or a Hub id)"
        )
    return _load_hf(str(path))


def load_qa(path: str | Path, split: str = "train") -> datasets.Dataset:
    """The ``split`` rows of the QA dataset at ``path``, with absolute video paths."""
    ds = load_all(path)
    splits = sorted(set(ds["split"]))
    if split not in splits:
        raise DatasetError(f"dataset '{path}' has no split '{split}' (splits: {', '.join(splits)})")
    return ds.filter(lambda s: s == split, input_columns="split", desc=f"split {split}")


def _world_clips(path: Path) -> tuple[Path, list[dict]]:
    world = path / "world.json" if path.is_dir() else path.parent / "world.json"
    if not world.is_file():
        raise DatasetError(f"stage-1 descriptions need the world ground truth, but {world} is missing")
    data = read_json(world, DatasetError)
    clips = data.get("clips") if isinstance(data, dict) else None
    if not isinstance(clips, list):
        raise DatasetError(f"{world}: missing field 'clips' (a list)")
    for i, clip in enumerate(clips):
        for field in ("id", "video", "split"):
            if not isinstance(clip, dict) or not isinstance(clip.get(field), str):
                raise DatasetError(f"{world}: clips[{i}] missing field '{field}'")
    return world, clips


def load_descriptions(path: str | Path, split: str = "train") -> datasets.Dataset:
    """Stage-1 pairs: an instruction ("Describe the video.", ...) -> the clip's ground-truth description.

    Built from ``world.json`` next to the QA file with ``worlds.qa.describe_clip``; the phrasing
    rotates over :data:`DESCRIBE_PROMPTS`. Same columns as :func:`load_qa` (``type`` = "describe").
    """
    from worlds.qa import describe_clip

    world, clips = _world_clips(Path(path))
    root = world.parent.resolve()
    rows = [
        {
            "id": f"describe-{clip['id']}",
            "video": _resolve(clip["video"], root),
            "question": DESCRIBE_PROMPTS[i % len(DESCRIBE_PROMPTS)],
            "options": [],
            "answer": describe_clip(clip),
            "type": "describe",
            "split": clip["split"],
        }
        for i, clip in enumerate(c for c in clips if c["split"] == split)
    ]
    if not rows:
        raise DatasetError(f"{world}: no clips in split '{split}'")
    return datasets.Dataset.from_list(rows)


def load_scenes(path: str | Path) -> dict[str, str]:
    """``{absolute video path: ground-truth description}`` of every clip of the world next to the
    QA data at ``path`` (the text bound's input; ``worlds.qa.scene_descriptions``, as the eval reads it)."""
    from worlds.qa import scene_descriptions

    world = Path(path) if Path(path).is_dir() else Path(path).parent
    scenes = scene_descriptions(world)
    if not scenes:
        raise DatasetError(
            f"perception=description needs the world ground truth, but {world / 'world.json'} is missing"
        )
    return scenes
