"""Atomic writes: a reader sees the old content or the new, never half of it.

    atomic_write_text(out / "qa.jsonl", text)                       # temp file, then a rename
    atomic_write(out / "model.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    with atomic_directory(run_dir / "encoder") as tmp:              # a whole directory
        encoder.save_pretrained(tmp)

The one atomic writer every package uses (datasets, results, caches, checkpoints, model dirs).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it to ``path``; on an
    exception the temp file is removed and ``path`` is untouched."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def _fsync_dir(path: Path) -> None:
    """Flush the files of ``path`` to disk (best effort; not all platforms allow it)."""
    for f in path.iterdir():
        try:
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Write a directory atomically: fill the yielded temp dir; on success it replaces ``path``.

    The previous ``path`` is moved to ``<path>.old`` just before the swap and deleted after it, so
    at every instant one complete copy exists (``path``, or ``<path>.old`` after a crash mid-swap).
    On an exception the temp dir is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"{path.name}.tmp-*"):  # left by a crash mid-write
        shutil.rmtree(stale, ignore_errors=True)
    tmp = path.parent / f"{path.name}.tmp-{os.getpid()}-{time.monotonic_ns()}"
    old = path.parent / f"{path.name}.old"
    tmp.mkdir()
    try:
        yield tmp
        _fsync_dir(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
