"""Projector: token budgets, shapes, time order, both kinds."""

from __future__ import annotations

import pytest
import torch

from jepa_vqa.config import from_dict
from jepa_vqa.errors import ConfigError
from vlm.projector import ProjectorConfig, build_projector, pooled_grid


@pytest.mark.parametrize(
    "grid, budget, expected",
    [
        ((8, 4, 4), 32, (8, 2, 2)),
        ((8, 8, 8), 64, (8, 2, 4)),
        ((8, 4, 4), 4, (4, 1, 1)),
        ((2, 2, 2), 100, (2, 2, 2)),
        ((8, 4, 4), 8, (8, 1, 1)),
    ],
)
def test_pooled_grid_fits_budget(grid, budget, expected):
    got = pooled_grid(grid, budget)
    assert got == expected
    assert got[0] * got[1] * got[2] <= budget


@pytest.mark.parametrize("kind", ["pool-mlp", "attentive"])
def test_shapes_and_token_count(kind):
    proj = build_projector(ProjectorConfig(kind=kind, tokens=32), encoder_dim=24, llm_dim=40)
    tokens = torch.randn(3, 8 * 4 * 4, 24)  # (B, t*h*w, D)
    out = proj(tokens, (8, 4, 4))
    assert out.shape == (3, proj.num_tokens((8, 4, 4)), 40) == (3, 32, 40)
    out.sum().backward()
    assert all(p.grad is not None for p in proj.parameters() if p.requires_grad and p is not proj.time_embed)


def test_pool_mlp_keeps_time_order():
    """Each output token comes only from its own time step: changing step 5 changes outputs 5*4..5*4+3."""
    proj = build_projector(ProjectorConfig(tokens=32, time_embedding=False), encoder_dim=8, llm_dim=8)
    grid = (8, 4, 4)
    tokens = torch.randn(1, 128, 8)
    changed = tokens.clone().view(1, 8, 16, 8)
    changed[:, 5] += 1.0
    diff = (proj(changed.view(1, 128, 8), grid) - proj(tokens, grid)).abs().sum(-1)[0]  # (32,)
    assert (diff[20:24] > 0).all() and diff[:20].eq(0).all() and diff[24:].eq(0).all()


def test_time_embedding_distinguishes_steps():
    proj = build_projector(ProjectorConfig(tokens=8), encoder_dim=8, llm_dim=8)
    with torch.no_grad():
        proj.time_embed.normal_()
    same = torch.ones(1, 8 * 2 * 2, 8)  # identical tokens at every time step
    out = proj(same, (8, 2, 2))[0]  # (8, W)
    assert not torch.allclose(out[0], out[1])


def test_grid_mismatch_and_config_errors():
    proj = build_projector(ProjectorConfig(), encoder_dim=8, llm_dim=8)
    with pytest.raises(ValueError, match="do not match the grid"):
        proj(torch.randn(1, 10, 8), (8, 2, 2))
    with pytest.raises(ConfigError, match="kind"):
        from_dict(ProjectorConfig, {"kind": "linear"})
    with pytest.raises(ConfigError, match="tokens must be >= 1"):
        from_dict(ProjectorConfig, {"tokens": 0})
