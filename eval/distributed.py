"""Sharding evaluation work across processes (``accelerate launch`` / torchrun) and gathering it.

    accelerate launch --multi_gpu --num_processes 2 -m eval.run --task world-qa ...   # GPUs, or 2 gloo CPU ranks
    torchrun --nproc_per_node 2 -m eval.run --task world-qa ...                       # the same

(On a CPU-only machine ``accelerate launch --cpu --num_processes 2`` starts one process unless MPI
is set up; ``--multi_gpu`` goes through torchrun and the ranks talk over gloo.)

Work is split by whole batches, round-robin, so each batch holds the same examples as in a
single-process run and greedy outputs are identical; rank 0 gathers and writes the results.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world_size: int = 1
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current() -> Dist:
    """This process's rank and the world size; initialises gloo/nccl when launched distributed."""
    import torch

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Dist(device="cuda" if torch.cuda.is_available() else "cpu")
    from accelerate import PartialState

    state = PartialState(cpu=not torch.cuda.is_available())
    return Dist(state.process_index, state.num_processes, str(state.device))


def batches(n: int, batch_size: int) -> list[list[int]]:
    """Indices 0..n-1 in consecutive batches."""
    return [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]


def my_batches(n: int, batch_size: int, dist: Dist) -> list[list[int]]:
    """This rank's share of the batches (round-robin by batch)."""
    return batches(n, batch_size)[dist.rank :: dist.world_size]


def gather(items: list, dist: Dist) -> list:
    """All ranks' lists concatenated, in rank order (every rank gets the result)."""
    if dist.world_size == 1:
        return list(items)
    import torch.distributed as td

    out: list = [None] * dist.world_size
    td.all_gather_object(out, items)
    return [x for part in out for x in part]


def barrier(dist: Dist) -> None:
    if dist.world_size > 1:
        import torch.distributed as td

        td.barrier()
