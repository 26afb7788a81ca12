"""The shipped default model: present, small, pickle-free, and it answers out of the box."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from vlm.model import default_model_path

DEFAULT = default_model_path()
pytestmark = pytest.mark.skipif(
    not (DEFAULT / "config.json").is_file(), reason="checkpoints/default not built"
)


def test_default_model_dir_is_small_and_pickle_free():
    files = [p for p in DEFAULT.rglob("*") if p.is_file()]
    assert (
        sum(p.stat().st_size for p in files) <= 56 * 2**20
    )  # encoder 22 MB + rank-16 LoRA 19 MB + tokenizer
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
