"""Layer-wise linear probes: the ridge classifier learns a planted label, and every block is probed."""

from __future__ import annotations

from pathlib import Path

import torch

from encoder.layer_probe import FACTS, probe_layers, ridge_accuracies

ROOT = Path(__file__).resolve().parent.parent


def test_ridge_learns_a_planted_label_and_not_noise():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 40, generator=g)  # (N, F)
    planted = (x[:, 3] > 0).long()  # a linear fact of the features
    noise = torch.randint(0, 2, (300,), generator=g)  # unrelated to them
    planted_acc, noise_acc = ridge_accuracies(x, [planted, noise], n_train=240)
    assert planted_acc > 0.9 and noise_acc < 0.75


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
