"""JEPA and MAE objectives: losses, EMA, dense / deep options, param groups, save/load (tiny, CPU)."""

from __future__ import annotations

import pytest
import torch

from encoder.config import ModelConfig
from encoder.jepa import init_share, scheduled_momentum
from encoder.objective import build_objective, load_objective, save_objective
from jepa_vqa.config import load_config
from jepa_vqa.errors import UserError


def _cfg(*overrides: str) -> ModelConfig:
    return load_config(ModelConfig, None, ["vit.preset=test", "predictor.depth=2", *overrides])


def _batch(obj, B=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    video = torch.randn(B, 16, 3, 32, 32, generator=g)
    return video, obj.masker()(B, g)


def _build(name, cfg, seed=0):
    torch.manual_seed(seed)
    return build_objective(name, cfg)


def _smooth_video(B=2) -> torch.Tensor:
    """Moving sinusoidal stripes (B, 16, 3, 32, 32): structure a predictor can learn."""
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    t = torch.linspace(0, 1, 16).view(16, 1, 1, 1)
    c = torch.arange(3.0).view(1, 3, 1, 1)
    clip = torch.sin(3 * xx + 2 * t + c) * torch.cos(2 * yy)  # (16, 3, 32, 32)
    return torch.stack([clip if b % 2 == 0 else clip.flip(-1) for b in range(B)])


@pytest.mark.parametrize("name", ["jepa", "mae"])
def test_loss_decreases_on_a_fixed_batch(name):
    obj = _build(name, _cfg())
    video = _smooth_video()
    masks = obj.masker()(2, torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(obj.param_groups(0.0), lr=1e-2)
    losses = []
    for step in range(40):
        loss, info = obj(video, masks, step)
        assert set(info) >= {"loss", "target_std"} and all(isinstance(v, float) for v in info.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        obj.update_target(step, 40)
        losses.append(loss.item())
    assert losses[-1] < 0.97 * losses[0], losses
    assert sum(losses[-5:]) < sum(losses[:5]), losses


def test_jepa_one_target_forward_and_no_grad_into_target():
    obj = _build("jepa", _cfg())
    video, masks = _batch(obj)
    calls = []
    obj.target_encoder.register_forward_hook(lambda *a: calls.append(1))
    loss, info = obj(video, masks)
    loss.backward()
    assert len(calls) == 1  # shared by both masks
    assert all(p.grad is None for p in obj.target_encoder.parameters())
    assert all(p.grad is not None for p in obj.encoder.parameters())
    assert 0.5 < info["target_std"] < 1.5  # layer-normed random-init targets


def test_ema_update_math_and_schedule():
    obj = _build("jepa", _cfg("jepa.momentum=0.9"))
    with torch.no_grad():
        for p in obj.encoder.parameters():
            p.add_(1.0)
    before_t = [p.clone() for p in obj.target_encoder.parameters()]
    src = [p.clone() for p in obj.encoder.parameters()]
    assert obj.update_target(0, 100) == pytest.approx(0.9)
    for new, old, s in zip(obj.target_encoder.parameters(), before_t, src):
        assert torch.allclose(new, 0.9 * old + 0.1 * s, atol=1e-6)
    ramp = _cfg("jepa.momentum=0.99", "jepa.momentum_ramp=true").jepa
    assert scheduled_momentum(ramp, 0, 100) == pytest.approx(0.99)
    assert scheduled_momentum(ramp, 50, 100) == pytest.approx(0.995)
    assert scheduled_momentum(ramp, 100, 100) == pytest.approx(1.0)
    assert scheduled_momentum(_cfg().jepa, 70, 100) == pytest.approx(0.99925)
    assert _build("mae", _cfg()).update_target(3, 10) is None


@pytest.mark.parametrize(
    "overrides", [["jepa.momentum=0.9"], ["jepa.momentum=0.8", "jepa.momentum_ramp=true"]]
)
def test_init_share_is_what_the_ema_keeps_of_the_init(overrides):
    obj = _build("jepa", _cfg(*overrides))
    with torch.no_grad():
        for p in obj.target_encoder.parameters():
            p.fill_(1.0)
        for p in obj.encoder.parameters():
            p.zero_()
    for step in range(12):
        obj.update_target(step, 12)
    kept = next(obj.target_encoder.parameters()).flatten()[0].item()
    assert kept == pytest.approx(init_share(obj.cfg.jepa, 12), rel=1e-4)
    assert init_share(_cfg().jepa, 300) == pytest.approx(0.7984, abs=1e-3)  # the long-run momentum


def test_dense_loss_with_warmup():
    obj = _build("jepa", _cfg("jepa.dense_weight=1.0", "jepa.dense_warmup_steps=10"))
    video, masks = _batch(obj)
    loss, info = obj(video, masks, step=5)
    assert info["dense_weight"] == pytest.approx(0.5)
    assert info["loss"] == pytest.approx(info["loss_target"] + 0.5 * info["loss_dense"], rel=1e-5)
    _, info0 = obj(video, masks, step=0)
    assert "loss_dense" not in info0  # weight 0 at step 0: the context predictions are skipped


def test_deep_self_supervision_targets_concatenate_layers():
    obj = _build("jepa", _cfg("jepa.deep_layers=[0, -1]"))
    video, masks = _batch(obj)
    targets = obj.targets(video)
    assert targets.shape == (4, 128, 64)  # two layers of width 32, each normalised
    assert torch.allclose(targets[..., :32].mean(-1), torch.zeros(4, 128), atol=1e-5)
    assert obj.predictor.head.out_features == 64
    loss, _ = obj(video, masks)
    assert torch.isfinite(loss)


def test_param_groups_exclude_norms_biases_and_target():
    obj = _build("jepa", _cfg())
    decay, no_decay = obj.param_groups(0.05)
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in obj.named_parameters()}
    assert all(p.ndim >= 2 and not names[id(p)].endswith("bias") for p in decay["params"])
    assert any("norm" in names[id(p)] for p in no_decay["params"])
    assert all(not names[id(p)].startswith("target_encoder") for p in decay["params"] + no_decay["params"])
    trainable = [p for p in obj.parameters() if p.requires_grad]
    assert len(decay["params"]) + len(no_decay["params"]) == len(trainable)


def test_encode_many_batches_equal_counts_like_separate_calls():
    obj = _build("jepa", _cfg()).eval()
    video, _ = _batch(obj)
    keeps = [torch.arange(0, 60).expand(4, -1), torch.arange(50, 110).expand(4, -1)]
    x, grid = obj.encoder.embed(video)
    batched = obj.encoder.encode_many(x, keeps, grid)
    for out, keep in zip(batched, keeps):
        assert torch.allclose(out, obj.encoder(video, keep=keep), atol=1e-5)


@pytest.mark.parametrize("name", ["jepa", "mae"])
def test_deterministic_and_save_load_round_trip(name, tmp_path):
    cfg = _cfg("vit.pos_embed=sincos")
    obj = _build(name, cfg)
    video, masks = _batch(obj)
    loss_a, _ = obj(video, masks)
    loss_b, _ = _build(name, cfg)(video, masks)
    assert loss_a.item() == loss_b.item()
    save_objective(obj, cfg, name, tmp_path / "objective")
    loaded, cfg2, name2 = load_objective(tmp_path)  # a run dir: finds objective/
    assert (name2, cfg2) == (name, cfg)
    assert loaded(video, masks)[0].item() == pytest.approx(loss_a.item(), abs=1e-6)
    enc = loaded.export_encoder()
    assert enc is (loaded.target_encoder if name == "jepa" else loaded.encoder)


def test_errors():
    with pytest.raises(UserError, match="unknown objective"):
        build_objective("byol", _cfg())
    with pytest.raises(UserError, match="no saved objective"):
        load_objective("/nonexistent")
