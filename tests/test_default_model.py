"""The shipped default model: present, small, pickle-free, and it answers out of the box."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from vlm.model import default_model_path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = default_model_path()
pytestmark = pytest.mark.skipif(
    not (DEFAULT / "config.json").is_file(), reason="checkpoints/default not built"
)


def test_default_model_dir_is_small_and_pickle_free():
    files = [p for p in DEFAULT.rglob("*") if p.is_file()]
    assert (
        sum(p.stat().st_size for p in files) <= 64 * 2**20
    )  # encoder 22 MB + rank-16 LoRA 19 MB + projector with count tokens 13 MB + tokenizer
    assert not [p for p in files if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}]
    assert (DEFAULT / "encoder.safetensors").is_file() and (DEFAULT / "projector.safetensors").is_file()
    card = (DEFAULT / "README.md").read_text()
    assert "world-qa" in card and "blind" in card  # the results table with its controls
    assert json.loads((DEFAULT / "config.json").read_text())["llm"].startswith("embedded:")


@pytest.mark.slow
def test_ask_with_the_default_model_answers(capsys):
    clip = sorted((DEFAULT.parents[1] / "app" / "examples").glob("*.mp4"))[0]
    assert main(["ask", str(clip), "How many objects are in the video?", "--no-stream"]) == 0
    assert capsys.readouterr().out.strip()


def test_default_model_bundles_its_world_model_for_surprise_curves():
    import torch

    from encoder.surprise import surprise_curve
    from encoder.video import read_frames

    assert (DEFAULT / "world_model" / "predictor.safetensors").is_file()
    clip = sorted((DEFAULT.parents[1] / "app" / "examples").glob("*.mp4"))[0]
    curve = surprise_curve(str(DEFAULT), read_frames(clip, 16, 64))  # (S,)
    assert curve.ndim == 1 and len(curve) > 1 and torch.isfinite(curve).all()


# ----------------------------------------------------------------------------- moved elsewhere


@pytest.fixture(scope="module")
def moved(tmp_path_factory):
    """The default model dir copied out of the repo: it must not lean on its old path."""
    import shutil

    return Path(shutil.copytree(DEFAULT, tmp_path_factory.mktemp("moved") / "model"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A tiny world of a few clips (test split included), with two VoE pairs."""
    from jepa_vqa.config import load_config
    from worlds.config import WorldConfig
    from worlds.generate import generate_dataset

    overrides = ["num_clips=20", "voe.pairs=2", "workers=1"]
    cfg = load_config(WorldConfig, ROOT / "configs" / "world" / "tiny.yaml", overrides)
    return generate_dataset(cfg, tmp_path_factory.mktemp("world") / "world", progress=False)


@pytest.fixture()
def elsewhere(tmp_path, monkeypatch):
    """Run from an unrelated directory with no shipped model: nothing may resolve against the repo."""
    import vlm.model

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(vlm.model, "default_model_path", lambda: tmp_path / "not-built")


def test_moved_default_model_answers(moved, world, elsewhere, capsys):
    clip = next((world / "videos").rglob("*.mp4"))
    assert main(["ask", str(clip), "How many objects are there?", "--model", str(moved), "--no-stream"]) == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("task", ["world-qa", "world-voe"])
def test_moved_default_model_evaluates_on_a_tiny_world(moved, world, elsewhere, tmp_path, task):
    out = tmp_path / task
    args = ["eval", "--task", task, "--model", str(moved), "--data", str(world), "--out", str(out)]
    assert main([*args, "--limit", "2", "--no-controls", "--quiet", "batch_size=2"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == task and results["num_examples"] >= 1


def test_moved_default_model_draws_the_app_surprise_plot(moved, world, elsewhere):
    from app.config import AppConfig
    from app.handlers import Loaded, open_video, world_model_view
    from app.surprise_plot import EXPLANATION
    from vlm import VideoQAModel
    from vlm.world_model import world_model_spec

    model = VideoQAModel.from_pretrained(str(moved))
    spec = world_model_spec(model)
    assert spec == str(moved)  # its bundled world model, not a path into the repo
    loaded = open_video(model, str(next((world / "videos").rglob("*.mp4"))), 0.0, AppConfig())
    assert isinstance(loaded, Loaded)
    fig, caption = world_model_view(spec, loaded.clip)
    assert fig is not None and caption.startswith(EXPLANATION)
