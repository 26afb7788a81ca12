"""Metrics with 95% bootstrap confidence intervals, computed through an `evaluate` module.

    from eval.scoring import accuracy_with_ci, per_type_accuracy
    accuracy_with_ci(["b", "a"], ["b", "b"])  # {"accuracy": 0.5, "ci": [0.0, 1.0], "n": 2, ...}

The metric is the repo's local `evaluate` module `eval/metrics/vqa_accuracy` (loaded by path:
`evaluate.load("accuracy")` fetches a script from the Hub, which this project never does).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

METRIC_DIR = Path(__file__).resolve().parent / "metrics" / "vqa_accuracy"


@functools.lru_cache(maxsize=1)
def _metric():
    import evaluate

    return evaluate.load(str(METRIC_DIR))


def bootstrap_ci(
    correct: list[float] | np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-sample scores (0/1, or 0.5 for ties)."""
    x = np.asarray(correct, dtype=np.float64)  # (N,)
    if x.size == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))  # (n_boot, N)
    means = x[idx].mean(axis=1)  # (n_boot,)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


def accuracy_with_ci(
    predictions: list[str | None], references: list[str], n_boot: int = 1000, seed: int = 0
) -> dict:
    """Accuracy (via the `evaluate` module) + bootstrap CI; ``None`` predictions are unparsed/wrong."""
    preds = ["" if p is None else str(p) for p in predictions]
    refs = [str(r) for r in references]
    if not refs:
        return {
            "accuracy": float("nan"),
            "ci": [float("nan"), float("nan")],
            "n": 0,
            "correct": 0,
            "unparsed": 0,
        }
    out = _metric().compute(predictions=preds, references=refs)
    correct = [1.0 if p != "" and p == r else 0.0 for p, r in zip(preds, refs)]
    lo, hi = bootstrap_ci(correct, n_boot=n_boot, seed=seed)
    return {
        "accuracy": float(out["accuracy"]),
        "ci": [lo, hi],
        "n": int(out["total"]),
        "correct": int(out["correct"]),
        "unparsed": int(out["unparsed"]),
    }


def mean_with_ci(scores: list[float], n_boot: int = 1000, seed: int = 0) -> dict:
    """Mean of per-sample scores (e.g. expected accuracy of chance) with a bootstrap CI."""
    if not scores:
        return {"accuracy": float("nan"), "ci": [float("nan"), float("nan")], "n": 0}
    lo, hi = bootstrap_ci(scores, n_boot=n_boot, seed=seed)
    return {"accuracy": float(np.mean(scores)), "ci": [lo, hi], "n": len(scores)}


def per_type_accuracy(
    predictions: list[str | None], references: list[str], types: list[str], n_boot: int = 1000, seed: int = 0
) -> dict:
    """``{"overall": {...}, "by_type": {type: {...}}}``, each an :func:`accuracy_with_ci` dict."""
    by_type = {}
    for t in sorted(set(types)):
        sel = [i for i, ty in enumerate(types) if ty == t]
        by_type[t] = accuracy_with_ci(
            [predictions[i] for i in sel], [references[i] for i in sel], n_boot=n_boot, seed=seed
        )
    overall = accuracy_with_ci(predictions, references, n_boot=n_boot, seed=seed)
    return {"overall": overall, "by_type": by_type}


def per_type_mean(scores: list[float], types: list[str], n_boot: int = 1000, seed: int = 0) -> dict:
    """Like :func:`per_type_accuracy` for precomputed per-sample scores."""
    by_type = {}
    for t in sorted(set(types)):
        by_type[t] = mean_with_ci([s for s, ty in zip(scores, types) if ty == t], n_boot=n_boot, seed=seed)
    return {"overall": mean_with_ci(scores, n_boot=n_boot, seed=seed), "by_type": by_type}
