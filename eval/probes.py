"""Probe tasks: an attentive probe on frozen encoder tokens (``encoder.probe.train_probe``).

    jepa-vqa eval --task probe-motion --model runs/pretrain-jepa --data data/world-tiny --out runs/probe

The probe's accuracy is reported next to chance (1 / number of classes) and the majority label
(the most frequent label of the train clips, scored on the test clips), both from ``world.json``.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from eval.scoring import mean_with_ci
from jepa_vqa.errors import UserError
from worlds.formats import WORLD_FILE, dataset_file, read_clips


def load_labels(data: str | Path, label: str) -> dict[str, list]:
    """``{split: [label value per clip]}`` from ``DIR/world.json``."""
    out: dict[str, list] = {}
    for clip in read_clips(dataset_file(data, WORLD_FILE)):
        labels = clip.get("labels") or {}
        if label not in labels:
            raise UserError(f"{data}/{WORLD_FILE}: clip {clip['id']} has no label '{label}'")
        out.setdefault(clip["split"], []).append(labels[label])
    return out


def label_baselines(labels: dict[str, list]) -> dict:
    """Chance and majority-label accuracy on the test clips (majority taken from train when present)."""
    test = labels.get("test") or [v for vs in labels.values() for v in vs]
    train = labels.get("train") or test
    classes = {json.dumps(v) for vs in labels.values() for v in vs}
    majority = Counter(json.dumps(v) for v in train).most_common(1)[0][0]
    hits = sum(1 for v in test if json.dumps(v) == majority)
    return {
        "chance": {"accuracy": 1.0 / len(classes), "classes": len(classes)},
        "majority": {"accuracy": hits / len(test), "label": json.loads(majority), "n": len(test)},
    }


def run_probe(spec: str, data: str, label: str, seed: int = 0, n_boot: int = 1000, **kwargs) -> dict:
    """Train the probe on frozen tokens of encoder ``spec``; its accuracy (with a bootstrap CI over
    the test clips) plus label baselines."""
    from encoder.probe import train_probe

    baselines = label_baselines(load_labels(data, label))
    result = train_probe(spec, data, label, seed=seed, **kwargs)
    if "accuracy" not in result:
        raise RuntimeError("train_probe returned no 'accuracy'")
    plain = {
        k: v for k, v in result.items() if isinstance(v, (int, float, str, bool, list, dict, type(None)))
    }
    n = baselines["majority"]["n"]
    correct = round(float(result["accuracy"]) * n)  # the probe is scored on the test clips
    overall = mean_with_ci([1.0] * correct + [0.0] * (n - correct), n_boot=n_boot, seed=seed)
    overall["accuracy"] = float(result["accuracy"])
    return {
        "probe": plain,
        "accuracy": float(result["accuracy"]),
        "overall": overall,
        "label": label,
        "num_test": n,
        "baselines": baselines,
    }
