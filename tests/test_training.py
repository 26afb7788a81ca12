"""Tests for jepa_vqa.training: atomic checkpoints, RNG/optimizer round trips, schedule, metrics."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from torch import nn

from jepa_vqa import training
from jepa_vqa.errors import UserError
from jepa_vqa.training import (
    MetricsLogger,
    decay_param_groups,
    find_checkpoint,
    load_checkpoint,
    plot_metrics,
    read_metrics,
    save_checkpoint,
    set_seed,
    warmup_cosine,
)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)
        self.head = nn.Linear(3, 2, bias=False)
        self.tied = self.head  # shared storage must still save


def _train_a_bit(model: nn.Module, opt: torch.optim.Optimizer, steps: int = 3) -> None:
    for _ in range(steps):
        loss = model.head(model.norm(model.lin(torch.randn(5, 4)))).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def _fresh():
    model = Tiny()
    opt = torch.optim.AdamW(decay_param_groups(model.named_parameters(), 0.05), lr=1e-2)
    return model, opt


def test_save_load_round_trip_identical(tmp_path):
    set_seed(0)
    model, opt = _fresh()
    _train_a_bit(model, opt)
    save_checkpoint(tmp_path, step=3, modules={"model": model}, optimizer=opt, state={"data": {"epoch": 1}})
    expected_next = (torch.rand(4), random.random(), np.random.rand())

    set_seed(123)
    model2, opt2 = _fresh()
    state = load_checkpoint(find_checkpoint(tmp_path), {"model": model2}, opt2)
    assert state == {"step": 3, "data": {"epoch": 1}}
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items()):
        assert torch.equal(a, b), k
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for pid in s1["state"]:
        for name, v in s1["state"][pid].items():
            assert torch.equal(v, s2["state"][pid][name]), (pid, name)
    # RNG streams continue exactly where they were at save time.
    got_next = (torch.rand(4), random.random(), np.random.rand())
    assert torch.equal(expected_next[0], got_next[0]) and expected_next[1:] == got_next[1:]
    # And training continues identically.
    rng = torch.get_rng_state()
    _train_a_bit(model, opt, 2)
    torch.set_rng_state(rng)
    _train_a_bit(model2, opt2, 2)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), model2.parameters()))
    files = {p.name for p in (tmp_path / "checkpoint").iterdir()}
    assert not any(f.endswith((".pt", ".pkl", ".bin")) for f in files)
    assert {
        "model.safetensors",
        "optimizer.safetensors",
        "optimizer.json",
        "rng.safetensors",
        "state.json",
    } <= files


def test_crash_mid_write_keeps_old_checkpoint(tmp_path, monkeypatch):
    model, opt = _fresh()
    save_checkpoint(tmp_path, step=1, modules={"model": model}, optimizer=opt)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    _train_a_bit(model, opt)

    calls = {"n": 0}
    real_save = training.save_file

    def crashing_save(tensors, path):
        calls["n"] += 1
        if calls["n"] == 2:  # die after the model file, while writing the optimizer
            raise KeyboardInterrupt("power cut")
        real_save(tensors, path)

    monkeypatch.setattr(training, "save_file", crashing_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, step=4, modules={"model": model}, optimizer=opt)
    monkeypatch.undo()

    model2, opt2 = _fresh()
    state = load_checkpoint(find_checkpoint(tmp_path), {"model": model2}, opt2)
    assert state["step"] == 1
    assert all(torch.equal(before[k], v) for k, v in model2.state_dict().items())


def test_crash_mid_swap_falls_back_to_old(tmp_path):
    model, opt = _fresh()
    save_checkpoint(tmp_path, step=5, modules={"model": model}, optimizer=opt)
    # Simulate a crash right after the old checkpoint was moved aside.
    (tmp_path / "checkpoint").rename(tmp_path / "checkpoint.old")
    (tmp_path / "checkpoint.tmp-1-2").mkdir()  # half-written new one
    ckpt = find_checkpoint(tmp_path)
    assert ckpt == tmp_path / "checkpoint.old"
    assert load_checkpoint(ckpt, {"model": Tiny()})["step"] == 5
    # The next save cleans up and lands in the normal place.
    save_checkpoint(tmp_path, step=6, modules={"model": model})
    assert find_checkpoint(tmp_path) == tmp_path / "checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_load_rejects_mismatched_model(tmp_path):
    save_checkpoint(tmp_path, step=1, modules={"model": nn.Linear(4, 3)})
    with pytest.raises(UserError, match="does not match"):
        load_checkpoint(tmp_path / "checkpoint", {"model": nn.Linear(5, 3)})
    with pytest.raises(UserError, match="not a complete checkpoint"):
        load_checkpoint(tmp_path / "nowhere", {"model": nn.Linear(4, 3)})


def test_warmup_cosine_shape():
    lrs = [warmup_cosine(s, 100, 1.0, warmup_steps=10, final_lr_ratio=0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:10]))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    assert lrs[-1] == pytest.approx(0.1)


def test_decay_groups_skip_norms_and_biases():
    model = Tiny()
    model.lin.weight.requires_grad_(False)
    groups = decay_param_groups(model.named_parameters(), 0.1)
    decay_ids = {id(p) for p in groups[0]["params"]}
    no_decay_ids = {id(p) for p in groups[1]["params"]}
    assert decay_ids == {id(model.head.weight)}
    assert no_decay_ids == {id(model.lin.bias), id(model.norm.weight), id(model.norm.bias)}
    assert groups[1]["weight_decay"] == 0.0


def test_metrics_logger_resume_and_plot(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with MetricsLogger(path) as log:
        for step in range(1, 8):
            log.log(step, loss=1.0 / step, lr=0.1)
    with MetricsLogger(path, resume_step=5) as log:  # crashed after the step-5 checkpoint
        log.log(6, loss=0.5, lr=0.1)
    steps = [r["step"] for r in read_metrics(path)]
    assert steps == [1, 2, 3, 4, 5, 6]
    with MetricsLogger(tmp_path / "off.jsonl", enabled=False) as log:
        log.log(1, loss=1.0)
    assert not (tmp_path / "off.jsonl").exists()
    png = plot_metrics(path, tmp_path / "curves.png", ["loss", "lr", "absent"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(path.read_text().splitlines()[0])["loss"] == 1.0
