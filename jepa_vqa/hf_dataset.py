"""Whether a dir is a Hugging Face dataset written by ``Dataset(Dict).save_to_disk``.

    if is_saved_dataset(path):
        ds = datasets.load_from_disk(str(path))

The one test every data reader (alignment, encoder pretraining data, eval) asks.
"""

from __future__ import annotations

from pathlib import Path

SAVED_DATASET_FILES = ("dataset_info.json", "state.json", "dataset_dict.json")


def is_saved_dataset(path: str | Path) -> bool:
    """``path`` is a dir holding a saved ``Dataset`` (``state.json``, ``dataset_info.json``) or
    ``DatasetDict`` (``dataset_dict.json``)."""
    root = Path(path)
    return root.is_dir() and any((root / name).is_file() for name in SAVED_DATASET_FILES)
