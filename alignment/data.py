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

from pathlib import Path

import datasets

from jepa_vqa.hf_dataset import could_be_hub_id, is_saved_dataset
from worlds.formats import (
    QA_FIELDS,
    QA_FILE,
    WORLD_FILE,
    FormatError,
    check_qa_row,
    dataset_dir,
    has_world,
    read_clips,
    read_qa,
    resolve,
)
from worlds.qa import describe_clip, scene_descriptions

DESCRIBE_PROMPTS = (
    "Describe the video.",
    "What happens in this video?",
    "Describe what you see in the clip.",
    "Give a short description of the scene.",
)


DatasetError = FormatError  # a missing or ill-formed dataset; the message names the file and the field


def _to_dataset(rows: list[dict]) -> datasets.Dataset:
    """Rows (their keys may differ: extra ground-truth fields) as one ``datasets.Dataset``."""
    keys = list(dict.fromkeys(key for row in rows for key in row))
    return datasets.Dataset.from_dict({key: [row.get(key) for row in rows] for key in keys})


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
    missing = [c for c in QA_FIELDS if c not in ds.column_names]
    if missing:
        raise DatasetError(f"dataset '{path}': missing field '{missing[0]}' (columns: {ds.column_names})")
    if len(ds) == 0:
        raise DatasetError(f"dataset '{path}': no examples")
    check_qa_row(ds[0], f"dataset '{path}' row 0")
    root = local.resolve() if local.is_dir() else Path.cwd()
    return ds.map(lambda row: {"video": resolve(row["video"], root)}, desc="resolve video paths")


def load_all(path: str | Path) -> datasets.Dataset:
    """Every split of the QA dataset at ``path`` (dir with qa.jsonl, a .jsonl file, or HF dataset)."""
    p = Path(path)
    if p.is_dir() and (p / QA_FILE).is_file() or p.suffix == ".jsonl":
        if not p.exists():
            raise DatasetError(f"dataset file not found: {p}")
        return _to_dataset(read_qa(p))
    if p.is_dir() and not is_saved_dataset(p):
        raise DatasetError(f"dataset dir {p} has no qa.jsonl (and is not a saved HF dataset)")
    if not p.exists() and ("/" not in str(path) or not could_be_hub_id(str(path))):
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


def load_descriptions(path: str | Path, split: str = "train") -> datasets.Dataset:
    """Stage-1 pairs: an instruction ("Describe the video.", ...) -> the clip's ground-truth description.

    Built from ``world.json`` next to the QA file with ``worlds.qa.describe_clip``; the phrasing
    rotates over :data:`DESCRIBE_PROMPTS`. Same columns as :func:`load_qa` (``type`` = "describe").
    """
    world = dataset_dir(path)
    if not has_world(world):
        raise DatasetError(
            f"stage-1 descriptions need the world ground truth, but {world / WORLD_FILE} is missing"
        )
    clips = read_clips(world, split)
    rows = [
        {
            "id": f"describe-{clip['id']}",
            "video": clip["video"],
            "question": DESCRIBE_PROMPTS[i % len(DESCRIBE_PROMPTS)],
            "options": [],
            "answer": describe_clip(clip),
            "type": "describe",
            "split": clip["split"],
        }
        for i, clip in enumerate(clips)
    ]
    return datasets.Dataset.from_list(rows)


def load_scenes(path: str | Path) -> dict[str, str]:
    """``{absolute video path: ground-truth description}`` of every clip of the world next to the
    QA data at ``path`` (the text bound's input; ``worlds.qa.scene_descriptions``, as the eval reads it)."""
    world = dataset_dir(path)
    scenes = scene_descriptions(world)
    if not scenes:
        raise DatasetError(
            f"perception=description needs the world ground truth, but {world / WORLD_FILE} is missing"
        )
    return scenes
