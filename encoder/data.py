"""Video clips for pretraining: find them, decode them (in workers), cache them, order them.

``data.path`` may be a worlds dataset dir (``world.json``), a folder of videos, or a Hugging Face
dataset (a dir written by ``save_to_disk`` or a ``datasets`` id) with a video-path column::

    paths = find_videos("runs/world-tiny", split="train")
    loader = build_loader(paths, num_frames=16, size=64, mean=MEAN, std=STD, batch_size=16,
                          seed=0, start_step=0, total_steps=1000, num_workers=2)
    for step, video in zip(range(1000), loader):   # video: float (B, T, C, H, W), normalised
        ...

Batches are a pure function of ``(seed, step, rank)`` (:class:`StepBatchSampler`), so a resumed
run sees exactly the batches the uninterrupted run would have seen, and each rank sees its own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from encoder.video import VIDEO_EXTENSIONS
from jepa_vqa.errors import UserError
from jepa_vqa.hf_dataset import could_be_hub_id, is_saved_dataset
from jepa_vqa.sampler import batch_indices
from worlds.formats import has_world, read_clips

VIDEO_COLUMNS = ("video", "video_path", "path", "file", "filename")
CACHE_LIMIT_BYTES = 8 * 2**30  # decode-once cache only for datasets that fit comfortably in RAM


# ----------------------------------------------------------------------------------------------
# Finding clips


def find_videos(path: str | Path, split: str = "train") -> list[str]:
    """Video file paths from a worlds dir, a folder of videos, or a HF dataset (dir or id).

    ``split`` selects clips of a worlds dataset or a HF dataset split (``"all"``: every clip of
    a worlds dataset); a plain folder has no splits and yields every video under it.
    """
    root = Path(path)
    if root.is_dir() and has_world(root):
        return [clip["video"] for clip in read_clips(root, split)]
    if is_saved_dataset(root):
        return _hf_videos(_load_hf_dir(root, split), root, str(path))
    if root.is_dir():
        videos = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
        if not videos:
            raise UserError(f"no videos ({', '.join(VIDEO_EXTENSIONS)}) under {root}")
        return videos
    if root.exists():
        raise UserError(f"data.path {root} is a file; give a folder of videos, a worlds dataset or a dataset")
    if not could_be_hub_id(str(path)):
        raise UserError(f"data.path {path} does not exist (and is not a Hub dataset id 'owner/name')")
    return _hf_videos(_load_hf_id(str(path), split), None, str(path))


def _load_hf_dir(root: Path, split: str):
    import datasets

    ds = datasets.load_from_disk(str(root))
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise UserError(f"dataset {root} has no split '{split}' (splits: {sorted(ds)})")
        ds = ds[split]
    return ds


def _load_hf_id(name: str, split: str):
    import datasets

    try:
        return datasets.load_dataset(name, split=split)
    except Exception as exc:  # noqa: BLE001 - any loading failure is a bad data.path for the user
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            f"data.path '{name}' is not a folder, worlds dataset or loadable dataset: {first}"
        ) from None


def _hf_videos(ds, root: Path | None, name: str) -> list[str]:
    column = next((c for c in VIDEO_COLUMNS if c in ds.column_names), None)
    if column is None:
        raise UserError(f"dataset {name} has no video-path column (looked for {', '.join(VIDEO_COLUMNS)})")
    paths = []
    for value in ds[column]:
        if isinstance(value, dict):  # e.g. {"path": ...}
            value = value.get("path")
        if not isinstance(value, str):
            raise UserError(
                f"dataset {name} column '{column}' must hold video paths, got {type(value).__name__}"
            )
        p = Path(value)
        paths.append(str(p if p.is_absolute() or root is None else root / p))
    if not paths:
        raise UserError(f"dataset {name} is empty")
    return paths


# ----------------------------------------------------------------------------------------------
# Decoding and the dataset


class DecodedClips(Dataset):
    """Decode clip ``i`` to uint8 ``(T, C, H, W)`` at the model's frames and size."""

    def __init__(self, paths: Sequence[str], num_frames: int, size: int):
        self.paths, self.num_frames, self.size = list(paths), num_frames, size

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        from encoder.video import read_frames

        frames = read_frames(self.paths[i], num_frames=self.num_frames, size=self.size)  # (T, C, H, W)
        return frames


def _first(batch: list) -> torch.Tensor:
    return batch[0]


