"""The attentive probe: learns a planted label exactly, and a visible label of real clips through
a real (random-init) encoder; the seeds table."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_pretrain_data import make_squares_world

from encoder.probe import (
    AttentiveProbe,
    compute_features,
    fit_probe,
    format_table,
    main,
    pool_tokens,
    probe_table,
    train_probe,
)


def test_probe_shapes():
    probe = AttentiveProbe(32, num_classes=5)
    assert probe(torch.randn(3, 7, 32)).shape == (3, 5)


def test_pool_tokens_keeps_time():
    t, h, w, d = 2, 4, 4, 3
    tokens = torch.arange(t * h * w, dtype=torch.float32).repeat(d, 1).T[None]  # (1, t*h*w, d)
    pooled = pool_tokens(tokens, (t, h, w), 2)
    assert pooled.shape == (1, t * 2 * 2, d)
    assert pooled[0, 0, 0] == (0 + 1 + 4 + 5) / 4  # top-left 2x2 of time step 0
    assert pooled[0, 4, 0] == (16 + 17 + 20 + 21) / 4  # top-left 2x2 of time step 1
    assert torch.equal(pool_tokens(tokens, (t, h, w), 1), tokens)


def test_fit_probe_finds_planted_signal():
    gen = torch.Generator().manual_seed(0)
    n, tokens, dim, classes = 160, 16, 32, 3
    x = torch.randn(n, tokens, dim, generator=gen)  # (n, N, D) noise
    y = torch.randint(0, classes, (n,), generator=gen)
    x[:, :, :classes] += torch.nn.functional.one_hot(y, classes)[:, None, :]  # weak, in every token
    res = fit_probe(x[:96], y[:96], x[96:], y[96:], classes, seed=0, epochs=30)
    assert res["loss_last"] < 0.5 * res["loss_first"]
    assert res["accuracy"] >= 0.9 > res["chance"]
    assert fit_probe(x[:96], y[:96], x[96:], y[96:], classes, seed=0, epochs=30) == res  # seeded


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return make_squares_world(tmp_path_factory.mktemp("world"), num_clips=40, frames=16, size=32)


def test_train_probe_on_world_clips(world):
    feats = compute_features("random:test", world, progress=False)
    assert feats.train_tokens.shape == (32, 8 * 4 * 4, 32) and feats.test_tokens.shape[0] == 8
    res = train_probe(None, world, "count", seed=0, features=feats, epochs=100)
    assert res["classes"] == ["1", "2"]
    assert res["loss_last"] < 0.5 * res["loss_first"]  # it learns
    assert res["accuracy"] > res["chance"]  # and generalises beyond the majority class


def test_table_and_cli(world, capsys):
    rows = probe_table(["random:test"], world, ["count", "direction"], seeds=2, pool=2, epochs=5)
    assert [r["label"] for r in rows] == ["count", "direction"] and all(r["seeds"] == 2 for r in rows)
    assert "| random:test |" in format_table(rows)
    assert main(["--encoder", "random:test", "--data", str(world), "--label", "colour"]) == 2
    assert "unknown label 'colour'" in capsys.readouterr().err
