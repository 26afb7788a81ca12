"""Layer-wise linear probes: the ridge classifier learns a planted label, and every block is probed."""

from __future__ import annotations

from pathlib import Path

import torch

from encoder.layer_probe import (
    FACTS,
    direction_ceiling,
    format_result,
    object_directions,
    probe_layers,
    ridge_accuracies,
    ridge_count_accuracy,
)
from encoder.probe import split_clips

ROOT = Path(__file__).resolve().parent.parent


def test_ridge_learns_a_planted_label_and_not_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 40, generator=g)  # (N, F)
    planted = (x[:, 3] > 0).long()  # a linear fact of the features
    noise = torch.randint(0, 2, (300,), generator=g)  # unrelated to them
    planted_acc, noise_acc = ridge_accuracies(x, [planted, noise], n_train=240)
    assert planted_acc > 0.9 and noise_acc < 0.75


def test_a_count_is_read_by_regression_where_one_vs_rest_classes_fail():
    g = torch.Generator().manual_seed(0)
    counts = torch.randint(1, 7, (600,), generator=g)  # 1..6 objects
    x = torch.randn(600, 20, generator=g)
    x[:, 0] = counts + 0.2 * torch.randn(600, generator=g)  # a feature that grows with the count
    assert ridge_count_accuracy(x, counts, n_train=480) > 0.9
    (as_classes,) = ridge_accuracies(x, [counts - 1], n_train=480)
    assert as_classes < 0.6  # a middle class's linear score cannot peak in the middle


def test_probe_layers_reports_every_block_of_a_real_encoder(tmp_path):
    from jepa_vqa.config import load_config
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    cfg = load_config(
        WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=24", "voe.pairs=0", "workers=1"]
    )
    world = generate_dataset(cfg, tmp_path / "world", progress=False)
    result = probe_layers("random:test", world, pool=2, cache=tmp_path / "cache")
    assert len(result["layers"]) == 2  # the test preset has 2 blocks
    assert all(set(row) == set(FACTS) and all(0 <= v <= 1 for v in row.values()) for row in result["layers"])
    assert list((tmp_path / "cache").iterdir())  # features kept: a rerun refits only
    assert probe_layers("random:test", world, pool=2, cache=tmp_path / "cache") == result
    clips = split_clips(world, "train") + split_clips(world, "test")
    assert all(object_directions(c)[0] == c["labels"]["direction"] for c in clips)  # the label's rule
    assert 0.25 < result["direction_ceiling"] <= 1.0
    oracle = probe_layers("oracle", world, pool=2)  # perfect per-token perception: one "layer"
    assert len(oracle["layers"]) == 1 and set(oracle["layers"][0]) == set(FACTS)
    table = format_result(oracle).splitlines()
    assert table[-1].count("|") == table[2].count("|")  # the ceiling row has every column


def _clip(*moves: tuple[float, float]) -> dict:
    """A world.json clip whose objects start at the centre and move by ``moves`` (dx, dy) over 4 frames."""
    objects = [{"bbox": [-0.05, -0.05, 0.05, 0.05]} for _ in moves]
    tracks = [
        {"x": [0.5 + dx * f / 3 for f in range(4)], "y": [0.5 + dy * f / 3 for f in range(4)]}
        for dx, dy in moves
    ]
    return {"objects": objects, "tracks": tracks}


def test_direction_ceiling_is_the_share_of_the_most_common_direction():
    leaving = _clip((0.3, 0.0), (0.0, -0.9))  # right; up and out of frame after frame 0
    assert object_directions(leaving) == ["right", "up"]  # measured to its last in-frame position
    assert direction_ceiling([_clip((0.2, 0.0))]) == 1.0  # one object: its direction is known
    assert direction_ceiling([_clip((0.2, 0.0), (0.2, 0.1), (0.0, 0.2))]) == 2 / 3
    entering = _clip((0.2, 0.0), (0.0, 0.0))
    entering["tracks"][1]["x"] = [-0.5, -0.3, 0.2, 0.4]  # out of frame at frame 0: never object 0
    assert object_directions(entering) == ["right", None]
    assert direction_ceiling([entering]) == 1.0
