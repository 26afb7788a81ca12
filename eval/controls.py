"""Honest controls: what a score means only next to these.

Input controls (the same model, altered video):
- ``blind``: no video at all (``video=None``): how far the language prior alone gets.
- ``shuffled``: the same frames in a random order (seeded per clip: every question about a clip
  sees the same order): does order matter?
- ``single_frame``: the middle frame repeated T times: does motion matter?

Answer baselines computed from the data: ``chance`` (uniform guess over the options, or over the
answers seen for that question type) and ``majority`` (the most frequent answer of the question
type, taken from the train split when there is one, else from the evaluated data).
"""

from __future__ import annotations

import hashlib
from collections import Counter

import torch

from eval.example import Example, canonical_gold, gold_index
from eval.parsing import LETTERS, normalize_text


def example_seed(seed: int, key: str) -> int:
    """A seed per ``key`` (a clip, an example), independent of order and sharding."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def shuffle_frames(frames: torch.Tensor, seed: int) -> torch.Tensor:
    """The frames ``(T, C, H, W)`` in a seeded random order (never the identity when T > 1)."""
    t = frames.shape[0]
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(t, generator=gen)  # (T,)
    if t > 1 and torch.equal(perm, torch.arange(t)):
        perm = torch.roll(perm, 1)
    return frames[perm]  # (T, C, H, W)


def single_frame(frames: torch.Tensor) -> torch.Tensor:
    """The middle frame of ``(T, C, H, W)`` repeated T times."""
    t = frames.shape[0]
    return frames[t // 2 : t // 2 + 1].expand_as(frames).clone()  # (T, C, H, W)


def apply_control(name: str, frames: torch.Tensor | None, seed: int, clip: str) -> torch.Tensor | None:
    """The video input of condition ``name`` ("model" is the unaltered frames); ``clip`` names the
    video (its file name, wherever the data lies), so that every question about it sees the same
    shuffled order."""
    if name == "model":
        return frames
    if name == "blind":
        return None
    if name == "shuffled":
        return shuffle_frames(frames, example_seed(seed, clip))
    if name == "single_frame":
        return single_frame(frames)
    raise ValueError(f"unknown control {name!r}")


def chance_scores(examples: list[Example], answer_pool: list[Example] | None = None) -> list[float]:
    """Expected accuracy of a uniform guess, per example: 1/#options, 1/2 for yes/no, else 1/#answers of the type."""
    pool = answer_pool if answer_pool else examples
    answers_by_type: dict[str, set[str]] = {}
    for ex in pool:
        answers_by_type.setdefault(ex.type, set()).add(canonical_gold(ex))
    scores = []
    for ex in examples:
        if ex.kind == "choice":
            scores.append(1.0 / len(ex.options))
        elif ex.kind == "yes_no":
            scores.append(0.5)
        else:
            scores.append(1.0 / max(1, len(answers_by_type.get(ex.type, set()) | {canonical_gold(ex)})))
    return scores


def majority_predictions(examples: list[Example], answer_pool: list[Example] | None = None) -> list[str]:
    """Per example, the most frequent answer of its type (by option text for multiple choice)."""
    pool = answer_pool if answer_pool else examples
    counts: dict[str, Counter] = {}
    for ex in pool:
        key = ex.options[gold_index(ex)] if ex.kind == "choice" else canonical_gold(ex)
        counts.setdefault(ex.type, Counter())[_norm_key(ex, key)] += 1
    overall = sum(counts.values(), Counter())
    preds = []
    for ex in examples:
        ranked = [a for a, _ in (counts.get(ex.type) or overall).most_common()]
        if ex.kind == "choice":
            opts = [_norm_key(ex, o) for o in ex.options]
            hit = next((a for a in ranked if a in opts), None)
            preds.append(LETTERS[opts.index(hit)] if hit is not None else LETTERS[0])
        else:
            preds.append(ranked[0] if ranked else "")
    return preds


def _norm_key(ex: Example, text: str) -> str:
    return normalize_text(text) if ex.kind == "choice" else text
