"""Whether a dir is a Hugging Face dataset written by ``Dataset(Dict).save_to_disk``, and whether
a missing local path may still be a Hub dataset id.

    if is_saved_dataset(path):
        ds = datasets.load_from_disk(str(path))

The tests every data reader (alignment, encoder pretraining data, eval) asks.
"""

from __future__ import annotations

from pathlib import Path

SAVED_DATASET_FILES = ("dataset_info.json", "state.json", "dataset_dict.json")


def is_saved_dataset(path: str | Path) -> bool:
    """``path`` is a dir holding a saved ``Dataset`` (``state.json``, ``dataset_info.json``) or
    ``DatasetDict`` (``dataset_dict.json``)."""
    root = Path(path)
    return root.is_dir() and any((root / name).is_file() for name in SAVED_DATASET_FILES)


def could_be_hub_id(name: str) -> bool:
    """Whether a missing local path may be a Hub dataset id (``name`` or ``owner/name``) rather than
    a local path: not absolute or relative-marked, at most one ``/``, and no local folder ``owner``.
    Readers fail at once on the rest instead of waiting on Hub retries."""
    parts = name.split("/")
    return not (
        name.startswith((".", "/", "~"))
        or "\\" in name
        or len(parts) > 2
        or (len(parts) == 2 and Path(parts[0]).is_dir())
    )
