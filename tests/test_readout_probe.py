"""Readout probes: max over tokens finds a one-token fact that the mean dilutes; real world clips run."""

from __future__ import annotations

from pathlib import Path

import torch

from encoder.readout_probe import READERS, fit_reader, main, readout_table

ROOT = Path(__file__).resolve().parent.parent


def _planted(n: int, seed: int):
    """Tokens (n, 16, 8) of noise where a 'colour' is present iff one random token carries a spike."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, 8, generator=g) * 0.3
    colour = torch.randint(0, 2, (n, 2), generator=g).float()  # (n, 2): two colours, present or not
    for i in range(n):
        for c in range(2):
            if colour[i, c]:
                x[i, torch.randint(0, 16, (1,), generator=g), c] += 3.0
    count = colour.sum(1).long()  # (n,): 0, 1 or 2 "objects"
    direction = torch.zeros(n, dtype=torch.long)
    return x, (colour, count, direction, 3, 1)


def test_max_reader_finds_a_one_token_fact_the_mean_dilutes():
    train_x, train_t = _planted(256, 0)
    test_x, test_t = _planted(128, 1)
    acc = {k: fit_reader(k, train_x, train_t, test_x, test_t, epochs=25)["test"]["colour"] for k in READERS}
    assert acc["mlp-max"] > 0.9 and acc["mlp-max"] > acc["mean-linear"] + 0.2, acc


def test_readout_table_on_real_world_clips(tmp_path, capsys):
    from jepa_vqa.config import load_config
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    cfg = load_config(
        WorldConfig, ROOT / "configs/world/tiny.yaml", ["num_clips=24", "voe.pairs=0", "workers=1"]
    )
    world = generate_dataset(cfg, tmp_path / "world", progress=False)
    rows = readout_table(["pixels:test"], world, epochs=1)
    assert [r["reader"] for r in rows] == ["-", *READERS]
    assert all(0 <= v <= 1 for r in rows for v in r["test"].values())
    assert main(["--encoder", "pixels:test", "--data", str(tmp_path / "nowhere")]) == 2
    assert "not a worlds dataset" in capsys.readouterr().err
