"""Answer balancing by rejection: keep a subset of candidate questions so that, within a question
type, no answer is much more common than the others (so a blind model cannot guess from priors).

Answers too rare to balance against (fewer than `RARE` x the median availability) are dropped;
the rest are capped at a common quota and drawn round-robin, at most `per_clip` per clip.

    kept = select_balanced(cands, per_clip=2, max_ratio=1.3, rng=np.random.default_rng(0))
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

RARE = 0.2


def _quota(avail: list[int], max_ratio: float) -> int:
    """Largest cap c such that max(min(a, c)) * len(avail) / sum(min(a, c)) <= max_ratio.

    The ratio is 1 at c = min(avail) and never decreases with c, so bisect.
    """
    lo, hi = min(avail), max(avail)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        capped = [min(a, mid) for a in avail]
        if max(capped) * len(avail) <= max_ratio * sum(capped):
            lo = mid
        else:
            hi = mid - 1
    return lo


def select_balanced(
    cands: list[dict], per_clip: int, max_ratio: float, rng: np.random.Generator
) -> list[dict]:
    """Balanced subset of `cands` (each with "answer" and "clip"), in a deterministic order."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for c in cands:
        groups[c["answer"]].append(c)
    if not groups:
        return []
    answers = sorted(groups)
    median = float(np.median([len(groups[a]) for a in answers]))
    answers = [a for a in answers if len(groups[a]) >= RARE * median]
    quota = _quota([len(groups[a]) for a in answers], max_ratio)
    queues = {a: [groups[a][j] for j in rng.permutation(len(groups[a]))] for a in answers}
    taken: dict[str, list[dict]] = {a: [] for a in answers}
    per: dict[str, int] = defaultdict(int)
    heads = dict.fromkeys(answers, 0)
    open_answers = list(answers)
    while open_answers:
        for a in list(open_answers):
            q = queues[a]
            while heads[a] < len(q) and per[q[heads[a]]["clip"]] >= per_clip:
                heads[a] += 1  # that clip already has enough questions of this type
            if heads[a] >= len(q) or len(taken[a]) >= quota:
                open_answers.remove(a)
                continue
            pick = q[heads[a]]
            heads[a] += 1
            taken[a].append(pick)
            per[pick["clip"]] += 1
    # clip limits can starve some answers: trim the others back to the ratio
    present = [a for a in answers if taken[a]]
    while present:
        total = sum(len(taken[a]) for a in present)
        top = max(present, key=lambda a: len(taken[a]))
        if len(taken[top]) * len(present) <= max_ratio * total:
            break
        taken[top].pop()
    return [q for a in answers for q in taken[a]]
