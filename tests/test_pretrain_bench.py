"""`jepa-vqa bench pretrain` and `jepa-vqa embed` on the test preset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_pretrain_data import make_squares_world

from cli.main import main as cli_main
from encoder.bench import PHASES, bench_pretrain, format_report

ROOT = Path(__file__).resolve().parents[1]
TEST_YAML = str(ROOT / "configs/pretrain/test.yaml")


@pytest.fixture(autouse=True)
def _restore_threads():
    """bench_pretrain sets the torch thread count (tests ask for 1); put it back afterwards."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return make_squares_world(tmp_path_factory.mktemp("world"), num_clips=6, frames=16, size=32)


@pytest.mark.parametrize("objective", ["jepa", "mae"])
def test_bench_pretrain_reports_phases_and_flops(world, objective):
    r = bench_pretrain(
        TEST_YAML,
        [f"data.path={world}", f"objective={objective}", "train.batch_size=2"],
        steps=2,
        warmup=1,
        threads=1,
    )
    assert r["steps_timed"] == 2 and r["clips_per_s"] > 0 and r["threads"] == 1
    assert set(r["phase_ms"]) == set(PHASES)
    for phase in ("data", "context forward", "predictor", "backward", "optimizer+EMA"):
        assert r["phase_ms"][phase] > 0, phase
    assert (r["phase_ms"]["target forward"] > 0) == (objective == "jepa")
    assert sum(r["phase_ms"].values()) <= r["step_ms"] * 1.05
    assert r["flops_per_step"] > 1e6 and 0 < r["flops_fraction_of_matmul"] < 1
    assert r["peak_memory_mb"] > 10
    assert "clips/s" in format_report(r)


def test_cli_bench_and_embed(world, tmp_path, capsys):
    assert (
        cli_main(
            [
                "bench",
                "pretrain",
                "--config",
                TEST_YAML,
                "--steps",
                "1",
                "--warmup",
                "0",
                "--threads",
                "1",
                "--json",
                f"data.path={world}",
                "train.batch_size=2",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["steps_timed"] == 1
    video = str(next((world / "videos").glob("*.mp4")))
    assert cli_main(["embed", "--encoder", "random:test", video]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tokens"] == 8 * 4 * 4 and out["dim"] == 32 and out["seconds"] > 0
    assert cli_main(["embed", "--encoder", str(tmp_path / "nope"), video]) == 2
    assert "nope" in capsys.readouterr().err


def test_bench_pretrain_vs_steps_a_second_precision_in_the_same_run(world):
    r = bench_pretrain(
        TEST_YAML,
        [f"data.path={world}", "train.batch_size=2", "train.precision=bf16"],
        steps=2,
        warmup=0,
        threads=1,
        vs="fp32",
    )
    assert r["precision"] == "bf16" and r["vs"]["precision"] == "fp32"
    assert r["vs"]["clips_per_s"] > 0
    assert r["speedup_vs"] == pytest.approx(r["vs"]["step_ms"] / r["step_ms"])
    assert "vs fp32 in the same run" in format_report(r)
