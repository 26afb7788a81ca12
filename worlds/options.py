"""Answer options: the right answer plus distractors, shuffled with the clip's random generator.

Every question is multiple choice; `worlds.questions` builds its options with these::

    answer_options("red", ["red", "green", "blue", "cyan"], 4, rng)  # e.g. ["blue", "red", ...]
    number_options(2, hi=6, k=4, rng=rng)  # e.g. ["3", "1", "2", "0"]
"""

from __future__ import annotations

import numpy as np


def answer_options(answer: str, pool: list[str], k: int, rng: np.random.Generator) -> list[str]:
    """`answer` plus up to k-1 distractors from `pool`, shuffled."""
    others = [p for p in pool if p != answer]
    picked = [others[j] for j in rng.permutation(len(others))[: k - 1]]
    opts = [answer] + picked
    return [opts[j] for j in rng.permutation(len(opts))]


def number_options(answer: int, hi: int, k: int, rng: np.random.Generator) -> list[str]:
    """k consecutive numbers in [0, max(hi, answer)] that contain `answer`, shuffled."""
    hi = max(hi, answer, k - 1)
    start = int(rng.integers(max(0, answer - k + 1), min(answer, hi - k + 1) + 1))
    return answer_options(str(answer), [str(v) for v in range(start, start + k)], k, rng)
