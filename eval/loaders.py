"""Dataset loaders that turn a source (a local dir or a Hugging Face dataset id) into Examples.

    from eval.loaders import load_qa_jsonl
    examples = load_qa_jsonl("data/world-tiny", split="test")

`load_qa_jsonl` turns this project's ``qa.jsonl`` (read by :mod:`worlds.formats`) into Examples; the
public-benchmark adapters live in :mod:`eval.adapters` and share :func:`load_records` and
:func:`resolve_video`.
"""

from __future__ import annotations

import csv
from pathlib import Path

from encoder.video import VIDEO_EXTENSIONS
from eval.example import Example
from jepa_vqa.config import read_json
from jepa_vqa.errors import UserError
from jepa_vqa.hf_dataset import could_be_hub_id, is_saved_dataset
from worlds.formats import read_jsonl, read_qa

TABLE_EXTS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


def _example(row: dict) -> Example:
    """An Example from a checked ``qa.jsonl`` row (video already absolute)."""
    try:
        return Example(
            id=row["id"],
            video=row["video"],
            question=row["question"],
            answer=row["answer"],
            options=list(row["options"]),
            type=row["type"] or "all",
            subtype=row.get("subtype") or "",
        )
    except ValueError as exc:
        raise UserError(f"{row['id']}: {exc}") from None


def load_qa_jsonl(data: str | Path, split: str | None = "test") -> list[Example]:
    """Examples of ``split`` (all when ``None``) from ``DIR/qa.jsonl`` (or a ``.jsonl`` file),
    read by :func:`worlds.formats.read_qa`."""
    return [_example(row) for row in read_qa(data, split)]


def load_records(
    data: str, split: str | None = None, config: str | None = None
) -> tuple[list[dict], Path | None]:
    """Rows of a local table file/dir (jsonl/json/csv/parquet) or a Hub dataset; also its root dir.

    A local dir holds ``<split>.<ext>`` (or a single table file). A Hub id goes through
    ``datasets.load_dataset(id, config, split=split)``; its videos are looked up in the dataset
    repo's local snapshot (``huggingface_hub.snapshot_download``, cached).
    """
    path = Path(data)
    if is_saved_dataset(path):
        return _load_saved(path, split), path
    if path.exists():
        table = _find_table(path, split)
        if table.suffix == ".json":
            rows = _read_json_table(table)
        elif table.suffix == ".jsonl":
            rows = read_jsonl(table)
        elif table.suffix == ".csv":
            with open(table, newline="") as f:
                rows = list(csv.DictReader(f))
        else:
            import datasets

            rows = list(datasets.Dataset.from_parquet(str(table)))
        return rows, (path if path.is_dir() else path.parent)
    if "/" not in data or not could_be_hub_id(data):
        raise UserError(f"data not found: {data} (give a local dir/file or a Hugging Face dataset id)")
    return _load_hub(data, split, config)


def _load_saved(path: Path, split: str | None) -> list[dict]:
    """Rows of a dataset written with ``Dataset(Dict).save_to_disk``."""
    import datasets

    ds = datasets.load_from_disk(str(path))
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise UserError(f"{path}: no split '{split}' (splits: {', '.join(ds)})")
        ds = ds[split]
    return list(ds)


def unique_ids(examples: list[Example]) -> list[Example]:
    """Make example ids unique (``id#index`` for repeats): seeds and sample rows key on them."""
    seen: dict[str, int] = {}
    for ex in examples:
        seen[ex.id] = seen.get(ex.id, 0) + 1
    for i, ex in enumerate(examples):
        if seen[ex.id] > 1:
            ex.id = f"{ex.id}#{i}"
    return examples


def _find_table(path: Path, split: str | None) -> Path:
    if path.is_file():
        if path.suffix not in TABLE_EXTS:
            raise UserError(f"{path}: unsupported table format (use {', '.join(TABLE_EXTS)})")
        return path
    tables = sorted(p for p in path.iterdir() if p.suffix in TABLE_EXTS)
    if split is not None:
        named = [
            p
            for p in tables
            if p.stem == split or p.stem.endswith(f"_{split}") or p.stem.startswith(f"{split}_")
        ]
        if named:
            return named[0]
    if len(tables) == 1:
        return tables[0]
    if not tables:
        raise UserError(f"{path}: no data file found (expected {split or 'test'}.jsonl/.json/.csv/.parquet)")
    names = ", ".join(p.name for p in tables)
    raise UserError(f"{path}: no table for split '{split}' among {names}")


def _read_json_table(path: Path) -> list[dict]:
    data = read_json(path)
    if isinstance(data, dict):  # {"id": {...}, ...} tables
        data = [dict(v, id=v.get("id", k)) if isinstance(v, dict) else v for k, v in data.items()]
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UserError(f"{path}: expected a list of objects")
    return data


def _load_hub(data: str, split: str | None, config: str | None) -> tuple[list[dict], Path | None]:
    import datasets

    try:
        ds = datasets.load_dataset(data, config, split=split or "test")
    except Exception as exc:  # noqa: BLE001 - the Hub or the cache says why; report it in one line
        raise UserError(
            f"could not load dataset '{data}' ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from None
    root = None
    try:
        from huggingface_hub import snapshot_download

        root = Path(snapshot_download(data, repo_type="dataset"))
    except Exception:  # noqa: BLE001 - videos may be absolute paths or decoded already
        root = None
    return list(ds), root


def resolve_video(value, roots: list[Path], patterns: tuple[str, ...] = ("{}",)) -> str | None:
    """An existing video path for a row's video field (a path, an id, or a datasets Video dict)."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("path") or value.get("filename")
        if value is None:
            return None
    value = str(value)
    if Path(value).is_absolute() and Path(value).is_file():
        return value
    candidates = []
    for pat in patterns:
        name = pat.format(value)
        candidates.append(name)
        if Path(name).suffix.lower() not in VIDEO_EXTENSIONS:
            candidates.extend(name + ext for ext in VIDEO_EXTENSIONS)
    for root in roots:
        for sub in ("", "videos", "video"):
            for name in candidates:
                p = root / sub / name if sub else root / name
                if p.is_file():
                    return str(p.resolve())
    return None