def decode_all(clips: DecodedClips, num_workers: int = 0, progress: bool = True) -> torch.Tensor:
    """Decode every clip once (in ``num_workers`` processes) into one uint8 ``(N, T, C, H, W)``."""
    from tqdm import tqdm

    loader = DataLoader(clips, batch_size=1, num_workers=num_workers, collate_fn=_first)
    out = torch.empty(len(clips), clips.num_frames, 3, clips.size, clips.size, dtype=torch.uint8)
    bar = tqdm(loader, total=len(clips), desc="decode", disable=not progress, file=sys.stderr, leave=False)
    for i, frames in enumerate(bar):
        out[i] = frames
    return out


class VideoClips(Dataset):
    """Clip ``i`` as normalised float ``(T, C, H, W)``: decoded on the fly, or read from a uint8
    cache made by :func:`decode_all`. Same maths as ``VideoEncoder.prepare``."""

    def __init__(
        self,
        paths: Sequence[str],
        num_frames: int,
        size: int,
        mean: Sequence[float],
        std: Sequence[float],
        cache: torch.Tensor | None = None,
    ):
        self.decoded = DecodedClips(paths, num_frames, size)
        self.cache = cache  # (N, T, C, H, W) uint8 or None
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def __len__(self) -> int:
        return len(self.decoded)

    def __getitem__(self, i: int) -> torch.Tensor:
        frames = self.cache[i] if self.cache is not None else self.decoded[i]  # (T, C, H, W) uint8
        return (frames.float() / 255.0 - self.mean) / self.std  # (T, C, H, W)


# ----------------------------------------------------------------------------------------------
# Order


class StepBatchSampler:
    """Batches of indices as a pure function of ``(seed, step, rank)``.

    The global stream is the concatenation of one seeded permutation per epoch; step ``s`` takes
    the next ``batch_size * world_size`` items and rank ``r`` its own slice, so ranks never share
    an item within a step and resuming at ``start_step`` continues the same stream.
    """

    def __init__(
        self,
        num_items: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        start_step: int = 0,
        total_steps: int | None = None,
    ):
        if num_items <= 0:
            raise UserError("the dataset has no clips")
        self.n, self.batch_size, self.seed = num_items, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.start_step, self.total_steps = start_step, total_steps

    def indices(self, step: int) -> list[int]:
        """The dataset indices this rank uses at ``step`` (:func:`jepa_vqa.sampler.batch_indices`)."""
        return batch_indices(self.n, step, self.batch_size, self.rank, self.world_size, self.seed)

    def state(self, step: int) -> dict:
        """Data-order state for a checkpoint (enough to resume and to check compatibility)."""
        return {
            "seed": self.seed,
            "num_items": self.n,
            "world_size": self.world_size,
            "batch_size": self.batch_size,
            "samples_seen": step * self.batch_size * self.world_size,
        }

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        while self.total_steps is None or step < self.total_steps:
            yield self.indices(step)
            step += 1

    def __len__(self) -> int:
        if self.total_steps is None:
            raise TypeError("an endless sampler has no length")
        return max(0, self.total_steps - self.start_step)


def build_loader(
    dataset: VideoClips,
    batch_size: int,
    seed: int,
    start_step: int = 0,
    total_steps: int | None = None,
    rank: int = 0,
    world_size: int = 1,
    num_workers: int = 0,
) -> DataLoader:
    """A DataLoader yielding float ``(B, T, C, H, W)`` batches in :class:`StepBatchSampler` order."""
    sampler = StepBatchSampler(len(dataset), batch_size, seed, rank, world_size, start_step, total_steps)
    return DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=num_workers,
        persistent_workers=False,
        prefetch_factor=4 if num_workers > 0 else None,
    )


def maybe_cache(paths: Sequence[str], num_frames: int, size: int, num_workers: int, progress: bool = True):
    """Decode all clips into memory (uint8) when they fit under ``CACHE_LIMIT_BYTES``, else None."""
    nbytes = len(paths) * num_frames * 3 * size * size
    if nbytes > CACHE_LIMIT_BYTES:
        print(
            f"dataset too large to cache in memory ({nbytes / 2**30:.1f} GiB): decoding on the fly",
            file=sys.stderr,
        )
        return None
    return decode_all(DecodedClips(paths, num_frames, size), num_workers=num_workers, progress=progress)
