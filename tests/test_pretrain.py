"""The pretraining loop end to end on the test preset: outputs, exact resume, MAE, CLI, 2 ranks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_pretrain_data import make_squares_world

from cli.main import main as cli_main
from encoder.pretrain import PretrainConfig, pretrain, warn_stale_target
from encoder.vit import VisionTransformer
from jepa_vqa.config import load_config
from jepa_vqa.training import read_metrics

ROOT = Path(__file__).resolve().parents[1]
TEST_YAML = ROOT / "configs/pretrain/test.yaml"
FAST = ["train.batch_size=2", "model.predictor.depth=1"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return make_squares_world(tmp_path_factory.mktemp("world"), num_clips=12, frames=16, size=32)


def _cfg(world: Path, *overrides: str) -> PretrainConfig:
    return load_config(PretrainConfig, TEST_YAML, [f"data.path={world}", *FAST, *overrides])


@pytest.mark.parametrize("path", sorted((ROOT / "configs/pretrain").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    cfg = load_config(PretrainConfig, path)
    assert cfg.model.vit.embed_dim > 0 and cfg.train.steps > 0
    if path.name == "tiny.yaml":
        assert (cfg.model.vit.img_size, cfg.model.vit.embed_dim, cfg.model.vit.depth) == (64, 192, 12)
    if "mae" in path.name:
        assert cfg.objective == "mae"


@pytest.mark.parametrize(
    "steps, extra",
    [(6, []), (6, ["data.augment=true"]), pytest.param(20, [], marks=pytest.mark.slow)],
    ids=["6", "6-augment", "20"],
)
def test_resume_continues_exactly(world, tmp_path, capsys, steps, extra):
    """N steps straight == N/2 steps, stop, resume, N/2 steps (data order, augmentation, masks,
    RNG, EMA, AdamW)."""
    half = steps // 2
    cfg = _cfg(world, f"train.steps={steps}", f"train.ckpt_every={half}", *extra)
    straight = pretrain(cfg, tmp_path / "straight", progress=False)
    split = tmp_path / "split"
    pretrain(cfg, split, stop_after=half, progress=False)
    assert [r["step"] for r in read_metrics(split / "metrics.jsonl")] == list(range(1, half + 1))
    capsys.readouterr()
    pretrain(cfg, split, progress=False)
    assert f"resuming from {split / 'checkpoint'} at step {half}" in capsys.readouterr().err

    a, b = read_metrics(straight / "metrics.jsonl"), read_metrics(split / "metrics.jsonl")
    assert [r["step"] for r in b] == list(range(1, steps + 1))
    for ra, rb in zip(a, b):
        for key in ("loss", "lr", "momentum", "target_std", "grad_norm", "batch_sum"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-6, abs=1e-6), (ra["step"], key)
    assert a[-1]["loss"] < a[0]["loss"]  # it learns
    # Final weights (context encoder, EMA target, predictor) agree too.
    from safetensors.torch import load_file

    wa = load_file(str(straight / "checkpoint/objective.safetensors"))
    wb = load_file(str(split / "checkpoint/objective.safetensors"))
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=1e-5, atol=1e-6)


def test_outputs_are_loadable(world, tmp_path):
    from encoder import load_encoder
    from encoder.objective import load_objective

    out = pretrain(_cfg(world, "train.steps=3", "train.ckpt_every=2"), tmp_path / "run", progress=False)
    assert {"config.yaml", "metrics.jsonl", "curves.png", "checkpoint", "encoder", "objective"} <= {
        p.name for p in out.iterdir()
    }
    assert load_config(PretrainConfig, out / "config.yaml").model.vit.preset == "test"
    enc = load_encoder(str(out))
    obj, _, name = load_objective(out)
    assert name == "jepa"
    # The exported encoder is the EMA target of the saved objective.
    for (k, v), (_, t) in zip(enc.backbone.state_dict().items(), obj.target_encoder.state_dict().items()):
        assert torch.equal(v, t), k
    tokens = enc(torch.randn(1, 16, 3, 32, 32))
    assert tokens.shape == (1, 8 * 4 * 4, 32)
    rec = read_metrics(out / "metrics.jsonl")[-1]
    assert {"loss", "lr", "momentum", "target_std", "clips_per_s"} <= rec.keys() and rec["clips_per_s"] > 0


def test_mae_objective_and_changed_model_refused(world, tmp_path):
    out = pretrain(_cfg(world, "objective=mae", "train.steps=3"), tmp_path / "mae", progress=False)
    recs = read_metrics(out / "metrics.jsonl")
    assert len(recs) == 3 and recs[-1]["momentum"] is None
    from jepa_vqa.errors import UserError

    with pytest.raises(UserError, match="different 'objective'"):
        pretrain(_cfg(world, "objective=jepa", "train.steps=4"), out, progress=False)


def test_cli_pretrain_and_bad_input(world, tmp_path, capsys):
    code = cli_main(
        [
            "pretrain",
            "--config",
            str(TEST_YAML),
            "--out",
            str(tmp_path / "cli"),
            f"data.path={world}",
            *FAST,
            "train.steps=2",
        ]
    )
    assert code == 0 and (tmp_path / "cli/encoder/config.json").is_file()
    assert (
        cli_main(["pretrain", "--config", str(TEST_YAML), "--out", str(tmp_path / "x"), "train.stepz=2"]) == 2
    )
    assert "train.stepz" in capsys.readouterr().err
    code = cli_main(
        [
            "pretrain",
            "--config",
            str(TEST_YAML),
            "--out",
            str(tmp_path / "y"),
            f"data.path={tmp_path / 'missing'}",
        ]
    )
    assert code == 2


@pytest.mark.slow
def test_two_process_cpu_run(world, tmp_path, accelerate_two_cpus):
    """2 gloo ranks under accelerate (torchrun): in sync, different data, rank 0 writes."""
    out = tmp_path / "ddp"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        *accelerate_two_cpus,
        "-m",
        "encoder.pretrain",
        "--config",
        str(TEST_YAML),
        "--out",
        str(out),
        f"data.path={world}",
        *FAST,
        "train.steps=3",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-2000:]
    recs = read_metrics(out / "metrics.jsonl")
    assert [r["step"] for r in recs] == [1, 2, 3]  # one writer
    for r in recs:
        assert len(r["batch_sum"]) == 2 and r["batch_sum"][0] != r["batch_sum"][1]
    # The 2-rank global batch at step 1 is the 1-rank stream's steps 1 and 2.
    single = pretrain(_cfg(world, "train.steps=2"), tmp_path / "single", progress=False)
    one = read_metrics(single / "metrics.jsonl")
    assert recs[0]["batch_sum"] == pytest.approx([one[0]["batch_sum"][0], one[1]["batch_sum"][0]])


def test_bf16_autocast_trains_close_to_fp32(world, tmp_path):
    """precision=bf16 runs the step under autocast (losses differ from fp32) with fp32 weights."""
    runs = {}
    for precision in ("fp32", "bf16"):
        cfg = _cfg(world, "train.steps=3", f"train.precision={precision}")
        out = pretrain(cfg, tmp_path / precision, progress=False)
        runs[precision] = [r["loss"] for r in read_metrics(out / "metrics.jsonl")]
    assert runs["fp32"] != runs["bf16"]  # autocast really acted
    assert runs["bf16"] == pytest.approx(runs["fp32"], rel=0.05)
    vit = VisionTransformer.from_pretrained(tmp_path / "bf16" / "encoder")
    assert all(p.dtype == torch.float32 for p in vit.parameters())


def test_warns_when_the_exported_ema_target_stays_mostly_init(capsys):
    warn_stale_target(
        load_config(PretrainConfig, TEST_YAML, ["train.steps=300", "model.jepa.momentum=0.99925"])
    )
    assert "keeps 80% of its random init after 300 steps" in capsys.readouterr().err
    warn_stale_target(load_config(PretrainConfig, TEST_YAML, ["train.steps=300", "model.jepa.momentum=0.99"]))
    warn_stale_target(load_config(PretrainConfig, TEST_YAML, ["train.steps=300", "objective=mae"]))
    assert capsys.readouterr().err == ""
