"""Deterministic batches: which examples a process trains on at a step is a pure function of
``(seed, step, rank)``, so resuming needs only the step and every process sees its own shard::

    idx = batch_indices(len(ds), step=12, batch_size=8, rank=0, world_size=2, seed=0)

Examples are walked in a fresh seeded permutation per epoch; process ``r`` of ``W`` takes the
``r``-th slice of each global batch of ``W * batch_size``. Used by pretraining and alignment.
"""

from __future__ import annotations

from functools import lru_cache

import torch


@lru_cache(maxsize=8)
def permutation(n: int, seed: int, epoch: int) -> tuple[int, ...]:
    """The order of ``n`` examples in ``epoch`` of a run seeded ``seed``."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return tuple(torch.randperm(n, generator=gen).tolist())


def batch_indices(
    n: int, step: int, batch_size: int, rank: int = 0, world_size: int = 1, seed: int = 0
) -> list[int]:
    """Indices (into a dataset of ``n`` examples) of this process's batch at ``step``."""
    if n < 1:
        raise ValueError("cannot sample batches from an empty dataset")
    start = (step * world_size + rank) * batch_size
    out = []
    for pos in range(start, start + batch_size):
        epoch, i = divmod(pos, n)
        out.append(permutation(n, seed, epoch)[i])
    return out
